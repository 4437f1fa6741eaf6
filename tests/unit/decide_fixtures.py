"""A small hand-made catalog, two stores and helpers for the decide tests."""

from __future__ import annotations

from typing import Any

from service.core.policy import DEFAULT_POLICY, Policy, load_policy
from service.core.reference import ReferenceData, apply_reference_event
from service.core.state import CustomerState, apply_event
from service.core.timeutil import format_rfc3339_ms, parse_rfc3339_ms
from tests.factories import ref_event, response_validator
from tests.unit.situations.builders import STORE, offset

POLICY: Policy = load_policy(DEFAULT_POLICY)
VALIDATOR = response_validator()
DECISION_ID = "0b7e7a8e-8d4c-4c4e-9a55-3f1d2c3b4a5e"
# Thursday 2026-12-03, London (UTC+0 in winter)
EVENING = parse_rfc3339_ms("2026-12-03T19:30:00Z")
LUNCH = parse_rfc3339_ms("2026-12-03T12:30:00Z")
CAT_T = parse_rfc3339_ms("2026-11-01T00:00:00Z")
S2_POINT = offset(STORE, 0, 2_000)

PRODUCTS: dict[str, dict[str, Any]] = {
    "coat": {"category": "apparel", "style": "coat", "price": 150.0, "sizes": ["S", "M", "L"],
             "colours": ["navy", "sand"], "material": "wool", "care": "dry clean",
             "rating": {"average": 4.5, "count": 40},
             "reviews": [{"rating": 4, "text": "Warm", "locale": "en-GB"},
                         {"rating": 5, "text": "Sehr warm", "locale": "de-DE"}],
             "goes_with": ["scarf", "boots", "jeans"]},
    "scarf": {"category": "accessories", "style": "scarf", "price": 30.0},
    "boots": {"category": "footwear", "style": "boots", "price": 120.0, "sizes": ["38", "39"]},
    "jeans": {"category": "apparel", "style": "jeans", "price": 80.0, "sizes": ["S", "M"], "on_sale": True},
    "tee": {"category": "apparel", "style": "tshirt", "price": 20.0, "sizes": ["S", "M"], "promoted": True},
    "raincoat": {"category": "apparel", "style": "raincoat", "price": 110.0, "sizes": ["M"],
                 "arrived_at": "2026-11-28T00:00:00Z"},
    "ring": {"category": "jewelry", "style": "ring", "price": 60.0, "promoted": True,
             "arrived_at": "2026-11-20T00:00:00Z"},
}

# (store, product, size, quantity)
STOCK: list[tuple[str, str, str | None, int]] = [
    ("S1", "coat", "M", 2), ("S1", "coat", "L", 1), ("online", "coat", "S", 5), ("online", "coat", "M", 0),
    ("S2", "coat", "S", 1),
    ("S1", "scarf", None, 4),
    ("online", "boots", "39", 3), ("S1", "boots", "38", 1),  # boots in S1 only in 38
    ("S1", "jeans", "S", 1), ("online", "jeans", "M", 6),  # jeans in her size (M) only online
    ("S1", "tee", "M", 9), ("online", "tee", "M", 9),
    ("online", "raincoat", "M", 2), ("S1", "raincoat", "M", 1),
    ("S1", "ring", None, 1), ("online", "ring", None, 1),
]


def make_ref(stock: list[tuple[str, str, str | None, int]] | None = None) -> ReferenceData:
    ref = ReferenceData()
    stores = {"S1": {"name": "London", "location": STORE, "radius_m": 50, "time_zone": "Europe/London"},
              "S2": {"name": "London East", "location": S2_POINT, "radius_m": 50}}
    for sid, fields in stores.items():
        apply_reference_event(ref, ref_event("store.upserted", CAT_T, f"store-{sid}", store_id=sid, **fields))
    for pid, fields in PRODUCTS.items():
        apply_reference_event(ref, ref_event("product.upserted", CAT_T, f"p-{pid}", product_id=pid,
                                             name=pid.title(), currency="GBP", **fields))
    for n, (store, pid, size, qty) in enumerate(STOCK if stock is None else stock):
        extra: dict[str, Any] = {} if size is None else {"size": size}
        apply_reference_event(ref, ref_event("stock.changed", CAT_T, f"s-{n}", store_id=store, product_id=pid,
                                             quantity=qty, **extra))
    return ref


def ev(kind: str, t_ms: int, **fields: Any) -> dict[str, Any]:
    return {"event_id": f"{kind}@{t_ms}:{sorted(fields)}", "type": kind, "occurred_at": format_rfc3339_ms(t_ms),
            "source": "test", "customer_id": "c-anna", **fields}


def state_of(*events: dict[str, Any]) -> CustomerState:
    state: CustomerState | None = None
    for e in sorted(events, key=lambda e: parse_rfc3339_ms(e["occurred_at"])):  # in time order: none is late
        state = apply_event(state, e, parse_rfc3339_ms(e["occurred_at"]) + 500).state
    assert state is not None
    return state


def anna(t_ms: int, *more: dict[str, Any]) -> CustomerState:
    """Anna: London, English, size M in apparel, push and email consent, a few interactions."""
    return state_of(ev("profile.updated", t_ms - 86_400_000, locale="en-GB", time_zone="Europe/London",
                       sizes={"apparel": "M"}, consent={"push": True, "email": True},
                       home_area={"lat": STORE["lat"], "lon": STORE["lon"]}),
                    *more)


def blocks(decision: dict[str, Any]) -> list[tuple[str, list[str]]]:
    return [(b["id"], [i["product_id"] for i in b["items"]]) for b in decision["blocks"]]


def codes(decision: dict[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    return [(r["code"], r["detail"]) for r in decision["reasons"] if r["code"].startswith(prefix)]
