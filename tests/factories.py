"""Test builders: schema-shaped customer, reference and request dicts with exact times."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
from referencing import Registry, Resource

from service.core.timeutil import format_rfc3339_ms

SCHEMAS = Path(__file__).resolve().parents[1] / "schemas"

T0 = 1_767_268_800_000  # 2026-01-01T12:00:00.000Z
MIN = 60_000
HOUR = 60 * MIN
DAY = 24 * HOUR
CUSTOMER = "c-anna"
PHONE = {"id": "dev-phone", "type": "phone"}
TABLET = {"id": "dev-tablet", "type": "tablet"}


def event(kind: str, t_ms: int, event_id: str | None = None, **fields: Any) -> dict[str, Any]:
    """A customer event of `kind` at t_ms; event_id defaults to kind@t_ms."""
    return {
        "event_id": event_id or f"{kind}@{t_ms}",
        "type": kind,
        "occurred_at": format_rfc3339_ms(t_ms),
        "source": "test",
        "customer_id": CUSTOMER,
        **fields,
    }


def ref_event(kind: str, t_ms: int, event_id: str | None = None, **fields: Any) -> dict[str, Any]:
    """A reference event (no customer_id)."""
    ev = event(kind, t_ms, event_id, **fields)
    del ev["customer_id"]
    return ev


def view(pid: str, t_ms: int, event_id: str | None = None) -> dict[str, Any]:
    return event("product.viewed", t_ms, event_id, product_id=pid)


def request(placement: str = "app.home", device: dict[str, str] | None = None, **fields: Any) -> dict[str, Any]:
    return {"customer_id": CUSTOMER, "placement": placement, "device": device or PHONE, **fields}


def one_of_each(t_ms: int) -> list[dict[str, Any]]:
    """One event of every customer event type, one minute apart from t_ms."""
    specs: list[tuple[str, dict[str, Any]]] = [
        (
            "profile.updated",
            {
                "locale": "de-DE",
                "time_zone": "Europe/Berlin",
                "sizes": {"apparel": "M"},
                "home_area": {"lat": 52.5, "lon": 13.4},
                "consent": {"push": True},
            },
        ),
        ("identity.linked", {"device_id": "dev-tablet", "device_type": "tablet", "anonymous_id": "anon-1"}),
        ("location.updated", {"location": {"lat": 51.52153, "lon": -0.11333}, "accuracy_m": 8.0, "speed_mps": 1.2}),
        ("geofence.entered", {"geofence_id": "g-s1", "store_id": "S1", "confidence": 2}),
        ("geofence.dwelled", {"geofence_id": "g-s1", "store_id": "S1", "dwell_s": 300}),
        ("geofence.exited", {"geofence_id": "g-s1", "dwell_s": 600}),
        ("app.opened", {"device": PHONE}),
        ("session.started", {"session_id": "s1", "device": PHONE}),
        (
            "session.ended",
            {
                "session_id": "s1",
                "device": PHONE,
                "outcome": "abandoned",
                "screen_state": {"screen": "checkout", "cart": ["p1"]},
            },
        ),
        ("product.viewed", {"product_id": "p1", "device": PHONE}),
        ("product.scanned", {"product_id": "p2", "gtin": "4006381333931", "store_id": "S1"}),
        ("wishlist.added", {"product_id": "p3", "size": "M"}),
        ("wishlist.removed", {"product_id": "p3"}),
        ("cart.added", {"product_id": "p1", "size": "M", "quantity": 2}),
        (
            "order.placed",
            {
                "order_id": "o1",
                "channel": "online",
                "lines": [{"product_id": "p1", "size": "M", "quantity": 1, "price": 49.5, "currency": "EUR"}],
            },
        ),
        ("loyalty.updated", {"points": 900, "tier": "silver", "next_tier": "gold", "next_tier_threshold": 1000}),
        ("notification.opened", {"notification_id": "n1"}),
        ("content.clicked", {"decision_id": "d1", "block_id": "last_seen", "product_id": "p1"}),
    ]
    return [event(kind, t_ms + i * MIN, **fields) for i, (kind, fields) in enumerate(specs)]


def response_validator(name: str = "decision_response.schema.json") -> jsonschema.Draft202012Validator:
    """Validator for decision responses (or another schema), resolving $refs among the repository's schemas."""
    docs = [json.loads(p.read_text()) for p in SCHEMAS.rglob("*.schema.json")]
    registry: Registry[Any] = Registry().with_resources(
        (doc["$id"], Resource.from_contents(doc)) for doc in docs if "$id" in doc
    )
    schema = json.loads((SCHEMAS / name).read_text())
    return jsonschema.Draft202012Validator(schema, registry=registry,
                                           format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
