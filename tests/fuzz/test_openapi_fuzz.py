"""Schemathesis against a real Kairos process: every operation of schemas/openapi.yaml, fuzzed.

Each operation gets the examples, coverage and fuzzing phases, positive and negative data, and
every built-in response check (no 5xx, documented status codes, content types, headers and
bodies that match the spec). The number of examples is bounded and generation is derandomized
with a fixed seed, so CI runs the same requests every time; KAIROS_FUZZ_EXAMPLES and
KAIROS_FUZZ_SEED widen or move the search when hunting locally.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import schemathesis
from schemathesis import Case

from tests.integration.harness import TEST_API_KEY, Kairos, assert_schema

SPEC = Path(__file__).resolve().parents[2] / "schemas" / "openapi.yaml"
MAX_EXAMPLES = int(os.environ.get("KAIROS_FUZZ_EXAMPLES", "25"))
SEED = int(os.environ.get("KAIROS_FUZZ_SEED", "20261203"))

CONFIG = schemathesis.config.SchemathesisConfig.from_dict({
    "seed": SEED,
    # Auth is sent with every request (below); generated Authorization headers would only buy 401s.
    "generation": {"max-examples": MAX_EXAMPLES, "deterministic": True, "database": "none",
                   "with-security-parameters": False},
    "operations": [
        # One bad event never rejects its neighbours: a batch holding invalid events is a 202
        # with per-event rejections, by design. What the server does with each event is checked
        # in the test below instead.
        {"include-operation-id": "postEvents", "checks": {"negative_data_rejection": {"enabled": False}}},
        # Whether an advance is possible depends on where the clock is (it must stay within the
        # years 0001..9999), which a schema cannot say; the 400 for it is documented.
        {"include-operation-id": "postClock", "checks": {"positive_data_acceptance": {"enabled": False}}},
        # Webhooks authenticate by the provider's signature, which generated requests cannot carry:
        # every one is a documented 401 or 404 (not configured); the real payloads are tested in
        # tests/integration/test_webhooks.py.
        {"include-operation-id": "postWebhook", "checks": {"positive_data_acceptance": {"enabled": False}}},
        {"include-operation-id": "optionsWebhook", "checks": {"positive_data_acceptance": {"enabled": False}}},
    ],
})

schema = schemathesis.openapi.from_path(SPEC, config=CONFIG)


@schemathesis.serializer("application/x-ndjson")
def ndjson(ctx: schemathesis.SerializationContext, value: object) -> bytes:
    # The spec types an NDJSON body as one string; negative cases may draw any JSON value instead.
    return (value if isinstance(value, str) else json.dumps(value)).encode("utf-8", "surrogatepass")


@schema.parametrize()
def test_every_operation_answers_per_the_spec(case: Case, fuzz_kairos: Kairos) -> None:
    response = case.call_and_validate(base_url=fuzz_kairos.url, timeout=15,
                                      headers={"Authorization": f"Bearer {TEST_API_KEY}"})
    if case.operation.label == "POST /v1/events" and response.status_code == 202:
        check_ingest_results(case, response.json())


def check_ingest_results(case: Case, body: dict[str, Any]) -> None:
    """One result per submitted event, in order, and only schema-valid events accepted."""
    if case.media_type == "application/json":
        assert isinstance(case.body, list)
        events: list[object] = list(case.body)
    else:
        text = case.body if isinstance(case.body, str) else json.dumps(case.body)
        # The server skips lines that are blank in ASCII terms (bytes.strip), as here.
        events = [line for line in text.split("\n") if line.strip(" \t\r\x0b\x0c")]
    results = body["results"]
    assert [r["index"] for r in results] == list(range(len(events)))
    counts = {status: sum(r["status"] == status for r in results) for status in ("accepted", "duplicate", "rejected")}
    assert (body["accepted"], body["duplicates"], body["rejected"]) == (
        counts["accepted"], counts["duplicate"], counts["rejected"])
    for result in results:
        if result["status"] == "accepted":
            event = events[result["index"]]
            if isinstance(event, str):
                event = json.loads(event)
            assert_schema("event.schema.json", event)
        elif result["status"] == "rejected":
            assert result["errors"], result
