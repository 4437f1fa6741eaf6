"""Device and resume candidate, weather, affinities and sizes, loyalty, channel history, consent, context."""

from __future__ import annotations

from typing import Any

import pytest

from service.core.reference import apply_reference_event
from service.core.situations.affinity import derive_affinities, price_band, sizes_by_category
from service.core.situations.context import FACT_TYPES, derive_context
from service.core.situations.customer import consent, detect_channel_history, detect_loyalty
from service.core.situations.facts import record
from service.core.situations.session import detect_session
from service.core.situations.weather import detect_weather, weather_point
from tests.factories import DAY, HOUR, MIN, PHONE, T0, TABLET, event, ref_event, request, view
from tests.unit.situations.builders import CFG, STORE, fence_event, fix, make_ref, offset, product, timely


def ended(t: int, device: dict[str, str] = PHONE, outcome: str = "abandoned", sid: str = "s1") -> dict[str, Any]:
    return event("session.ended", t, f"end-{sid}-{t}", session_id=sid, device=device, outcome=outcome,
                 screen_state={"screen": "product", "product_id": "p1"})


@pytest.mark.parametrize(
    ("events", "device", "now", "resume", "why"),
    [
        ([ended(T0)], TABLET, T0 + 8 * HOUR, "s1", "session s1 abandoned on her phone 480 min ago"),
        ([ended(T0)], TABLET, T0 + 12 * HOUR, "s1", "session s1 abandoned on her phone 720 min ago"),
        ([ended(T0)], TABLET, T0 + 12 * HOUR + MIN,
         None, "abandoned session s1 ended 721 min ago: older than the resume window"),
        ([ended(T0)], PHONE, T0 + HOUR, None, "abandoned session s1 was on this device"),
        ([ended(T0, outcome="completed")], TABLET, T0 + HOUR, None, "no abandoned session with a screen state"),
        ([ended(T0), event("order.placed", T0 + MIN, order_id="o1", channel="online",
                           lines=[{"product_id": "p1", "quantity": 1, "price": 10, "currency": "GBP"}])],
         TABLET, T0 + HOUR, None, "abandoned session s1: she ordered after it"),
        ([], TABLET, T0, None, "no abandoned session with a screen state"),
    ],
)
def test_resume_candidate(events: list[dict[str, Any]], device: dict[str, str], now: int, resume: str | None,
                          why: str) -> None:
    state = record(timely(*events)) if events else record(None)
    found = detect_session(state, request(device=device), CFG, now)
    assert (None if found.resume is None else found.resume.session_id, found.reason) == (resume, why)
    if found.resume is not None:
        assert found.resume.screen_state == {"screen": "product", "product_id": "p1"}
        assert (found.resume.device_type, found.resume.ended_at_ms) == ("phone", T0)


def test_linked_devices_are_known() -> None:
    state = record(timely(event("identity.linked", T0, device_id="dev-tablet", device_type="tablet"),
                          event("app.opened", T0 + 1, device=PHONE)))
    found = detect_session(state, request(device=TABLET), CFG, T0 + 2)
    assert (found.known_device, found.other_devices) == (True, (("dev-phone", "phone"),))


WEATHER_CELL = {"lat": 51.52, "lon": -0.11}


def _weather_ref(observed_at: int, condition: str = "rain") -> Any:
    ref = make_ref()
    apply_reference_event(ref, ref_event("weather.observed", observed_at, "w1", location=WEATHER_CELL,
                                         condition=condition, temperature_c=8.5))
    return ref


@pytest.mark.parametrize(
    ("observed_at", "now", "condition", "reason"),
    [
        (T0, T0 + 3 * HOUR, "rain", "rain, 8.5 °C in cell 51.5,-0.1 (her position), observed 180 min ago"),
        (T0, T0 + 3 * HOUR + 1,
         "unknown", "unknown: the observation for cell 51.5,-0.1 is 180 min old (fresh for 180 min)"),
    ],
)
def test_weather_is_fresh_or_unknown(observed_at: int, now: int, condition: str, reason: str) -> None:
    here = fix(now, STORE)
    state = record(timely(here))
    from service.core.situations.facts import fixes, position

    all_fixes = fixes(state, None, now)
    point, what = weather_point(position(all_fixes, CFG, now), all_fixes[-1], None, CFG, now)
    found = detect_weather(point, what, _weather_ref(observed_at), CFG, now)
    assert (found.condition, found.reason) == (condition, reason)


def test_weather_without_location_or_observation_is_unknown_and_says_why() -> None:
    ref = _weather_ref(T0)
    assert detect_weather(None, "no location", ref, CFG, T0).reason == "unknown: no location for her"
    far = detect_weather((48.1, 11.6), "her home area", ref, CFG, T0)
    assert (far.condition, far.reason) == ("unknown", "unknown: no observation for cell 48.1,11.6 (her home area)")


def test_weather_falls_back_to_her_home_area() -> None:
    point, what = weather_point(None, None, (51.52, -0.11), CFG, T0)
    assert (point, what) == ((51.52, -0.11), "her home area")


def test_decayed_affinities_join_the_catalog() -> None:
    ref = make_ref()
    product(ref, "coat", price=150.0, category="apparel", on_sale=True)
    product(ref, "boots", price=90.0, category="footwear")
    state = record(timely(view("coat", T0), view("coat", T0 + 1), view("boots", T0 + 2), view("ghost", T0 + 3),
                          event("order.placed", T0 + 4, order_id="o1", channel="online",
                                lines=[{"product_id": "boots", "size": "39", "quantity": 1, "price": 90,
                                        "currency": "GBP"}])))
    aff = derive_affinities(state, ref, CFG, T0 + 4 + 14 * DAY)  # one half-life later
    assert {k: round(v, 6) for k, v in aff.products.items()} == {"coat": 1.0, "boots": 3.0, "ghost": 0.5}
    # the products' last interactions are 1-4 ms apart: shares agree to 1e-6
    assert aff.categories == pytest.approx({"apparel": 0.25, "footwear": 0.75}, rel=1e-6)
    assert aff.price_bands == pytest.approx({"mid": 0.75, "premium": 0.25}, rel=1e-6)
    assert round(aff.sale, 6) == 0.25
    assert aff.top_categories(1) == ("footwear",)


@pytest.mark.parametrize(("price", "band"), [(0.0, "budget"), (39.99, "budget"), (40.0, "mid"), (99.99, "mid"),
                                             (100.0, "premium")])
def test_price_bands(price: float, band: str) -> None:
    assert price_band(price, CFG) == band


def test_her_size_per_category_profile_then_order_then_wishlist() -> None:
    ref = make_ref()
    product(ref, "tee", category="apparel")
    product(ref, "boots", category="footwear")
    product(ref, "ring", category="jewelry")
    state = record(timely(
        event("wishlist.added", T0, product_id="ring", size="52"),
        event("wishlist.added", T0 + 1, product_id="tee", size="L"),
        event("order.placed", T0 + 2, order_id="o1", channel="online",
              lines=[{"product_id": "tee", "size": "S", "quantity": 1, "price": 9, "currency": "GBP"},
                     {"product_id": "boots", "size": "39", "quantity": 1, "price": 90, "currency": "GBP"}]),
        event("profile.updated", T0 + 3, sizes={"apparel": "M"}),
    ))
    assert sizes_by_category(state, ref) == {"apparel": ("M", "profile"), "footwear": ("39", "order"),
                                             "jewelry": ("52", "wishlist")}


@pytest.mark.parametrize(
    ("points", "threshold", "next_tier", "close", "to_next"),
    [(900, 1000, "gold", True, 100), (899, 1000, "gold", False, 101), (1000, 1000, "gold", False, 0),
     (5000, None, None, False, None)],
)
def test_loyalty_distance_and_close(points: int, threshold: int | None, next_tier: str | None, close: bool,
                                    to_next: int | None) -> None:
    fields: dict[str, Any] = {"points": points, "tier": "silver"}
    if next_tier is not None:
        fields |= {"next_tier": next_tier, "next_tier_threshold": threshold}
    loyalty = detect_loyalty(record(timely(event("loyalty.updated", T0, **fields))), CFG)
    assert loyalty is not None and (loyalty.close, loyalty.points_to_next) == (close, to_next)


def _order(t: int, channel: str, store: str | None = None) -> dict[str, Any]:
    fields: dict[str, Any] = {"order_id": f"o{t}", "channel": channel,
                              "lines": [{"product_id": "p1", "quantity": 1, "price": 10, "currency": "GBP"}]}
    if store:
        fields["store_id"] = store
    return event("order.placed", t, **fields)


@pytest.mark.parametrize(
    ("events", "now", "kind", "stores"),
    [
        ([_order(T0, "online"), _order(T0 + 1, "online")], T0 + DAY, "online_only", ()),
        ([_order(T0, "online"), _order(T0 + 1, "store", "S1")], T0 + DAY, "store_visitor", ("S1",)),
        ([_order(T0, "store", "S1"), _order(T0 + 1, "online")], T0 + 91 * DAY, "online_only", ()),  # visit too old
        ([_order(T0, "online"), fence_event("dwelled", T0 + 1)], T0 + DAY, "store_visitor", ("S1",)),
        ([_order(T0, "online"), fence_event("entered", T0 + 1)], T0 + 2, "online_only", ()),  # unconfirmed entry
        ([view("p1", T0)], T0 + 1, "browser", ()),
        ([], T0, "none", ()),
    ],
)
def test_channel_history(events: list[dict[str, Any]], now: int, kind: str, stores: tuple[str, ...]) -> None:
    state = record(timely(*events)) if events else record(None)
    found = detect_channel_history(state, CFG, now)
    assert (found.kind, found.store_ids) == (kind, stores)


def test_usual_area_from_profile_else_her_locations() -> None:
    a, b, c = STORE, offset(STORE, 100, 0), offset(STORE, 200, 0)
    state = record(timely(fix(T0, a), fix(T0 + 1, b), fix(T0 + 2, c)))
    found = detect_channel_history(state, CFG, T0 + 3)
    assert (found.usual_area, found.area_source) == ((b["lat"], b["lon"]), "locations")
    state = record(timely(fix(T0, a), event("profile.updated", T0 + 1, home_area={"lat": 52.5, "lon": 13.4})))
    found = detect_channel_history(state, CFG, T0 + 3)
    assert (found.usual_area, found.area_source) == ((52.5, 13.4), "profile")


@pytest.mark.parametrize(
    ("consents", "push", "email"),
    [({}, False, False), ({"push": True}, True, False), ({"push": True, "email": False}, True, False),
     ({"email": True}, False, True)],
)
def test_no_consent_means_no(consents: dict[str, bool], push: bool, email: bool) -> None:
    events = [event("profile.updated", T0, consent=consents)] if consents else [view("p1", T0)]
    state = record(timely(*events))
    assert (consent(state, "push"), consent(state, "email")) == (push, email)


def test_a_cold_start_context_has_every_fact_and_safe_defaults() -> None:
    ctx = derive_context(None, request(), make_ref(), CFG, T0)
    assert set(ctx.facts) == set(FACT_TYPES)
    assert {k: v for k, v in ctx.facts.items() if v not in (False, None)} == {
        "placement": "app.home", "device": "phone", "cold_start": True, "daypart": "lunch", "weekday": True,
        "local_hour": 12, "weather": "unknown", "channel_history": "none"}
    assert ctx.reasons[0] == ("context.store", "not at a store: no_location")


def test_context_scanned_in_store_and_her_local_evening() -> None:
    state = timely(event("profile.updated", T0, time_zone="Europe/London", locale="de-DE",
                         consent={"push": True}),
                   fence_event("entered", T0 + 1), event("product.scanned", T0 + 4 * MIN, product_id="p1",
                                                         store_id="S1"))
    evening = T0 + 6 * HOUR  # 18:00 in London in January
    ctx = derive_context(state, request("app.product", product_id="p1"), make_ref(), CFG, T0 + 5 * MIN)
    assert (ctx.facts["in_store"], ctx.facts["scanned_in_store"], ctx.store_id) == (True, True, "S1")
    assert (ctx.facts["language"], ctx.requested_locale, ctx.facts["consent_push"]) == ("de", "de-DE", True)
    late = derive_context(state, request("app.product", product_id="p1"), make_ref(), CFG, evening)
    assert (late.facts["in_store"], late.facts["scanned_in_store"], late.facts["daypart"]) == (False, False,
                                                                                               "evening")
