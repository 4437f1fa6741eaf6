"""API keys on a real Kairos: every route but the probes needs a key with the route's scope, each
key has its own rate limit, a bad keys file stops the start, and without a keys file Kairos makes
a development key instead of running open."""

from __future__ import annotations

import json
import re
import stat
import uuid
from pathlib import Path

from tests.integration.conftest import kairos_env
from tests.integration.harness import (
    TEST_API_KEY,
    BrokerProcess,
    Kairos,
    assert_schema,
    eventually,
    http,
    key_entry,
    metric_value,
    write_keys_file,
)

INGEST_ONLY = "kairos_ingest-only_Q9wV0yBz7cXfTn2LkR5sPd8mHj3gAe6uYo1iWq4tZxS"
TINY = "kairos_tiny_M4nB7vC2xZ9lK6jH3gF8dS5aP1oI0uY7tR4eW2qA9zX"
OPS = "kairos_ops_L0kJ9hG8fD7sA6pO5iU4yT3rE2wQ1mN0bV9cX8zL7k"


def event(customer: str) -> dict[str, str]:
    return {"event_id": f"e-{uuid.uuid4().hex[:8]}", "type": "product.viewed", "occurred_at": "2026-12-03T18:00:00Z",
            "source": "app", "customer_id": customer, "product_id": "p-1"}


def decision_body(customer: str) -> bytes:
    return json.dumps({"customer_id": customer, "placement": "app.home",
                       "device": {"id": "d-1", "type": "phone"}}).encode()


def protected_requests(url: str) -> list[tuple[str, str, bytes | None]]:
    return [("POST", url + "/v1/events", json.dumps([event("anna")]).encode()),
            ("POST", url + "/v1/decisions", decision_body("anna")),
            ("GET", url + "/metrics", None),
            ("GET", url + "/admin/customers/x/state", None)]


def test_no_key_or_a_wrong_key_is_refused_and_probes_are_open(shared_kairos: Kairos) -> None:
    url = shared_kairos.url
    before = shared_kairos.metrics()
    wrong_keys = ["kairos_tests_" + "x" * 43, "kairos_nobody_" + "y" * 43, "not-a-key"]
    for method, target, body in protected_requests(url):
        missing = http(method, target, body, api_key=None)
        assert missing.status == 401, (target, missing.body)
        assert missing.headers["WWW-Authenticate"] == 'Bearer realm="kairos"'
        assert missing.json()["error"]["code"] == "unauthorized"
        assert_schema("error.schema.json", missing.json())
        basic = http(method, target, body, api_key=None, headers={"Authorization": "Basic dXNlcjpwYXNz"})
        assert basic.status == 401
        for wrong in wrong_keys:
            res = http(method, target, body, api_key=wrong)
            assert res.status == 401, (target, wrong)
            assert res.headers["WWW-Authenticate"] == 'Bearer realm="kairos", error="invalid_token"'
            assert res.json()["error"] == {"code": "unauthorized", "message": "the API key is not valid"}
    for probe in ("/healthz", "/readyz"):
        assert http("GET", url + probe, api_key=None).status == 200
    # An unknown route is a 404 with or without a key.
    assert http("GET", url + "/v1/nothing", api_key=None).status == 404
    assert http("GET", url + "/v1/nothing").status == 404
    after = shared_kairos.metrics()
    for reason, count in (("missing", 8), ("invalid", 12)):
        assert (metric_value(after, "kairos_auth_failures_total", reason=reason)
                - metric_value(before, "kairos_auth_failures_total", reason=reason)) == count
    log = shared_kairos.log(tail=None)
    assert TEST_API_KEY not in log and wrong_keys[0] not in log  # keys are never logged


def test_scopes_and_per_key_rate_limits(broker: BrokerProcess, namespace: str, tmp_path: Path) -> None:
    keys_file = write_keys_file(tmp_path / "keys.json", [
        key_entry(INGEST_ONLY, ["ingest"]),
        key_entry(TINY, ["metrics", "decide"], rate_per_s=2, burst=2),
        key_entry(OPS, ["admin", "metrics"]),
    ])
    env = kairos_env(broker, namespace, KAIROS_DEMO_CATALOG="false", KAIROS_API_KEYS_FILE=str(keys_file))
    worker = Kairos(data_dir=tmp_path / "data", env=env, api_key=OPS).start()
    try:
        url = worker.url
        # The harness's own test key is not in this file.
        assert http("GET", url + "/metrics").status == 401
        ingested = http("POST", url + "/v1/events", json.dumps([event("bea")]).encode(), api_key=INGEST_ONLY)
        assert ingested.status == 202 and ingested.json()["accepted"] == 1
        # Reference data (here a product) needs the reference scope: that event alone is rejected.
        product = {"event_id": "p-evil", "type": "product.upserted", "occurred_at": "2026-12-03T18:00:00Z",
                   "source": "x", "product_id": "p-1", "name": "FREE - visit evil.example", "category": "apparel",
                   "price": 1, "currency": "GBP", "promoted": True}
        mixed = http("POST", url + "/v1/events", json.dumps([product, event("bea")]).encode(),
                     api_key=INGEST_ONLY)
        assert mixed.status == 202
        assert [r["status"] for r in mixed.json()["results"]] == ["rejected", "accepted"]
        assert mixed.json()["results"][0]["errors"] == [{
            "pointer": "/type", "reason": "the API key 'ingest-only' may not send reference data (product.upserted): "
            "that needs the 'reference' scope"}]
        # Header bytes that are not UTF-8 are an invalid key, not a server error.
        garbled = http("POST", url + "/v1/events", b"[]", headers={"Authorization": "Bearer \xff\xfe"})
        assert garbled.status == 401 and garbled.json()["error"]["code"] == "unauthorized"
        forbidden = http("POST", url + "/v1/decisions", decision_body("bea"), api_key=INGEST_ONLY)
        assert forbidden.status == 403
        assert forbidden.json()["error"] == {
            "code": "forbidden",
            "message": "the API key 'ingest-only' does not have the 'decide' scope this route needs"}
        assert forbidden.headers["WWW-Authenticate"] == (
            'Bearer realm="kairos", error="insufficient_scope", scope="decide"')
        assert_schema("error.schema.json", forbidden.json())
        assert http("GET", url + "/admin/customers/bea/state", api_key=INGEST_ONLY).status == 403
        assert eventually(lambda: (s := worker.state("bea")) and s["events_applied"] == 2 and s)  # OPS has admin

        statuses = [http("GET", url + "/metrics", api_key=TINY) for _ in range(3)]
        assert [r.status for r in statuses] == [200, 200, 429]
        limited = statuses[2]
        assert re.fullmatch(r"[1-9][0-9]*", limited.headers["Retry-After"])
        assert limited.headers["Retry-After"] == "1"
        assert limited.json()["error"]["code"] == "rate_limited"
        assert limited.json()["error"]["details"] == {"retry_after_s": 1}
        assert_schema("error.schema.json", limited.json())
        # Other keys have buckets of their own; the probes none at all.
        assert http("GET", url + "/metrics", api_key=OPS).status == 200
        assert http("GET", url + "/healthz", api_key=None).status == 200
        # After the Retry-After, the key works again.
        eventually(lambda: http("POST", url + "/v1/decisions", decision_body("bea"), api_key=TINY).status == 200,
                   timeout_s=3, interval_s=0.2)
        text = worker.metrics()
        assert metric_value(text, "kairos_auth_failures_total", reason="forbidden") == 2
        assert metric_value(text, "kairos_auth_failures_total", reason="rate_limited") >= 1
        assert metric_value(text, "kairos_auth_failures_total", reason="missing") == 0
        assert metric_value(text, "kairos_auth_failures_total", reason="invalid") == 2
    finally:
        assert worker.stop() == 0


def test_a_bad_keys_file_stops_the_start_with_a_clear_error(tmp_path: Path) -> None:
    keys_file = write_keys_file(tmp_path / "keys.json", [key_entry(OPS, ["admin", "write"])])
    worker = Kairos(data_dir=tmp_path / "data", env={"KAIROS_API_KEYS_FILE": str(keys_file),
                                                     "KAIROS_DEMO_CATALOG": "false"}).start(wait_ready=False)
    assert worker.proc is not None
    try:
        assert worker.proc.wait(30) == 1
    finally:
        if worker.proc.poll() is None:  # it started after all: stop it (and its embedded broker)
            worker.stop()
    known = "admin, decide, ingest, metrics, reference"
    assert f"{keys_file}: keys[0]: unknown scope 'write' (known: {known})" in worker.log()
    assert "Traceback" not in worker.log()


def test_without_a_keys_file_a_development_key_is_made(broker: BrokerProcess, namespace: str,
                                                       tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    env = kairos_env(broker, namespace, KAIROS_DEMO_CATALOG="false", KAIROS_API_KEYS_FILE="", KAIROS_DEMO="true")
    worker = Kairos(data_dir=data_dir, env=env).start()
    try:
        key_file = data_dir / "dev-api-key"
        key = key_file.read_text().strip()
        assert re.fullmatch(r"kairos_dev_[A-Za-z0-9_-]{43}", key)
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        assert (f"Development API key (all scopes): {key}  — set KAIROS_API_KEYS_FILE for production"
                in worker.log(tail=None))
        url = worker.url
        assert http("GET", url + "/metrics", api_key=None).status == 401
        assert http("GET", url + "/metrics").status == 401  # the harness's key is not trusted here
        worker.api_key = key
        assert worker.post_events([event("cleo")]).status == 202
        assert worker.decide("cleo")["customer_id"] == "cleo"
        assert eventually(lambda: worker.state("cleo"))["events_applied"] == 1
        assert "kairos_ready 1.0" in worker.metrics()
    finally:
        assert worker.stop() == 0


def test_without_keys_file_or_demo_kairos_refuses_to_run_open(tmp_path: Path) -> None:
    worker = Kairos(data_dir=tmp_path / "data", env={"KAIROS_API_KEYS_FILE": "",
                                                     "KAIROS_DEMO_CATALOG": "false"}).start(wait_ready=False)
    assert worker.proc is not None
    try:
        assert worker.proc.wait(30) == 1
    finally:
        if worker.proc.poll() is None:
            worker.stop()
    assert "no API keys: set KAIROS_API_KEYS_FILE to a keys file" in worker.log()
    assert "or run `kairos serve --demo` for a development key" in worker.log()
    assert not (tmp_path / "data" / "dev-api-key").exists()
