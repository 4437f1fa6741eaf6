"""Server-side geofencing on the stream: the demo walk applied through the record applier gives
one geofence entry in her state, written back once; a redelivered position derives nothing more."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
from prometheus_client import CollectorRegistry

from service.api.validation import EventValidator
from service.bootstrap import schema_dir
from service.core.geofencing import GeofencingConfig
from service.core.reference import ReferenceData, apply_reference_event
from service.core.state import StateConfig, decode_state
from service.loaders.routes import route_positions, walk_events
from service.stream.geofencing_stage import GeofencingStage
from service.stream.processor import RecordApplier
from service.telemetry.input_metrics import build_input_metrics
from service.telemetry.metrics import build_metrics
from tests.component.test_record_applier import Event, Message

ROOT = Path(__file__).resolve().parents[2]
NOW_MS = 1_796_400_000_000  # 2026-12-04T16:00:00Z


def london() -> dict[str, Any]:
    line = (ROOT / "service/data/demo_catalog.ndjson").read_text().splitlines()[0]
    store: dict[str, Any] = json.loads(line)
    return store


def setup() -> tuple[RecordApplier, dict[bytes, bytes], Any]:
    reference = ReferenceData()
    assert apply_reference_event(reference, london())
    registry = CollectorRegistry()
    inputs = build_input_metrics(registry)
    stage = GeofencingStage(reference, GeofencingConfig(), inputs)
    table: dict[bytes, bytes] = {}
    applier = RecordApplier(table, build_metrics(registry), EventValidator.from_directory(schema_dir()),
                            lambda: NOW_MS, StateConfig(), 300, {}, stage)
    return applier, table, inputs


def walk() -> list[dict[str, Any]]:
    path = ROOT / "tests/data/locations/retail_demo_store_customer_route.json"
    route = route_positions(json.loads(path.read_text()))
    return walk_events(route, "anna", NOW_MS - 13 * 20_000, 20_000)


def test_the_walk_gives_one_entry_written_back_once_and_none_on_redelivery() -> None:
    applier, table, inputs = setup()
    written: list[dict[str, Any]] = []
    for offset, event in enumerate(walk()):
        assert applier.apply_record(Event(Message(orjson.dumps([event]), offset=offset))) == []
        written.extend(applier.take_derived())
    assert [(e["type"], e["store_id"], e["geofence_id"], e["occurred_at"]) for e in written] == [
        ("geofence.entered", "store-london-01", "store-london-01", walk()[5]["occurred_at"])]
    state = decode_state(table[b"anna"])
    entered_ms = NOW_MS - 13 * 20_000 + 5 * 20_000
    # The last slot is when the evidence arrived (here the applier's clock: the records carry no time).
    assert state["geofences"] == {"store-london-01": [entered_ms, entered_ms, None, None, "store-london-01", 0,
                                                      NOW_MS]}
    # The derived event comes back from the topic: a duplicate by id, nothing derived from it.
    back = Message(orjson.dumps(written), offset=100, headers=[("kairos-derived", b"geofencing")])
    assert applier.apply_record(Event(back)) == [] and applier.take_derived() == []
    # The walk delivered again (new offsets, e.g. a producer retry): positions are duplicates.
    for offset, event in enumerate(walk()):
        applier.apply_record(Event(Message(orjson.dumps([event]), offset=200 + offset)))
        assert applier.take_derived() == []
    assert decode_state(table[b"anna"])["geofences"] == state["geofences"]
    assert inputs.geofence_transitions.labels("entered")._value.get() == 1.0


def test_an_old_position_arriving_late_moves_nothing() -> None:
    applier, _table, _ = setup()
    events = walk()
    inside, outside = events[7], events[0]
    applier.apply_record(Event(Message(orjson.dumps([inside]), offset=0)))
    assert [e["type"] for e in applier.take_derived()] == ["geofence.entered"]
    # The first position of the walk (outside, older) arrives after she is inside: no exit.
    applier.apply_record(Event(Message(orjson.dumps([outside]), offset=1)))
    assert applier.take_derived() == []
