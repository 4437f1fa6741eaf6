"""The stream's record applier never raises, never loses good events next to bad ones, and
skips a redelivered record whole — found by an adversarial review (records that crashed the
agent let faust commit past accepted events; >512 redelivered events were counted twice)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest

from service.api.validation import EventValidator
from service.bootstrap import schema_dir
from service.core.state import StateConfig, decode_state
from service.stream.erasure import ERASE, HEADER_CONTROL, control_record, erasure_key
from service.stream.processor import DEAD_LETTER_ORIGINAL_CHARS, RecordApplier
from service.telemetry.metrics import build_metrics

NOW_MS = 1_796_400_000_000  # 2026-12-04T16:00:00Z


@dataclass
class Message:
    value: bytes | None
    key: bytes | None = b"anna"
    offset: int = 0
    partition: int = 3
    topic: str = "customer.events.v1"
    timestamp: float = NOW_MS / 1000
    headers: list[tuple[str, bytes]] = field(default_factory=list)


@dataclass
class Event:
    message: Message


@pytest.fixture(scope="module")
def validator() -> EventValidator:
    return EventValidator.from_directory(schema_dir())


def applier(table: dict[bytes, bytes], validator: EventValidator,
            erasures: dict[bytes, bytes] | None = None) -> RecordApplier:
    return RecordApplier(table, build_metrics(), validator, lambda: NOW_MS, StateConfig(), 300,
                         {} if erasures is None else erasures)


def viewed(n: int, customer: str = "anna") -> dict[str, Any]:
    return {"event_id": f"{customer}-{n}", "type": "product.viewed", "occurred_at": "2026-12-03T18:00:00Z",
            "source": "app", "customer_id": customer, "product_id": f"p-{n}"}


def nested(depth: int) -> bytes:
    """JSON text nested `depth` levels deep (deeper than any encoder will write)."""
    return b'{"x":' * depth + b"{}" + b"}" * depth


def apply(app: RecordApplier, value: object, **kw: Any) -> list[dict[str, Any]]:
    raw = value if isinstance(value, bytes) else orjson.dumps(value)
    return [orjson.loads(d) for d in app.apply_record(Event(Message(raw, **kw)))]  # type: ignore[arg-type]


def test_bad_items_are_dead_lettered_and_good_neighbours_applied(validator: EventValidator) -> None:
    table: dict[bytes, bytes] = {}
    app = applier(table, validator)
    session = {**viewed(2), "type": "session.ended", "session_id": "s", "device": {"id": "d", "type": "phone"},
               "outcome": "abandoned", "screen_state": {}}
    deep = orjson.dumps(session)[:-3] + nested(300) + b"}"
    spoofed = [(b"kairos-ingest", b"1")]  # any producer can set the ingest header
    parts = [orjson.dumps(viewed(1)), deep, b"5", orjson.dumps({**viewed(4), "occurred_at": "garbage"}),
             orjson.dumps(viewed(5))]
    dead = apply(app, b"[" + b",".join(parts) + b"]", headers=spoofed)
    too_deep = "/screen_state" + "/x" * 31  # the event root is level 0, so level 32 is 31 below screen_state
    assert [d["reason"] for d in dead] == [
        f"{too_deep}: nested more than 32 levels deep; flatten this value", "event must be a JSON object",
        "/occurred_at: occurred_at must be an RFC 3339 timestamp with an offset (Z or ±hh:mm), e.g. "
        "2025-03-14T17:42:05Z"]
    state = decode_state(table[b"anna"])
    assert state["events_applied"] == 2
    assert [v[0] for v in state["views"]] == ["p-5", "p-1"]


def test_redelivered_record_is_skipped_whole_even_beyond_the_id_ring(validator: EventValidator) -> None:
    table: dict[bytes, bytes] = {}
    app = applier(table, validator)
    record = [viewed(n) for n in range(600)]  # more events than the 512-id ring holds
    apply(app, record, offset=41)
    assert decode_state(table[b"anna"])["events_applied"] == 600
    apply(app, record, offset=41)  # faust re-reads from the last commit after a crash
    apply(app, [viewed(0)], offset=40)  # an older record of the same partition
    state = decode_state(table[b"anna"])
    assert state["events_applied"] == 600
    assert state["source_offset"] == [3, 41]
    apply(app, [viewed(600)], offset=42)
    assert decode_state(table[b"anna"])["events_applied"] == 601


def test_unreadable_things_become_bounded_dead_letters(validator: EventValidator) -> None:
    table: dict[bytes, bytes] = {}
    app = applier(table, validator)
    dead = apply(app, b"\x01" * 200_000)
    assert dead[0]["reason"] == "record is not JSON"
    assert dead[0]["truncated"] is True and dead[0]["original_chars"] == 200_000
    assert len(orjson.dumps(dead[0])) < 8 * DEAD_LETTER_ORIGINAL_CHARS
    assert apply(app, orjson.dumps(viewed(1)), key=None)[0]["reason"] == "record has no key (customer id)"
    assert apply(app, b"[" + nested(1000) + b"]")[0]["original_chars"] > 1000  # too deep to parse: dead letter
    assert table == {}


def test_state_from_a_newer_build_is_not_overwritten(validator: EventValidator) -> None:
    newer = orjson.dumps({"v": 99, "customer_id": "anna"})
    table = {b"anna": newer}
    dead = apply(applier(table, validator), [viewed(1)])
    assert dead[0]["reason"].startswith("state record cannot be read by this version")
    assert table[b"anna"] == newer


def test_erasure_deletes_state_and_keeps_older_events_out(validator: EventValidator) -> None:
    table: dict[bytes, bytes] = {}
    erasures: dict[bytes, bytes] = {}
    app = applier(table, validator, erasures)
    apply(app, [viewed(1), viewed(2)], offset=1)
    assert b"anna" in table
    erase = control_record("anna", NOW_MS, "req-1")
    assert apply(app, erase, offset=2, headers=[(HEADER_CONTROL, ERASE)]) == []
    assert table == {}
    assert erasures == {erasure_key(b"anna"): str(NOW_MS).encode()}
    assert b"anna" not in erasures  # the marker does not hold her id
    # Her old events, re-consumed (replay, new consumer group, late upload), stay out.
    apply(app, [viewed(1), viewed(3)], offset=1)
    apply(app, [viewed(4)], offset=3)
    assert table == {}
    # What happens after the erasure starts a new customer.
    later = {**viewed(5), "occurred_at": "2026-12-04T16:01:00Z"}
    assert apply(app, [later], offset=4) == []
    state = decode_state(table[b"anna"])
    assert (state["events_applied"], [v[0] for v in state["views"]]) == (1, ["p-5"])


def test_the_control_header_alone_or_the_type_alone_erases_nothing(validator: EventValidator) -> None:
    table: dict[bytes, bytes] = {}
    app = applier(table, validator)
    apply(app, [viewed(1)], offset=1)
    apply(app, [viewed(2)], offset=2, headers=[(HEADER_CONTROL, ERASE)])
    dead = apply(app, control_record("anna", NOW_MS, "req-1"), offset=3)
    assert dead[0]["reason"].startswith("/type: unknown event type 'customer.erased'")
    assert decode_state(table[b"anna"])["events_applied"] == 2
