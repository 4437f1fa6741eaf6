"""Unit tests for the reference read model: last-writer-wins by event time, stock, weather cells."""

from __future__ import annotations

from typing import Any

import pytest

from service.core.reference import (
    ReferenceData,
    StockLevel,
    apply_reference_event,
    is_newer,
    weather_cell,
)
from tests.factories import MIN, T0, event, ref_event


def stock(
    t_ms: int, qty: int, event_id: str | None = None, store: str = "S1", pid: str = "p1", size: str | None = None
) -> dict[str, Any]:
    fields: dict[str, Any] = {"store_id": store, "product_id": pid, "quantity": qty}
    if size is not None:
        fields["size"] = size
    return ref_event("stock.changed", t_ms, event_id, **fields)


def product(pid: str, t_ms: int = T0, event_id: str | None = None, **extra: Any) -> dict[str, Any]:
    fields = {
        "product_id": pid,
        "name": f"Name {pid}",
        "category": "apparel",
        "price": 10.0,
        "currency": "EUR",
        **extra,
    }
    return ref_event("product.upserted", t_ms, event_id or f"prod-{pid}@{t_ms}", **fields)


@pytest.mark.parametrize(
    ("incoming", "current", "expected"),
    [
        ((T0, "e1"), None, True),
        ((T0 + 1, "e1"), (T0, "e9"), True),
        ((T0 - 1, "e9"), (T0, "e1"), False),
        ((T0, "e2"), (T0, "e1"), True),  # exact time tie: the larger event_id wins
        ((T0, "e1"), (T0, "e2"), False),
        ((T0, "e1"), (T0, "e1"), False),  # redelivery
    ],
)
def test_is_newer(incoming: tuple[int, str], current: tuple[int, str] | None, expected: bool) -> None:
    assert is_newer(incoming, current) is expected


@pytest.mark.parametrize(
    ("updates", "changes", "quantity"),
    [
        ([(T0, 5, "a")], [True], 5),
        ([(T0, 5, "a"), (T0 + MIN, 0, "b")], [True, True], 0),
        # an older stock event arriving later does not overwrite the newer one
        ([(T0 + MIN, 0, "b"), (T0, 5, "a")], [True, False], 0),
        ([(T0, 5, "a"), (T0, 5, "a")], [True, False], 5),  # redelivered: no change
        ([(T0, 5, "a"), (T0, 7, "b")], [True, True], 7),  # same time: larger event_id wins...
        ([(T0, 7, "b"), (T0, 5, "a")], [True, False], 7),  # ...whatever the arrival order
    ],
)
def test_stock_last_writer_by_occurred_at_wins(
    updates: list[tuple[int, int, str]], changes: list[bool], quantity: int
) -> None:
    ref = ReferenceData()
    assert [apply_reference_event(ref, stock(t, q, eid)) for t, q, eid in updates] == changes
    assert ref.stock["p1"][("S1", "")].quantity == quantity


def test_stock_levels_keep_their_version() -> None:
    ref = ReferenceData()
    apply_reference_event(ref, stock(T0, 4, "a", size="M"))
    assert ref.stock == {"p1": {("S1", "M"): StockLevel(4, (T0, "a"))}}


@pytest.mark.parametrize(
    ("levels", "store", "size", "expected"),
    [
        ([], "S1", None, None),
        ([("S1", "M", 2)], "S1", None, True),
        ([("S1", "M", 2)], "S1", "M", True),
        ([("S1", "M", 2)], "S1", "L", None),
        ([("S1", "M", 0), ("S1", "L", 1)], "S1", "M", False),
        ([("S1", None, 3)], "S1", "L", True),  # one-size stock counts for any size
        ([("S2", "M", 2)], "S1", "M", None),
        ([("S1", "M", 0), ("S1", "L", 0)], "S1", None, False),
    ],
)
def test_in_stock_at(
    levels: list[tuple[str, str | None, int]], store: str, size: str | None, expected: bool | None
) -> None:
    ref = ReferenceData()
    for i, (st, sz, q) in enumerate(levels):
        apply_reference_event(ref, stock(T0 + i, q, f"e{i}", store=st, size=sz))
    assert ref.in_stock_at(store, "p1", size) is expected


@pytest.mark.parametrize(
    ("levels", "expected"),
    [
        ([], None),
        ([("S1", 0), ("online", 0)], False),
        ([("S1", 0), ("online", 1)], True),
    ],
)
def test_in_stock_anywhere(levels: list[tuple[str, int]], expected: bool | None) -> None:
    ref = ReferenceData()
    for i, (st, q) in enumerate(levels):
        apply_reference_event(ref, stock(T0 + i, q, f"e{i}", store=st))
    assert ref.in_stock_anywhere("p1") is expected


def test_products_in_stock_at_follows_stock_changes() -> None:
    ref = ReferenceData()
    for pid in ("p3", "p1", "p2"):
        apply_reference_event(ref, stock(T0, 1, f"in-{pid}", pid=pid))
    assert ref.products_in_stock_at("S1", 10) == ["p1", "p2", "p3"]
    assert ref.products_in_stock_at("S1", 2) == ["p1", "p2"]
    apply_reference_event(ref, stock(T0 + 1, 0, "out-p2", pid="p2"))
    assert ref.products_in_stock_at("S1", 10) == ["p1", "p3"]
    assert ref.products_in_stock_at("S9", 10) == []


def test_product_upsert_is_last_writer_wins_and_drops_the_envelope() -> None:
    ref = ReferenceData()
    assert apply_reference_event(ref, product("p1", T0 + 1, name="New")) is True
    assert apply_reference_event(ref, product("p1", T0, name="Old")) is False
    assert ref.products["p1"] == {
        "product_id": "p1",
        "name": "New",
        "category": "apparel",
        "price": 10.0,
        "currency": "EUR",
    }
    assert ref.product_name("p1") == "New"
    assert ref.product_name("nope") is None


@pytest.mark.parametrize(
    ("products", "promoted", "bestsellers"),
    [
        ([], [], []),
        ([("p2", False), ("p1", False)], [], ["p1", "p2"]),  # fallback: catalogue by id
        ([("p3", True), ("p2", False), ("p1", True)], ["p1", "p3"], ["p1", "p3"]),
    ],
)
def test_bestsellers(products: list[tuple[str, bool]], promoted: list[str], bestsellers: list[str]) -> None:
    ref = ReferenceData()
    for pid, flag in products:
        apply_reference_event(ref, product(pid, promoted=flag))
    assert ref.promoted_ids() == promoted
    assert ref.bestseller_ids() == bestsellers


def test_bestsellers_cache_is_refreshed_when_a_product_changes() -> None:
    ref = ReferenceData()
    apply_reference_event(ref, product("p2"))
    assert ref.bestseller_ids() == ["p2"]
    apply_reference_event(ref, product("p1", T0 + 1, promoted=True))
    assert ref.bestseller_ids() == ["p1"]


@pytest.mark.parametrize(
    ("lat", "lon", "cell"),
    [
        (51.52153, -0.11333, "51.5,-0.1"),
        (51.55, 0.15, "51.6,0.2"),  # half away from zero, on the decimal as written
        (-33.85, -151.25, "-33.9,-151.3"),
        (0.04, -0.04, "0.0,0.0"),  # no negative zero
        (90, -180, "90.0,-180.0"),
        (60.16952, 24.93545, "60.2,24.9"),
    ],
)
def test_weather_cell(lat: float, lon: float, cell: str) -> None:
    assert weather_cell(lat, lon) == cell


def test_weather_is_kept_per_cell_last_writer_wins() -> None:
    ref = ReferenceData()

    def obs(t: int, lat: float, condition: str) -> dict[str, Any]:
        return ref_event(
            "weather.observed",
            t,
            f"w{t}{lat}",
            location={"lat": lat, "lon": -0.11},
            condition=condition,
            temperature_c=11.5,
        )

    assert apply_reference_event(ref, obs(T0 + 1, 51.51, "rain")) is True
    assert apply_reference_event(ref, obs(T0, 51.52, "clear")) is False  # same cell, older
    assert apply_reference_event(ref, obs(T0, 51.70, "snow")) is True  # other cell
    weather = ref.weather_at(51.5201, -0.1122)
    assert weather is not None
    assert (weather["condition"], weather["temperature_c"]) == ("rain", 11.5)
    assert sorted(ref.weather) == ["51.5,-0.1", "51.7,-0.1"]


def test_store_upsert() -> None:
    ref = ReferenceData()
    ev = ref_event(
        "store.upserted",
        T0,
        "st1",
        store_id="S1",
        name="London",
        location={"lat": 51.52153, "lon": -0.11333},
        radius_m=80,
    )
    assert apply_reference_event(ref, ev) is True
    assert apply_reference_event(ref, ev) is False
    assert ref.stores["S1"]["name"] == "London"


def test_customer_and_unknown_events_change_nothing() -> None:
    ref = ReferenceData()
    assert apply_reference_event(ref, event("product.viewed", T0, product_id="p1")) is False
    assert apply_reference_event(ref, ref_event("thing.happened", T0)) is False
    assert ref == ReferenceData()
