"""The ingest planner: per-event results, per-customer limits and the record layout."""

from __future__ import annotations

from typing import Any

import orjson

from service.api.ingest import MAX_EVENTS_PER_KEY, MAX_RECORD_BYTES, plan_batch
from service.api.wire import FieldError
from service.stream.topics import Topics


def viewed(n: int, customer: str = "anna", **extra: Any) -> dict[str, Any]:
    return {"event_id": f"e-{n}", "type": "product.viewed", "occurred_at": "2026-12-03T18:00:00Z",
            "source": "app", "customer_id": customer, "product_id": f"p-{n}", **extra}


def plan(items: list[object], seen: set[str] | None = None, validate: Any = None) -> Any:
    return plan_batch([(i, None) for i in items], validate or (lambda item: []), Topics().route,
                      (seen or set()).__contains__, "2026-12-03T18:00:01.000Z")


def test_one_record_per_customer_with_received_at_stamped() -> None:
    batch = plan([viewed(1), viewed(2, "otto"), viewed(3)])
    assert [r["status"] for r in batch.results] == ["accepted"] * 3
    assert [(t, k, idx) for t, k, _, idx in batch.records] == [
        ("customer.events.v1", b"anna", [0, 2]), ("customer.events.v1", b"otto", [1])]
    first = orjson.loads(batch.records[0][2])
    assert [e["event_id"] for e in first] == ["e-1", "e-3"]
    assert {e["received_at"] for e in first} == {"2026-12-03T18:00:01.000Z"}


def test_more_events_for_one_customer_than_the_dedup_ring_are_rejected_not_dropped() -> None:
    batch = plan([viewed(n) for n in range(MAX_EVENTS_PER_KEY + 3)] + [viewed(9999, "otto")])
    statuses = [r["status"] for r in batch.results]
    assert statuses.count("accepted") == MAX_EVENTS_PER_KEY + 1
    assert statuses[MAX_EVENTS_PER_KEY:MAX_EVENTS_PER_KEY + 3] == ["rejected"] * 3
    assert batch.results[MAX_EVENTS_PER_KEY]["errors"][0]["reason"].startswith("more than 500 events for one")


def test_records_stay_under_the_size_bound() -> None:
    big = [viewed(n, description="x" * 3000) for n in range(200)]
    batch = plan([{**e, "type": "product.viewed"} for e in big])
    assert len(batch.records) == 3
    assert all(len(value) <= MAX_RECORD_BYTES for _, _, value, _ in batch.records)
    assert sorted(i for *_, idx in batch.records for i in idx) == list(range(200))


def test_duplicates_are_per_key_within_the_batch_and_against_recent_ids() -> None:
    recent = {"customer.events.v1\x00anna\x00e-1"}
    batch = plan([viewed(1), viewed(2), viewed(2), viewed(1, "otto")], seen=recent)
    assert [r["status"] for r in batch.results] == ["duplicate", "accepted", "duplicate", "accepted"]


def test_rejections_echo_only_valid_ids_and_cap_errors() -> None:
    many = [FieldError(f"/f{i}", "unknown field") for i in range(150)]
    batch = plan([{"event_id": "x" * 129}, {"event_id": "ok"}, {"event_id": "o*\x0f©h"}, {"event_id": " padded"}],
                 validate=lambda item: many)
    assert "event_id" not in batch.results[0]
    assert batch.results[1]["event_id"] == "ok"
    # an id the schema refuses is not echoed either (the response schema holds event_id to it)
    assert ["event_id" in r for r in batch.results[2:]] == [False, False]
    errors = batch.results[1]["errors"]
    assert len(errors) == 20
    assert errors[-1] == {"pointer": "", "reason": "and 131 more problems"}
