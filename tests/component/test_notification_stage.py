"""The record applier with the notification stage, on in-memory tables: a record sets off a push
whose state write waits for the topic; a redelivered record sends nothing; a held message goes
out on its due record; consent withdrawal, erasure, restocks and shown incentives — exactly."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
import pytest
from prometheus_client import CollectorRegistry

from service.api.validation import EventValidator
from service.bootstrap import schema_dir
from service.core.state import StateConfig, decode_state
from service.core.timeutil import format_rfc3339_ms, parse_rfc3339_ms
from service.stream.erasure import ERASE, HEADER_CONTROL, control_record
from service.stream.notifications import NOTIFY_CONTROL, NotificationStage, due_record, restock_record
from service.stream.processor import RecordApplier
from service.stream.trigger_index import decode_entry
from service.telemetry.metrics import build_metrics
from service.telemetry.notify_metrics import build_notify_metrics
from tests.component.test_record_applier import Event, Message
from tests.integration.harness import metric_value
from tests.unit.decide_fixtures import POLICY, make_ref
from tests.unit.situations.builders import STORE, offset

MIN = 60_000
STREET = parse_rfc3339_ms("2026-12-03T17:30:00Z")
LATE = parse_rfc3339_ms("2026-12-03T21:30:00Z")
EIGHT = parse_rfc3339_ms("2026-12-04T08:00:00Z")
CONTROL = [(HEADER_CONTROL, NOTIFY_CONTROL)]




@dataclass
class World:
    table: dict[bytes, bytes]
    index: dict[bytes, bytes]
    stage: NotificationStage
    app: RecordApplier
    registry: CollectorRegistry
    now: list[int]
    offset: int = 0

    def send(self, value: object, headers: list[tuple[str, bytes]] | None = None, offset: int | None = None,
             topic: str = "customer.events.v1") -> list[dict[str, Any]]:
        if offset is None:
            self.offset += 1
            offset = self.offset
        raw = value if isinstance(value, bytes) else orjson.dumps(value)
        event = Event(Message(raw, offset=offset, headers=headers or [], topic=topic, timestamp=self.now[0] / 1000))
        if topic == "kairos.decisions.v1":
            self.app.apply_decision(event)  # type: ignore[arg-type]
            return []
        assert self.app.apply_record(event) == []  # type: ignore[arg-type]
        notes = self.app.take_notifications()
        self.app.commit_held()
        return notes

    def state(self) -> dict[str, Any]:
        return decode_state(self.table[b"anna"])

    def funnel(self, kind: str, stage: str) -> float:
        from prometheus_client import generate_latest

        return metric_value(generate_latest(self.registry).decode(), "kairos_trigger_funnel_total", kind=kind,
                            stage=stage)


@pytest.fixture(scope="module")
def validator() -> EventValidator:
    return EventValidator.from_directory(schema_dir())


@pytest.fixture
def world(validator: EventValidator) -> World:
    registry = CollectorRegistry()
    main = build_metrics(registry)
    now = [STREET]
    stage = NotificationStage(make_ref(), lambda: POLICY, build_notify_metrics(registry, main.trigger_funnel), 50)
    index: dict[bytes, bytes] = {}
    stage.attach(index, lambda: {3})
    table: dict[bytes, bytes] = {}
    app = RecordApplier(table, main, validator, lambda: now[0], StateConfig(), 300, {},
                        None, stage)
    return World(table, index, stage, app, registry, now)


def ev(kind: str, t: int, **fields: Any) -> dict[str, Any]:
    return {"event_id": f"{kind}@{t}", "type": kind, "occurred_at": format_rfc3339_ms(t), "source": "test",
            "customer_id": "anna", **fields}


def profile(t: int, **consent: bool) -> dict[str, Any]:
    return ev("profile.updated", t, locale="en-GB", time_zone="Europe/London", sizes={"apparel": "M"},
              consent=consent or {"push": True, "email": True})


def near(t: int) -> dict[str, Any]:
    return ev("location.updated", t, location=offset(STORE, 250, 0), accuracy_m=10)


def test_a_push_is_written_before_the_state_that_records_it(world: World) -> None:
    world.send([profile(STREET - 60 * MIN), ev("wishlist.added", STREET - 30 * MIN, product_id="coat")])
    assert decode_entry(world.index[b"anna"]) == {"p": 3, "w": ["coat"], "d": None}
    before = world.table[b"anna"]
    assert world.app.apply_record(Event(Message(orjson.dumps([near(STREET)]), offset=9, timestamp=STREET / 1000))) == []  # type: ignore[arg-type]
    assert world.table[b"anna"] == before  # held until the notifications are on the topic
    [push] = world.app.take_notifications()
    world.app.commit_held()
    assert push["body"] == "Coat is in stock in your size at London, 250 m away."
    state = world.state()
    assert state["contacts"][0][:5] == ["s", STREET, push["notification_id"], "push", "wishlist_nearby"]
    assert state["source_offset"] == [3, 9]
    # Redelivered after a crash (faust re-reads from its last commit): nothing is sent again.
    assert world.send([near(STREET)], offset=9) == []
    # The record processed again on a state that never got written: the very same notification.
    world.table[b"anna"] = before
    [again] = world.send([near(STREET)], offset=9)
    assert again == push
    assert world.funnel("wishlist_item_near_store", "sent") == 2.0


def test_a_held_email_goes_out_on_its_due_record_and_leaves_the_index(world: World) -> None:
    world.now[0] = LATE
    world.send([profile(LATE - 60 * MIN)])
    assert world.send([ev("loyalty.updated", LATE, points=920, tier="silver", next_tier="gold",
                          next_tier_threshold=1000)]) == []
    assert decode_entry(world.index[b"anna"]) == {"p": 3, "w": [], "d": EIGHT}
    assert world.stage.index.pop_due(EIGHT - 1) == []
    assert world.stage.index.pop_due(EIGHT) == [(b"anna", EIGHT)]
    assert world.send(due_record("anna", EIGHT), CONTROL) == []  # early: the clock is not there yet
    world.now[0] = EIGHT
    [email] = world.send(due_record("anna", EIGHT), CONTROL)
    assert (email["trigger"], email["not_before"], email["channel"]) == (
        "loyalty_close", "2026-12-04T08:00:00.000Z", "email")
    assert b"anna" not in world.index  # nothing held, nothing wished: no entry
    assert world.send(due_record("anna", EIGHT), CONTROL) == []  # a second due record: nothing
    assert world.funnel("loyalty_close", "deferred") == world.funnel("loyalty_close", "sent") == 1.0


def test_withdrawing_consent_stops_the_held_email(world: World) -> None:
    world.now[0] = LATE
    world.send([profile(LATE - 60 * MIN), ev("loyalty.updated", LATE, points=920, tier="silver",
                                             next_tier="gold", next_tier_threshold=1000)])
    world.now[0] = LATE + MIN
    assert world.send([profile(LATE + MIN, push=True, email=False)]) == []
    assert world.state()["notify"]["pending"] == []
    assert world.state()["notify"]["log"][0][4:] == ["suppressed", "consent_withdrawn"]
    world.now[0] = EIGHT
    assert world.send(due_record("anna", EIGHT), CONTROL) == []
    assert world.funnel("loyalty_close", "suppressed") == 1.0


def test_erasure_cancels_her_held_messages(world: World) -> None:
    world.now[0] = LATE
    world.send([profile(LATE - 60 * MIN), ev("loyalty.updated", LATE, points=920, tier="silver",
                                             next_tier="gold", next_tier_threshold=1000)])
    world.send(control_record("anna", LATE + MIN, "req-1"), [(HEADER_CONTROL, ERASE)])
    assert world.table == {} and world.index == {} and world.stage.index.held == 0
    world.now[0] = EIGHT
    assert world.send(due_record("anna", EIGHT), CONTROL) == []
    assert world.table == {}  # a due record never brings her back
    assert world.funnel("loyalty_close", "suppressed") == 1.0


def test_a_restock_routed_to_her_sends_back_in_stock(world: World) -> None:
    world.send([profile(STREET - 60 * MIN), ev("wishlist.added", STREET - 30 * MIN, product_id="coat")])
    stock = {"event_id": "stock-1", "product_id": "coat", "store_id": "online", "size": "M", "quantity": 4,
             "occurred_at": format_rfc3339_ms(STREET)}
    [push] = world.send(restock_record("anna", stock), CONTROL)
    assert (push["trigger"], push["body"], push["data"]["quantity"]) == ("back_in_stock",
                                                                         "Coat is back in your size.", 4)
    assert world.send(restock_record("anna", {**stock, "event_id": "stock-2"}), CONTROL) == []  # same key
    other = {**stock, "event_id": "stock-3", "product_id": "scarf", "size": ""}
    mislabelled = world.app.apply_record(Event(Message(restock_record("bert", other), offset=50,  # type: ignore[arg-type]
                                                       headers=CONTROL, timestamp=world.now[0] / 1000)))
    assert [orjson.loads(d)["reason"] for d in mislabelled] == ["customer_id differs from the record key"]


def test_a_shown_incentive_counts_once_even_while_her_state_is_held(world: World) -> None:
    world.send([profile(STREET - 60 * MIN), ev("wishlist.added", STREET - 30 * MIN, product_id="coat")])
    record = {"v": 1, "decision": {"decision_id": "0b7e7a8e-8d4c-4c4e-9a55-3f1d2c3b4a5e",
                                   "decided_at": format_rfc3339_ms(STREET), "incentive": {"id": "free_alteration"}}}
    # A push is on its way (state held) when her decision record is counted: both are kept.
    world.app.apply_record(Event(Message(orjson.dumps([near(STREET)]), offset=20, timestamp=STREET / 1000)))  # type: ignore[arg-type]
    world.send(record, topic="kairos.decisions.v1")
    world.send(record, topic="kairos.decisions.v1")  # redelivered
    assert len(world.app.take_notifications()) == 1
    world.app.commit_held()
    rows = [r[:5] for r in world.state()["contacts"] if r[0] == "s"]
    assert sorted(r[3] for r in rows) == ["push", "screen"]
    assert ["s", STREET, "0b7e7a8e-8d4c-4c4e-9a55-3f1d2c3b4a5e", "screen", "free_alteration"] in rows
    world.send({"v": 1, "decision": {"incentive": None}}, topic="kairos.decisions.v1")
    world.send(b"not json", topic="kairos.decisions.v1")
    assert len([r for r in world.state()["contacts"] if r[0] == "s"]) == 2


def test_the_index_is_rebuilt_from_the_table_for_owned_partitions(world: World) -> None:
    import asyncio

    world.index[b"bert"] = orjson.dumps({"p": 5, "w": ["coat"], "d": None})  # another worker's partition
    world.send([profile(STREET - 60 * MIN), ev("wishlist.added", STREET - 30 * MIN, product_id="coat")])
    world.stage.index.update(b"anna", None)
    asyncio.run(world.stage.rebuild_index())
    assert world.stage.index.wishing("coat") == [b"anna"]
    world.stage.attach(world.index, lambda: {3, 5})
    asyncio.run(world.stage.rebuild_index())
    assert world.stage.index.wishing("coat") == [b"anna", b"bert"]
