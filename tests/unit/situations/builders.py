"""Builders for situation tests: states from events with explicit arrival times, hand-made reference data."""

from __future__ import annotations

import math
from typing import Any

from service.core.reference import ReferenceData, apply_reference_event
from service.core.situations.config import SituationConfig
from service.core.state import CustomerState, apply_event
from tests.factories import T0, event, ref_event

CFG = SituationConfig()
STORE = {"lat": 51.52153, "lon": -0.11333}  # the London demo store's point


def offset(point: dict[str, float], north_m: float, east_m: float) -> dict[str, float]:
    """A point north_m north and east_m east of `point` (local flat approximation, < 1 cm off here)."""
    lat = point["lat"] + north_m / 111_132.0
    lon = point["lon"] + east_m / (111_320.0 * math.cos(math.radians(point["lat"])))
    return {"lat": lat, "lon": lon}


def apply_all(events: list[tuple[dict[str, Any], int]]) -> CustomerState:
    """Apply (event, received_at_ms) pairs in the given (arrival) order."""
    state: CustomerState | None = None
    for ev, received in events:
        state = apply_event(state, ev, received).state
    assert state is not None
    return state


def timely(*events: dict[str, Any], lag_ms: int = 1_000) -> CustomerState:
    """Each event arrives lag_ms after it occurred, in the given order."""
    from service.core.timeutil import parse_rfc3339_ms

    return apply_all([(e, parse_rfc3339_ms(e["occurred_at"]) + lag_ms) for e in events])


def fix(t_ms: int, point: dict[str, float], accuracy_m: float | None = 10.0, speed_mps: float | None = None,
        event_id: str | None = None) -> dict[str, Any]:
    fields: dict[str, Any] = {"location": point}
    if accuracy_m is not None:
        fields["accuracy_m"] = accuracy_m
    if speed_mps is not None:
        fields["speed_mps"] = speed_mps
    return event("location.updated", t_ms, event_id, **fields)


def fence_event(kind: str, t_ms: int, geofence_id: str = "g-s1", **extra: Any) -> dict[str, Any]:
    return event(f"geofence.{kind}", t_ms, None, geofence_id=geofence_id, **{"store_id": "S1", **extra})


def make_ref(stores: dict[str, dict[str, Any]] | None = None) -> ReferenceData:
    """A reference model with store S1 (a 50 m circle at STORE by default) and S2 2 km east."""
    ref = ReferenceData()
    default = {
        "S1": {"name": "London", "location": STORE, "radius_m": 50, "time_zone": "Europe/London"},
        "S2": {"name": "East", "location": offset(STORE, 0, 2_000)},
    }
    for i, (sid, fields) in enumerate((stores or default).items()):
        apply_reference_event(ref, ref_event("store.upserted", T0 - 1, f"store-{i}", store_id=sid, **fields))
    return ref


def product(ref: ReferenceData, pid: str, **fields: Any) -> None:
    base = {"name": f"Product {pid}", "category": "apparel", "price": 50.0, "currency": "GBP"}
    apply_reference_event(ref, ref_event("product.upserted", T0 - 1, f"prod-{pid}", product_id=pid,
                                         **{**base, **fields}))
