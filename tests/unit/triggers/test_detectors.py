"""The stream detectors under the default policy, table-driven: each fires when its situation
arises (not while it lasts), with the exact values its texts and de-dup key use."""

from __future__ import annotations

from typing import Any

import pytest

from service.core.reference import ReferenceData, apply_reference_event
from service.core.timeutil import parse_rfc3339_ms
from service.core.triggers.detectors import rounded_m
from tests.factories import ref_event
from tests.unit.decide_fixtures import CAT_T, anna, ev, make_ref
from tests.unit.situations.builders import STORE, offset
from tests.unit.triggers.helpers import after, candidates, found, moment

MIN = 60_000
DAY = 86_400_000
STREET = parse_rfc3339_ms("2026-12-03T17:30:00Z")  # Thursday, London (UTC in winter)
COMMUTE = parse_rfc3339_ms("2026-12-03T08:15:00Z")
REF = make_ref()


def fix(t: int, north_m: float, speed: float | None = None, accuracy: float = 10.0) -> dict[str, Any]:
    extra: dict[str, Any] = {} if speed is None else {"speed_mps": speed}
    return ev("location.updated", t, location=offset(STORE, north_m, 0), accuracy_m=accuracy, **extra)


def wish(pid: str, t: int, size: str | None = None) -> dict[str, Any]:
    return ev("wishlist.added", t, product_id=pid, **({} if size is None else {"size": size}))


def coat_near(north_m: float = 250) -> list[tuple[str, dict[str, Any]]]:
    return [("wishlist_nearby", {"product_id": "coat", "product_name": "Coat", "size": "M", "store_id": "S1",
                                 "store_name": "London", "distance_m": north_m})]


WISHLIST_CASES = [
    # (name, earlier events, the record's events, expected)
    ("arrives within the approach radius", [wish("coat", STREET - 60 * MIN)], [fix(STREET, 250)], coat_near()),
    ("already near before the record", [wish("coat", STREET - 60 * MIN), fix(STREET - MIN, 260)],
     [fix(STREET, 250)], []),
    ("too far: 400 m from a 50 m store", [wish("coat", STREET - 60 * MIN)], [fix(STREET, 400)], []),
    ("a poor-accuracy fix says nothing about where she is", [wish("coat", STREET - 60 * MIN)],
     [fix(STREET, 250, accuracy=500)], []),
    ("not in her size here (jeans M only online)", [wish("jeans", STREET - 60 * MIN)], [fix(STREET, 250)], []),
    ("the wished size counts (boots 38 at S1)", [wish("boots", STREET - 60 * MIN, "38")], [fix(STREET, 250)],
     [("wishlist_nearby", {"product_id": "boots", "product_name": "Boots", "size": "38", "store_id": "S1",
                           "store_name": "London", "distance_m": 250})]),
    ("wishes an item while near the store", [fix(STREET - MIN, 250)], [wish("coat", STREET)], coat_near()),
    ("a provider's geofence entry with its location, no fix", [wish("coat", STREET - 60 * MIN)],
     [ev("geofence.entered", STREET, geofence_id="radar-s1", store_id="S1", location=offset(STORE, 30, 0))],
     coat_near(30)),
    ("a geofence entry without a location: how far is unknown", [wish("coat", STREET - 60 * MIN)],
     [ev("geofence.entered", STREET, geofence_id="radar-s1", store_id="S1")], []),
    ("nothing wished", [], [fix(STREET, 250)], []),
]


@pytest.mark.parametrize(("name", "earlier", "events", "expected"), WISHLIST_CASES, ids=[c[0] for c in WISHLIST_CASES])
def test_wishlist_item_near_store(name: str, earlier: list[dict[str, Any]], events: list[dict[str, Any]],
                                  expected: list[tuple[str, dict[str, Any]]]) -> None:
    before = anna(STREET - 2 * DAY, *earlier)
    assert found(moment(before, events, REF, STREET)) == expected


def test_wishlist_prefers_an_item_she_has_not_had_a_message_for() -> None:
    before = anna(STREET - 2 * DAY, wish("tee", STREET - 90 * MIN), wish("coat", STREET - 60 * MIN))
    sent_coat = {**before, "contacts": [["s", STREET - DAY, "n-1", "push", "wishlist_nearby",
                                         "wishlist_nearby:coat:S1"]]}
    picked = found(moment(sent_coat, [fix(STREET, 250)], REF, STREET))
    assert [(t, p["product_id"]) for t, p in picked] == [("wishlist_nearby", "tee")]
    # Both had one: the newest wished item again (the planner suppresses it as a duplicate).
    both = {**sent_coat, "contacts": [*sent_coat["contacts"], ["s", STREET - DAY, "n-2", "push",
                                                                "wishlist_nearby", "wishlist_nearby:tee:S1"]]}
    assert [p["product_id"] for _t, p in found(moment(both, [fix(STREET, 250)], REF, STREET))] == ["coat"]


def test_the_cause_is_the_record_s_newest_event() -> None:
    before = anna(STREET - 2 * DAY, wish("coat", STREET - 60 * MIN))
    event = fix(STREET, 250)
    [cand] = candidates(moment(before, [event], REF, STREET))
    assert (cand.cause, dict(cand.data)) == (event["event_id"], {"in_store": False})


def order(t: int, pid: str = "coat", order_id: str = "o-1") -> dict[str, Any]:
    return ev("order.placed", t, order_id=order_id, channel="online",
              lines=[{"product_id": pid, "size": "M", "quantity": 1, "price": 150.0, "currency": "GBP"}])


OUTFIT = [("post_order_outfit", {"order_id": "o-1", "product_id": "coat", "product_name": "Coat"})]
POST_ORDER_CASES = [
    ("starts moving on a weekday morning", [order(COMMUTE - 3 * DAY)], COMMUTE, [fix(COMMUTE, 0, speed=9)], OUTFIT),
    ("already moving before the record", [order(COMMUTE - 3 * DAY), fix(COMMUTE - 30_000, 0, speed=9)], COMMUTE,
     [fix(COMMUTE, 50, speed=9)], []),
    ("walking pace is not on the move", [order(COMMUTE - 3 * DAY)], COMMUTE, [fix(COMMUTE, 0, speed=1.2)], []),
    ("her move becomes a commute at 06:00", [order(COMMUTE - 3 * DAY),
                                             fix(parse_rfc3339_ms("2026-12-03T05:59:40Z"), 0, speed=9)],
     parse_rfc3339_ms("2026-12-03T06:00:10Z"), [fix(parse_rfc3339_ms("2026-12-03T06:00:10Z"), 200, speed=9)],
     OUTFIT),
    ("no order", [], COMMUTE, [fix(COMMUTE, 0, speed=9)], []),
    ("an order older than recent_order_s (14 days)", [order(COMMUTE - 20 * DAY)], COMMUTE,
     [fix(COMMUTE, 0, speed=9)], []),
    ("nothing goes with what she ordered", [order(COMMUTE - 3 * DAY, "tee")], COMMUTE, [fix(COMMUTE, 0, speed=9)],
     []),
]


@pytest.mark.parametrize(("name", "earlier", "now", "events", "expected"), POST_ORDER_CASES,
                         ids=[c[0] for c in POST_ORDER_CASES])
def test_post_order_outfit(name: str, earlier: list[dict[str, Any]], now: int, events: list[dict[str, Any]],
                           expected: list[tuple[str, dict[str, Any]]]) -> None:
    before = anna(COMMUTE - 5 * DAY, *earlier)
    assert found(moment(before, events, REF, now)) == expected


def test_post_order_outfit_carries_the_complements_in_stock_in_her_size() -> None:
    before = anna(COMMUTE - 5 * DAY, order(COMMUTE - 3 * DAY))
    [cand] = candidates(moment(before, [fix(COMMUTE, 0, speed=9)], REF, COMMUTE))
    # coat goes with scarf (one size at S1), boots (her footwear size unknown: any) and jeans (M online)
    assert dict(cand.data) == {"items": "scarf,boots,jeans"}


def loyalty(t: int, points: int, tier: str = "silver", next_tier: str | None = "gold",
            threshold: int | None = 1000) -> dict[str, Any]:
    return ev("loyalty.updated", t, points=points, tier=tier,
              **({} if next_tier is None else {"next_tier": next_tier, "next_tier_threshold": threshold}))


LOYALTY_CASES = [
    ("becomes close to gold", [loyalty(STREET - DAY, 500)], [loyalty(STREET, 920)],
     [("loyalty_close", {"tier": "silver", "next_tier": "gold", "points": 920, "points_to_next": 80})]),
    ("was close already, same next tier", [loyalty(STREET - DAY, 910)], [loyalty(STREET, 950)], []),
    ("close to a new next tier after moving up", [loyalty(STREET - DAY, 950)],
     [loyalty(STREET, 4600, "gold", "platinum", 5000)],
     [("loyalty_close", {"tier": "gold", "next_tier": "platinum", "points": 4600, "points_to_next": 400})]),
    ("not close", [], [loyalty(STREET, 500)], []),
    ("the top tier has no next one", [], [loyalty(STREET, 9000, "platinum", None)], []),
]


@pytest.mark.parametrize(("name", "earlier", "events", "expected"), LOYALTY_CASES, ids=[c[0] for c in LOYALTY_CASES])
def test_loyalty_close(name: str, earlier: list[dict[str, Any]], events: list[dict[str, Any]],
                       expected: list[tuple[str, dict[str, Any]]]) -> None:
    before = anna(STREET - 2 * DAY, *earlier)
    assert found(moment(before, events, REF, STREET)) == expected


def restock(pid: str, size: str, store: str = "online") -> dict[str, Any]:
    return {"type": "kairos.notify.restock", "customer_id": "c-anna", "product_id": pid, "store_id": store,
            "size": size, "quantity": 3, "event_id": f"stock-{pid}-{size}", "occurred_at": "2026-12-03T17:30:00Z"}


BACK_CASES = [
    ("wished, restocked in her size", [wish("coat", STREET - DAY)], restock("coat", "M"),
     [("back_in_stock", {"product_id": "coat", "product_name": "Coat", "size": "M", "store_id": "online",
                         "store_name": "online"})]),
    ("restocked in another size", [wish("coat", STREET - DAY)], restock("coat", "L"), []),
    ("her wished size wins over her profile size", [wish("coat", STREET - DAY, "L")], restock("coat", "L", "S1"),
     [("back_in_stock", {"product_id": "coat", "product_name": "Coat", "size": "L", "store_id": "S1",
                         "store_name": "London"})]),
    ("one-size stock counts for her", [wish("scarf", STREET - DAY)], restock("scarf", ""),
     [("back_in_stock", {"product_id": "scarf", "product_name": "Scarf", "size": None, "store_id": "online",
                         "store_name": "online"})]),
    ("not wished", [], restock("coat", "M"), []),
    ("wished and removed", [wish("coat", STREET - DAY), ev("wishlist.removed", STREET - MIN, product_id="coat")],
     restock("coat", "M"), []),
]


@pytest.mark.parametrize(("name", "earlier", "stock", "expected"), BACK_CASES, ids=[c[0] for c in BACK_CASES])
def test_back_in_stock(name: str, earlier: list[dict[str, Any]], stock: dict[str, Any],
                       expected: list[tuple[str, dict[str, Any]]]) -> None:
    state = anna(STREET - 2 * DAY, *earlier)
    m = moment(state, [], REF, STREET, restock=stock)
    assert found(m) == expected
    assert [c.cause for c in candidates(m)] == ([stock["event_id"]] if expected else [])


FRIDAY_11 = parse_rfc3339_ms("2026-12-04T11:00:00Z")
HOME = {"lat": 51.50, "lon": -0.12}
HOURS = "Mo-Sa 10:00-20:00"


def omni_ref(near_hours: str | None = "Su 10:00-16:00", far_hours: str | None = HOURS) -> ReferenceData:
    """Store A 500 m north of her home (closed on Fridays by default), B 3 km north (open), C 1 km
    north without opening hours; a new parka in stock at A and B in M, an old shirt at C."""
    ref = ReferenceData(open_check=__import__("service.core.opening_hours", fromlist=["x"]).store_open_at)
    stores = {"A": (500, near_hours), "B": (3_000, far_hours), "C": (1_000, None)}
    for sid, (north, hours) in stores.items():
        fields: dict[str, Any] = {"name": f"Store {sid}", "location": offset(HOME, north, 0),
                                  "time_zone": "Europe/London"}
        if hours is not None:
            fields["opening_hours"] = hours
        apply_reference_event(ref, ref_event("store.upserted", CAT_T, f"st-{sid}", store_id=sid, **fields))
    for pid, arrived in (("parka", "2026-11-29T00:00:00Z"), ("shirt", "2026-01-01T00:00:00Z")):
        apply_reference_event(ref, ref_event("product.upserted", CAT_T, f"p-{pid}", product_id=pid, name=pid.title(),
                                             category="apparel", price=90.0, currency="GBP", sizes=["M"],
                                             arrived_at=arrived))
    for n, (sid, pid) in enumerate((("A", "parka"), ("B", "parka"), ("C", "shirt"))):
        apply_reference_event(ref, ref_event("stock.changed", CAT_T, f"s-{n}", store_id=sid, product_id=pid,
                                             size="M", quantity=2))
    return ref


def olga(*more: dict[str, Any]) -> Any:
    return after(None, ev("profile.updated", FRIDAY_11 - 10 * DAY, locale="en-GB", time_zone="Europe/London",
                          sizes={"apparel": "M"}, consent={"email": True}, home_area=HOME),
                 ev("product.viewed", FRIDAY_11 - 9 * DAY, product_id="parka"), *more)


STORE_B = [("store_recommendation", {"store_id": "B", "store_name": "Store B", "distance_m": 3000})]
OMNI_CASES = [
    ("the nearest store open now: A is closed on Fridays, C's hours are unknown", omni_ref(), [],
     [order(FRIDAY_11, "parka")], STORE_B),
    ("A open on Fridays: the nearest", omni_ref(near_hours=HOURS), [], [order(FRIDAY_11, "parka")],
     [("store_recommendation", {"store_id": "A", "store_name": "Store A", "distance_m": 500})]),
    ("no store open now", omni_ref(far_hours="Su 10:00-16:00"), [], [order(FRIDAY_11, "parka")], []),
    ("she visited a store: not online-only", omni_ref(),
     [ev("product.scanned", FRIDAY_11 - DAY, product_id="parka", store_id="B")], [order(FRIDAY_11, "parka")], []),
    ("a view is not an occasion to write", omni_ref(), [order(FRIDAY_11 - DAY, "parka")],
     [ev("product.viewed", FRIDAY_11, product_id="parka")], []),
]


@pytest.mark.parametrize(("name", "ref", "earlier", "events", "expected"), OMNI_CASES, ids=[c[0] for c in OMNI_CASES])
def test_store_recommendation(name: str, ref: ReferenceData, earlier: list[dict[str, Any]],
                              events: list[dict[str, Any]], expected: list[tuple[str, dict[str, Any]]]) -> None:
    before = olga(*earlier)
    assert found(moment(before, events, ref, FRIDAY_11)) == expected


def test_store_recommendation_lists_the_store_s_new_arrivals() -> None:
    [cand] = candidates(moment(olga(), [order(FRIDAY_11, "parka")], omni_ref(), FRIDAY_11))
    assert dict(cand.data) == {"new_arrivals": "parka"}


@pytest.mark.parametrize(("metres", "shown"), [(0.0, 0), (4.9, 0), (5.0, 0), (5.1, 10), (249.6, 250), (254.9, 250),
                                              (255.1, 260)])
def test_distances_are_rounded_to_ten_metres(metres: float, shown: int) -> None:
    assert rounded_m(metres) == shown


def test_moving_yesterday_says_nothing_about_this_morning() -> None:
    before = anna(COMMUTE - 5 * DAY, order(COMMUTE - 3 * DAY), fix(COMMUTE - DAY, 0, speed=9))
    assert found(moment(before, [fix(COMMUTE, 100, speed=9)], REF, COMMUTE)) == OUTFIT


@pytest.mark.parametrize(("north_m", "east_m", "within"), [(0, 0, True), (2_250, 0, True), (0, 2_250, True),
                                                          (2_400, 0, False), (0, -2_400, False), (1_600, 1_600, True),
                                                          (1_700, 1_700, False)])
def test_the_proximity_bound_never_calls_a_near_point_far(north_m: float, east_m: float, within: bool) -> None:
    from service.core.situations import geo

    here = offset(STORE, north_m, east_m)
    assert geo.roughly_within((here["lat"], here["lon"]), (STORE["lat"], STORE["lon"]), 2_300) is within
    assert geo.roughly_within((0.0, 179.9999), (0.0, -179.9999), 100) is True  # across the antimeridian


def test_a_fix_far_from_every_store_derives_no_situation() -> None:
    before = anna(STREET - 2 * DAY, wish("coat", STREET - 60 * MIN))
    m = moment(before, [fix(STREET, 5_000)], REF, STREET)
    assert found(m) == []
    assert "ctx" not in m.__dict__ and "stores_before" not in m.__dict__  # nothing was derived
