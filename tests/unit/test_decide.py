"""decide under the shipped default policy: the journey screens, blocks in order, stock and size
rules, incentives and their budget, weather variants, locales, determinism and the contract."""

from __future__ import annotations

from typing import Any

import pytest

from service.core.decide import decide, decide_with_context
from service.core.timeutil import format_rfc3339_ms
from tests.factories import request
from tests.unit.decide_fixtures import (
    DECISION_ID,
    EVENING,
    LUNCH,
    POLICY,
    VALIDATOR,
    anna,
    blocks,
    codes,
    ev,
    make_ref,
)
from tests.unit.situations.builders import STORE, offset

MIN = 60_000
PHONE = {"id": "dev-phone", "type": "phone"}
TABLET = {"id": "dev-tablet", "type": "tablet"}
WEB = {"id": "dev-web", "type": "web"}


def run(state: Any, req: dict[str, Any], now: int, ref: Any = None) -> dict[str, Any]:
    decision = decide(state, req, ref or make_ref(), POLICY, now, DECISION_ID)
    VALIDATOR.validate(decision)
    return decision


def test_cold_start_gets_the_home_screen_with_stocked_bestsellers() -> None:
    d = run(None, request(), LUNCH)
    assert (d["screen"], d["layout"], d["locale"], d["cold_start"], d["state_as_of"]) == (
        "home", "home", "en", True, None)
    # new arrivals (no affinities yet: all categories), then the city-classics theme ranked by
    # promoted (tee 0.05) and rating (coat 0.0375), the rest tied in catalog order; bestsellers
    # (the promoted ring and tee) are all on the screen already, so the block is left out
    assert blocks(d) == [("new_arrivals_for_you", ["ring", "raincoat"]),
                         ("themes", ["tee", "coat", "boots", "jeans", "scarf"])]
    assert codes(d, "screen") == [
        ("screen.skipped", "product_in_store: in_store=true does not hold; in_store: in_store=true does not hold; "
         "product: placement in ['app.product'] does not hold; "
         "inspiration: daypart in ['evening', 'night'] does not hold; "
         "web_home_outfit: placement in ['web.home'] does not hold; home_omnichannel: channel_history in "
         "['online_only'] does not hold; street: cold_start=false does not hold"),
        ("screen.matched", "home (layout home): always"),
    ]
    assert codes(d, "block") == [
        ("block.omitted", "resume_session: no abandoned session with a screen state"),
        ("block.omitted", "last_seen: nothing to show"),
        ("block.omitted", "wishlist: nothing to show"),
        ("block.deduplicated", "themes: already on the screen: raincoat"),
        ("block.deduplicated", "bestsellers: already on the screen: ring, tee"),
        ("block.omitted", "bestsellers: nothing to show"),
    ]
    assert [i["score"] for i in d["blocks"][1]["items"]] == [0.05, 0.0375, 0.0, 0.0, 0.0]
    assert d["incentive"] is None


def test_street_screen_on_the_phone_near_the_store() -> None:
    here = offset(STORE, 200, 0)
    state = anna(LUNCH, ev("wishlist.added", LUNCH - 3 * MIN, product_id="coat"),
                 ev("wishlist.added", LUNCH - 2 * MIN, product_id="boots", size="38"),
                 ev("product.viewed", LUNCH - MIN, product_id="jeans"))
    d = run(state, request(location=here), LUNCH)
    assert (d["screen"], d["layout"]) == ("street", "street")
    # wishlist: the coat in her size M is in stock (S1); the boots in 38 only in S1 too
    assert blocks(d)[:2] == [("wishlist", ["coat", "boots"]), ("store_recommendation", ["raincoat"])]
    store = d["blocks"][1]["store"]
    assert store == {"store_id": "S1", "name": "London", "distance_m": 200, "open_now": None}
    assert ("context.store", "near store S1, 200 m away") in codes(d)


def test_in_store_mode_after_the_dwell() -> None:
    enter = ev("geofence.entered", LUNCH - 3 * MIN, geofence_id="g-s1", store_id="S1")
    state = anna(LUNCH, ev("product.viewed", LUNCH - 10 * MIN, product_id="jeans"),
                 ev("wishlist.added", LUNCH - 9 * MIN, product_id="coat"), enter)
    d = run(state, request("app.store"), LUNCH)
    assert (d["screen"], d["layout"]) == ("in_store", "store_mode")
    assert [(b["id"], b["kind"]) for b in d["blocks"]] == [("scan_prompt", "scan_prompt"),
                                                             ("store_mode_picks", "carousel")]
    # picks in stock HERE in her size: the wished coat (M) first, then by score; boots count in
    # any size (her footwear size is unknown); the jeans she viewed are here only in S
    assert blocks(d)[1] == ("store_mode_picks", ["coat", "raincoat", "tee", "ring", "boots", "scarf"])
    assert ("block.filtered_out_of_stock", "store_mode_picks: not in stock at S1: jeans (M)") in codes(d)
    assert d["incentive"] is not None and d["incentive"]["id"] == "free_alteration"
    # one minute earlier the dwell was short of 120 s: near, not in — the street screen
    early = run(state, request("app.home"), LUNCH - 2 * MIN)
    assert early["screen"] == "home"


def test_a_scan_in_the_store_shows_the_product_view_without_hard_sell() -> None:
    enter = ev("geofence.entered", LUNCH - 5 * MIN, geofence_id="g-s1", store_id="S1")
    scan = ev("product.scanned", LUNCH - MIN, product_id="coat", store_id="S1")
    cart = ev("cart.added", LUNCH - 20 * MIN, product_id="tee", size="M")  # a discount would be eligible
    state = anna(LUNCH, cart, enter, scan)
    d = run(state, request("app.product", product_id="coat", locale="de-DE"), LUNCH)
    assert (d["screen"], d["layout"], d["locale"]) == ("product_in_store", "product_in_store", "de")
    assert blocks(d) == [("product_details", ["coat"]), ("other_colours_sizes", []),
                         ("goes_with_in_store", ["scarf", "boots"])]
    details = d["blocks"][0]["details"]
    assert details == {"material": "wool", "care": "dry clean", "rating": {"average": 4.5, "count": 40},
                       "reviews": [{"rating": 5, "text": "Sehr warm", "locale": "de-DE"},
                                   {"rating": 4, "text": "Warm", "locale": "en-GB"}]}
    assert d["blocks"][1]["variants"] == {
        "colours": ["navy", "sand"],
        "sizes": [
            {"size": "S", "online": True, "here": False,
             "stores": [{"store_id": "S2", "name": "London East", "distance_m": 2004}]},
            {"size": "M", "online": False, "here": True, "stores": []},
            {"size": "L", "online": False, "here": True, "stores": []},
        ],
    }
    assert d["blocks"][2]["title"] == "Passt dazu — hier in deiner Größe"
    # the jeans are here only in S (she wears M); the boots count in any size (footwear size unknown)
    assert ("block.filtered_out_of_stock", "goes_with_in_store: not in stock at S1: jeans (M)") in codes(d)
    assert d["incentive"] is None
    assert ("incentive.none", "screen product_in_store offers no incentive") in codes(d)


def test_evening_tablet_offers_resume_first_and_no_discount_banner() -> None:
    abandoned = ev("session.ended", EVENING - 5 * 60 * MIN, session_id="s-phone", device=PHONE,
                   outcome="abandoned", screen_state={"screen": "product", "product_id": "coat"})
    state = anna(EVENING, ev("product.viewed", EVENING - 6 * 60 * MIN, product_id="jeans"),
                 ev("product.scanned", EVENING - 7 * 60 * MIN, product_id="boots"),
                 ev("cart.added", EVENING - 6 * 60 * MIN, product_id="tee", size="M"), abandoned)
    d = run(state, request(device=TABLET), EVENING)
    assert (d["screen"], d["layout"]) == ("inspiration", "inspiration")
    ids = [b["id"] for b in d["blocks"]]
    assert ids[:3] == ["resume_session", "themes", "bestsellers"]
    assert d["blocks"][0]["resume"] == {"session_id": "s-phone", "device_type": "phone",
                                        "ended_at": format_rfc3339_ms(EVENING - 5 * 60 * MIN),
                                        "screen_state": {"screen": "product", "product_id": "coat"}}
    assert d["incentive"] is None
    assert ("incentive.excluded_by_screen",
            "cart_discount: eligible, but screen inspiration does not show discount incentives") in codes(d)
    # the same customer and cart at lunch on the web: the discount banner is offered
    web = run(state, request("web.home", WEB), LUNCH)
    assert web["incentive"] is not None and web["incentive"]["id"] == "cart_discount"


@pytest.mark.parametrize(
    ("condition", "theme", "title"),
    [("rain", "rainy_days", "Made for rainy days"), ("clear", "city_classics", "This season in the city")],
)
def test_weather_changes_the_themes_block(condition: str, theme: str, title: str) -> None:
    from service.core.reference import apply_reference_event
    from tests.factories import ref_event

    ref = make_ref()
    apply_reference_event(ref, ref_event("weather.observed", EVENING - 30 * MIN, "w", location=STORE,
                                         condition=condition, temperature_c=9.0))
    d = run(anna(EVENING), request(device=TABLET, location=STORE), EVENING, ref)
    themes = next(b for b in d["blocks"] if b["id"] == "themes")
    assert (themes["theme"], themes["title"]) == (theme, title)
    assert (("block.variant", "themes: variant 0 (weather in ['rain', 'storm'])") in codes(d)) is (condition == "rain")


def test_unknown_weather_is_said() -> None:
    d = run(anna(EVENING), request(device=TABLET), EVENING)
    assert ("context.weather", "unknown: no observation for cell 51.5,-0.1 (her home area)") in codes(d)


def test_web_home_leads_with_the_outfit_for_her_order() -> None:
    order = ev("order.placed", LUNCH - 2 * 86_400_000, order_id="o1", channel="online",
               lines=[{"product_id": "coat", "size": "M", "quantity": 1, "price": 150, "currency": "GBP"}])
    d = run(anna(LUNCH, order), request("web.home", WEB), LUNCH)
    assert (d["screen"], d["layout"]) == ("web_home_outfit", "web_home")
    # goes with the coat: jeans in M online (apparel, like the coat), boots (premium, like the
    # coat; her footwear size unknown), scarf (one size)
    assert blocks(d)[0] == ("outfit_for_order", ["jeans", "boots", "scarf"])


def test_loyalty_close_offers_the_exclusive_preview_until_its_cap() -> None:
    loyal = ev("loyalty.updated", LUNCH - MIN, points=920, tier="silver", next_tier="gold", next_tier_threshold=1000)
    d = run(anna(LUNCH, loyal), request("web.home", WEB), LUNCH)
    assert d["incentive"] == {"id": "exclusive_preview", "kind": "exclusive_preview", "value": "early access",
                              "title": "Early access for you",
                              "text": "You are close to your next level — see the new collection first.",
                              "reason": "priority 30; loyalty_close=true"}
    shown = anna(LUNCH, loyal)
    shown["contacts"] = [["s", LUNCH - 2 * 86_400_000, "d-1", "screen", "exclusive_preview", None]]
    d = run(shown, request("web.home", WEB), LUNCH)
    assert d["incentive"] is None
    assert ("incentive.over_budget", "exclusive_preview: blocked by exclusive_preview.caps[0]; next allowed "
            + format_rfc3339_ms(LUNCH + 5 * 86_400_000)) in codes(d)
    assert ("incentive.not_eligible",
            "event_invitation: channel_history in ['store_visitor'] does not hold") in codes(d)


def test_online_only_customer_is_shown_her_store_and_its_new_arrivals() -> None:
    order = ev("order.placed", LUNCH - 40 * 86_400_000, order_id="o1", channel="online",
               lines=[{"product_id": "tee", "size": "M", "quantity": 1, "price": 20, "currency": "GBP"}])
    d = run(anna(LUNCH, order), request(), LUNCH)
    assert (d["screen"], blocks(d)[0]) == ("home_omnichannel", ("store_recommendation", ["raincoat"]))
    assert d["blocks"][0]["store"] == {"store_id": "S1", "name": "London", "distance_m": 0, "open_now": None}
    # a store known to be closed is passed over for the next one
    ref = make_ref()
    ref.open_check = lambda store, now: store["name"] != "London"
    d = run(anna(LUNCH, order), request(), LUNCH, ref)
    assert d["blocks"][0]["store"] == {"store_id": "S2", "name": "London East", "distance_m": 2004,
                                       "open_now": True}


@pytest.mark.parametrize(("locale", "expected", "title"), [
    ("de-AT", "de", "Neu für dich"), ("de-DE", "de", "Neu für dich"), ("fr-FR", "en", "New arrivals for you"),
    (None, "en", "New arrivals for you")])
def test_texts_follow_her_locale_chain(locale: str | None, expected: str, title: str) -> None:
    req = request() if locale is None else request(locale=locale)
    d = run(None, req, LUNCH)
    assert (d["locale"], next(b["title"] for b in d["blocks"] if b["id"] == "new_arrivals_for_you")) == (
        expected, title)


def test_no_item_twice_and_deterministic() -> None:
    state = anna(EVENING, ev("product.viewed", EVENING - 60 * MIN, product_id="coat"),
                 ev("wishlist.added", EVENING - 50 * MIN, product_id="coat"))
    first, ctx = decide_with_context(state, request(device=TABLET), make_ref(), POLICY, EVENING, DECISION_ID)
    again = decide(state, request(device=TABLET), make_ref(), POLICY, EVENING, "another")
    assert {**again, "decision_id": DECISION_ID} == first
    every = [i["product_id"] for b in first["blocks"] for i in b["items"]]
    assert len(every) == len(set(every))
    assert ctx["daypart"] == "evening" and ctx["local_time"] == "2026-12-03T19:30:00+00:00"


def test_the_policy_version_and_degraded_reasons_pass_through() -> None:
    d = decide(None, request(), make_ref(), POLICY, LUNCH, DECISION_ID, ["state_recovering"])
    assert (d["policy_version"], d["degraded"], d["degraded_reasons"]) == ("default-2026.12.2", True,
                                                                          ["state_recovering"])


def test_the_street_screen_is_never_empty() -> None:
    # A known customer out and about, far from every store, with nothing wished or seen yet: the
    # personal blocks are empty, so the bestsellers close the screen (a review saw blocks: []).
    state = anna(LUNCH, ev("app.opened", LUNCH - MIN, device=PHONE))
    d = run(state, request(location=offset(STORE, 30_000, 0)), LUNCH)
    assert d["screen"] == "street"
    assert [b["id"] for b in d["blocks"]] == ["new_arrivals_for_you", "bestsellers"]
    assert len(d["blocks"][1]["items"]) > 0
