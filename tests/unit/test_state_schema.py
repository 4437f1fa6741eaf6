"""schemas/state.schema.json describes exactly the record the core writes (encode_state after apply_event)."""

from __future__ import annotations

import json
import pathlib
from typing import Any

import orjson
import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from service.core.events import CUSTOMER_EVENT_TYPES
from service.core.state import (
    DEFAULT_STATE_CONFIG,
    CustomerState,
    apply_event,
    decode_state,
    encode_state,
    new_state,
)
from service.core.timeutil import parse_rfc3339_ms

SCHEMAS = pathlib.Path(__file__).resolve().parents[2] / "schemas"
VALID = SCHEMAS / "examples" / "valid"


def schema_registry() -> Registry[Any]:
    """Every schema file registered by its $id, so cross-file $refs resolve without fetching anything."""
    docs = [json.loads(p.read_text()) for p in SCHEMAS.rglob("*.schema.json")]
    return Registry().with_resources((doc["$id"], Resource.from_contents(doc)) for doc in docs)


REGISTRY = schema_registry()


def validator_for(name: str) -> Draft202012Validator:
    """Validator for schemas/<name>, formats checked."""
    schema = json.loads((SCHEMAS / name).read_text())
    return Draft202012Validator(schema, registry=REGISTRY, format_checker=Draft202012Validator.FORMAT_CHECKER)


def event_validator() -> Draft202012Validator:
    return validator_for("event.schema.json")


VALIDATOR = validator_for("state.schema.json")
SCHEMA: dict[str, Any] = json.loads((SCHEMAS / "state.schema.json").read_text())


def schema_errors(state: CustomerState) -> list[str]:
    """Errors of the record as persisted: the bytes encode_state writes, parsed back."""
    record = orjson.loads(encode_state(state))
    return [f"{list(e.absolute_path)}: {e.message}" for e in VALIDATOR.iter_errors(record)]


def customer_examples() -> list[dict[str, Any]]:
    events = [json.loads(p.read_text()) for p in sorted(VALID.glob("*.json"))]
    return [e for e in events if isinstance(e, dict) and e.get("type") in CUSTOMER_EVENT_TYPES]


def test_valid_examples_cover_every_customer_event_type_for_one_customer() -> None:
    examples = customer_examples()
    assert {e["type"] for e in examples} == CUSTOMER_EVENT_TYPES
    assert len({e["customer_id"] for e in examples}) == 1
    check = event_validator()
    assert [e["event_id"] for e in examples if not check.is_valid(e)] == []


@pytest.mark.parametrize("order", ["occurred_at", "file_name"])
def test_applying_every_valid_customer_example_writes_schema_valid_records(order: str) -> None:
    # By occurred_at every example merges; in file-name order several arrive late (counted, not merged).
    examples = customer_examples()
    if order == "occurred_at":
        examples.sort(key=lambda e: parse_rfc3339_ms(e["occurred_at"]))
    state: CustomerState | None = None
    outcomes = []
    for ev in examples:
        result = apply_event(state, ev, parse_rfc3339_ms(ev["occurred_at"]) + 1_000)
        state = result.state
        outcomes.append(result.outcome)
        assert state is not None
        assert schema_errors(state) == [], ev["event_id"]
    assert state is not None
    if order == "occurred_at":
        assert set(outcomes) == {"applied"}
        assert state["events_applied"] == len(examples)
    else:
        assert state["late_count"] > 0


def test_a_clamped_event_writes_a_schema_valid_record() -> None:
    ev = next(e for e in customer_examples() if e["type"] == "product.viewed")
    result = apply_event(None, ev, parse_rfc3339_ms(ev["occurred_at"]) - 3_600_000)  # device clock an hour fast
    assert result.state is not None and result.state["clamped_count"] == 1
    assert schema_errors(result.state) == []


def test_the_valid_state_example_round_trips_through_the_codec() -> None:
    record = json.loads((VALID / "state.json").read_text())
    assert orjson.loads(encode_state(decode_state(orjson.dumps(record)))) == record


def test_the_top_level_accepts_unknown_keys_but_nothing_nested_does() -> None:
    record = json.loads((VALID / "state.json").read_text())
    # A newer build's top-level field: the core keeps it, so readers must accept it.
    newer = {**record, "nudges": [["n1", 1]]}
    assert VALIDATOR.is_valid(newer)
    assert orjson.loads(encode_state(decode_state(orjson.dumps(newer)))) == newer
    nested = {**record, "profile": {**record["profile"], "nickname": ["anna", 1]}}
    assert not VALIDATOR.is_valid(nested)
    long_row = {**record, "loyalty": [*record["loyalty"], "extra"]}
    assert not VALIDATOR.is_valid(long_row)


def test_an_empty_record_is_schema_valid_with_every_key_required() -> None:
    state = new_state("cust-000417")
    assert schema_errors(state) == []
    assert sorted(SCHEMA["required"]) == sorted(state)
    # source_offset is written by the stream layer once a Kafka record has been applied; notify by
    # the notifications part once a triggered message concerned her (service/core/triggers/outbox.py).
    assert sorted(SCHEMA["properties"]) == sorted([*state, "notify", "source_offset"])


def test_schema_caps_are_the_state_config_defaults() -> None:
    cfg = DEFAULT_STATE_CONFIG
    props = SCHEMA["properties"]
    list_caps = {
        "locations": cfg.max_locations,
        "sessions": cfg.max_sessions,
        "views": cfg.max_views,
        "scans": cfg.max_scans,
        "cart": cfg.max_cart,
        "orders": cfg.max_orders,
        "contacts": cfg.max_contacts,
        "identities": cfg.max_identities,
    }
    map_caps = {
        "geofences": cfg.max_geofences,
        "devices": cfg.max_devices,
        "wishlist": 2 * cfg.max_wishlist,  # live items and removal tombstones are capped separately
        "affinity": cfg.max_affinity_products,
        "profile": 5 + cfg.max_profile_sizes,  # five fixed keys plus the size.<category> keys
    }
    assert {k: props[k]["maxItems"] for k in list_caps} == list_caps
    assert {k: props[k]["maxProperties"] for k in map_caps} == map_caps
    assert props["sessions"]["maxContains"] == cfg.max_screen_states
    assert props["orders"]["items"]["prefixItems"][4]["maxItems"] == cfg.max_order_lines
    assert props["seen_ids"]["maxLength"] == 12 * cfg.dedup_ring_size


def test_a_record_with_every_collection_at_its_cap_is_schema_valid() -> None:
    # Schema-valid events, ids at the 128-character maximum, every collection pushed past its cap.
    def long(tag: str, i: int) -> str:
        return f"{tag}{i:04d}".ljust(128, "x")

    def ev(kind: str, i: int, t: int, **fields: Any) -> dict[str, Any]:
        at = f"2025-03-14T{t // 3600:02d}:{t // 60 % 60:02d}:{t % 60:02d}Z"
        return {
            "event_id": long(f"{kind}-", i),
            "type": kind,
            "occurred_at": at,
            "source": "test",
            "customer_id": long("cust", 0),
            **fields,
        }

    line = {"size": "S" * 32, "quantity": 9, "price": 999.99, "currency": "EUR"}
    events: list[dict[str, Any]] = []
    for i in range(120):
        t = 8 * 3600 + i * 60  # one minute apart from 08:00: nothing expires, nothing is late
        uuid = f"{i:08x}-0000-4000-8000-000000000000"
        events += [
            ev("product.viewed", i, t, product_id=long("p", i), device={"id": long("dv", i % 15), "type": "tablet"}),
            ev("product.scanned", i, t, product_id=long("p", i), gtin="12345678901234", store_id=long("S", i)),
            ev("wishlist.added", i, t, product_id=long("w", i), size="S" * 32),
            ev("wishlist.removed", i, t, product_id=long("w", i + 1000)),
            ev("cart.added", i, t, product_id=long("c", i), size="S" * 32, quantity=9),
            ev(
                "order.placed",
                i,
                t,
                order_id=long("o", i),
                channel="store",
                store_id=long("S", i),
                lines=[{**line, "product_id": long(f"l{j}-", i)} for j in range(100)],
            ),
            ev("notification.opened", i, t, notification_id=uuid),
            ev("content.clicked", i, t, decision_id=uuid, block_id="b" * 64, product_id=long("k", i)),
            ev("identity.linked", i, t, device_id=long("dv", i), anonymous_id=long("an", i), device_type="phone"),
            ev("geofence.entered", i, t, geofence_id=long("g", i), external_id=long("S", i), confidence=3),
            ev(
                "session.ended",
                i,
                t,
                session_id=long("e", i),
                outcome="abandoned",
                device={"id": long("dv", i), "type": "phone"},
                screen_state={"blob": "z" * 4000},
            ),
            ev("location.updated", i, t, location={"lat": -89.5, "lon": 179.5}, accuracy_m=12.5, speed_mps=0),
            ev(
                "profile.updated",
                i,
                t,
                sizes={f"c{i:03d}".ljust(32, "c"): "S" * 32},
                consent={"push": i % 2 == 0, "email": True},
                locale="en-GB",
                time_zone="Europe/London",
                home_area={"lat": 51.5, "lon": -0.1},
            ),
            ev("loyalty.updated", i, t, points=i, tier="silver", next_tier="gold", next_tier_threshold=5000),
        ]
    # A burst of removals inside the grace window: tombstones are capped apart from live items.
    last = 8 * 3600 + 119 * 60
    events += [ev("wishlist.removed", 2000 + i, last, product_id=long("w", 2000 + i)) for i in range(120)]
    check = event_validator()
    checked: set[str] = set()
    state: CustomerState | None = None
    for e in events:
        if e["type"] not in checked:  # every event of a kind has the same shape: validating one is enough
            assert check.is_valid(e), e["event_id"]
            checked.add(e["type"])
        result = apply_event(state, e, parse_rfc3339_ms(e["occurred_at"]))
        assert result.outcome == "applied"
        state = result.state
    assert state is not None
    assert schema_errors(state) == []
    props = SCHEMA["properties"]
    at_cap = {k: len(state[k]) for k in props if "maxItems" in props[k] or "maxProperties" in props[k]}
    caps = {k: props[k].get("maxItems", props[k].get("maxProperties")) for k in at_cap}
    assert at_cap == caps
    assert len(state["seen_ids"]) == props["seen_ids"]["maxLength"]
    assert sum(1 for r in state["sessions"] if r[6] is not None) == props["sessions"]["maxContains"]
    assert {len(r[4]) for r in state["orders"]} == {props["orders"]["items"]["prefixItems"][4]["maxItems"]}
