"""Unit tests for the read-only state views used by decisions and triggers."""

from __future__ import annotations

from typing import Any

import pytest

from service.core import state_read as read
from service.core.state import CustomerState, apply_event
from tests.factories import DAY, MIN, PHONE, T0, TABLET, event, one_of_each, view


def state_of(*events: dict[str, Any]) -> CustomerState:
    state: CustomerState | None = None
    for ev in events:
        state = apply_event(state, ev, T0 + 400 * DAY).state
    assert state is not None
    return state


JOURNEY = state_of(*one_of_each(T0))


def test_readers_on_the_journey_record() -> None:
    assert read.last_seen(JOURNEY, 10) == ["p1"]
    assert read.recently_scanned(JOURNEY, 10) == ["p2"]
    assert read.wishlist_items(JOURNEY) == []  # added, then removed
    assert read.cart_items(JOURNEY) == []  # p1 was ordered after it was put in the cart
    assert read.current_device(JOURNEY) == ("dev-phone", "phone")
    assert read.last_location(JOURNEY) == read.LocationFix(T0 + 2 * MIN, 51.52153, -0.11333, 8.0, 1.2)
    assert read.last_exit_ms(JOURNEY, "g-s1") == T0 + 5 * MIN
    assert read.last_exit_ms(JOURNEY, "nope") is None
    assert read.loyalty(JOURNEY) == {
        "points": 900,
        "tier": "silver",
        "next_tier": "gold",
        "next_tier_threshold": 1000,
        "updated_at_ms": T0 + 15 * MIN,
    }
    assert read.profile(JOURNEY) == {
        "locale": "de-DE",
        "time_zone": "Europe/Berlin",
        "home_area": {"lat": 52.5, "lon": 13.4},
        "consent": {"push": True},
        "sizes": {"apparel": "M"},
    }
    assert read.size_for(JOURNEY, "apparel") == "M"
    assert read.size_for(JOURNEY, "footwear") is None
    assert read.resumable_session(JOURNEY) == {
        "session_id": "s1",
        "device_id": "dev-phone",
        "device_type": "phone",
        "started_at_ms": T0 + 7 * MIN,
        "ended_at_ms": T0 + 8 * MIN,
        "screen_state": {"screen": "checkout", "cart": ["p1"]},
    }
    assert read.interaction_counts(JOURNEY)["p1"] == {
        "views": 1,
        "scans": 0,
        "wishlist_adds": 0,
        "cart_adds": 1,
        "ordered_units": 1,
        "clicks": 1,
        "last_t": T0 + 17 * MIN,
    }


@pytest.mark.parametrize(
    ("events", "now", "expected"),
    [
        (
            [event("geofence.entered", T0, geofence_id="g1", store_id="S1")],
            T0 + 30 * MIN,
            [read.StorePresence("g1", "S1", T0, T0, False)],
        ),
        ([event("geofence.entered", T0, geofence_id="g1")], T0 + 30 * MIN + 1, []),
        (
            [event("geofence.entered", T0, geofence_id="g1"), event("geofence.exited", T0 + 1, geofence_id="g1")],
            T0 + 2,
            [],
        ),
        (
            [
                event("geofence.entered", T0, geofence_id="g1"),
                event("geofence.entered", T0 + 5, geofence_id="g2", confidence=3),
            ],
            T0 + 10,
            [read.StorePresence("g2", None, T0 + 5, T0 + 5, True), read.StorePresence("g1", None, T0, T0, False)],
        ),
    ],
)
def test_store_presence(events: list[dict[str, Any]], now: int, expected: list[read.StorePresence]) -> None:
    assert read.store_presence(state_of(*events), now, 30 * MIN) == expected


@pytest.mark.parametrize(
    ("events", "cart"),
    [
        ([event("cart.added", T0, product_id="a", size="M")], [("a", "M", 1)]),
        (
            [
                event("cart.added", T0, "c1", product_id="a", quantity=2),
                event("cart.added", T0 + 1, "c2", product_id="a", quantity=3),
            ],
            [("a", None, 5)],
        ),
        # ordered after it was added: gone; added again after the order: back
        (
            [
                event("cart.added", T0, product_id="a"),
                event(
                    "order.placed",
                    T0 + 1,
                    order_id="o",
                    channel="online",
                    lines=[{"product_id": "a", "quantity": 1, "price": 5, "currency": "EUR"}],
                ),
            ],
            [],
        ),
        (
            [
                event(
                    "order.placed",
                    T0,
                    order_id="o",
                    channel="online",
                    lines=[{"product_id": "a", "quantity": 1, "price": 5, "currency": "EUR"}],
                ),
                event("cart.added", T0 + 1, product_id="a"),
            ],
            [("a", None, 1)],
        ),
    ],
)
def test_cart_items_exclude_what_was_ordered_since(events: list[dict[str, Any]], cart: list[Any]) -> None:
    assert read.cart_items(state_of(*events)) == cart


def test_wishlist_items_newest_first_and_devices() -> None:
    state = state_of(
        event("wishlist.added", T0, product_id="a", size="M"),
        event("wishlist.added", T0 + 2, product_id="b"),
        event("wishlist.added", T0 + 1, product_id="c", size="L"),
        event("app.opened", T0 + 3, device=TABLET),
        view("x", T0 + 4),
    )
    assert read.wishlist_items(state) == [("b", None), ("c", "L"), ("a", "M")]
    assert read.current_device(state) == ("dev-tablet", "tablet")
    assert read.last_seen(state, 0) == []
    assert read.resumable_session(state) is None
    assert read.loyalty(state) is None
    assert read.last_location(state) is None
    assert read.profile(state) == {"consent": {}, "sizes": {}}


def test_current_device_is_none_without_devices() -> None:
    assert read.current_device(state_of(view("x", T0))) is None
    assert read.current_device(state_of(event("app.opened", T0, device=PHONE))) == ("dev-phone", "phone")
