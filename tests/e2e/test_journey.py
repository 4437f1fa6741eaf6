"""The acceptance journey ("Anna", ../shared/DESIGN.md) against the running service.

`kairos broker` and Kairos run as their own processes (Kairos with the test clock, the bundled
demo catalog and the London store, a Radar webhook and a delivery gateway configured). Apps post
events and ask for decisions over HTTP, the location provider posts signed Radar geofence
events, the clock is moved between steps, and every notification is read from the notifications
topic (and from the fake gateway, which gets the same ones). London is on GMT in January.

Timeline: Monday 5 January 2026 (steps 1-4), a Tuesday-night pass in quiet hours, Thursday 8
January (steps 5-7), Friday 9 January (step 7's email at 08:00, a second commute, step 8).
The steps share one Kairos and run in order; each asserts the exact screen, its blocks in
order, the incentive or its absence, and the notifications (content, channel, count).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.driver import RADAR_GEOFENCE, STORE_POINT, Driver, block, blocks, codes, items, offset
from tests.fake_gateway import FakeGateway
from tests.integration.conftest import kairos_env
from tests.integration.harness import BrokerProcess, Kairos, assert_schema, eventually

TRENCH = "da045e5a-9383-482d-956b-8a3b6d705bdc"  # Urban Chic Trench Coat: 5 in M at London, none online
BOOTS = "9955397c-d668-40d7-ae63-0f4a3aa8a523"  # Sleek Urban Chunky Ankle Boots: none in 38 at London
HOODIE = "0aa18bc9-58bf-4a77-bb01-bd59605512ab"  # Urban Chic Denim Hoodie Jacket
MOTO = "4a0fa2b3-51a0-4bee-aa6f-90c9905960d2"  # Edgy Elegance Leather Moto Jacket (GTIN 2673133800021 = M)
WATERPROOF = "a7fc7d65-a3c7-4793-8c60-8631d208f4a4"  # Ocean Breeze Waterproof Jacket
LACE_UP = "f7c1d04c-3076-4389-b06a-91993c983777"  # Rustic Charm Lace-Up Boots, arrived 12 Dec 2025
COMBAT = "d23ef17b-f59c-4f8e-959f-be8faef2ac9a"  # Vintage Bloom Combat Boots
LONDON = "store-london-01"
RADAR_TOKEN = "radar-journey-t0ken"
PHONE, TABLET, LAPTOP = ({"id": "anna-phone", "type": "phone"}, {"id": "anna-tablet", "type": "tablet"},
                         {"id": "anna-laptop", "type": "web"})


@pytest.fixture(scope="module")
def gateway() -> Iterator[FakeGateway]:
    fake = FakeGateway()
    fake.start_in_thread()
    yield fake
    fake.stop_thread()


@pytest.fixture(scope="module")
def j(e2e_broker: BrokerProcess, gateway: FakeGateway, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Driver]:
    folder = tmp_path_factory.mktemp("journey")
    suffix = uuid.uuid4().hex[:6]
    (folder / "radar-token").write_text(RADAR_TOKEN + "\n")
    (folder / "gateway-token").write_text("gw-t0ken\n")
    (folder / "mapping.yaml").write_text(
        f"radar:\n  customers: {{user_id: {{anna-radar: anna-{suffix}}}}}\n"
        f"  stores: {{geofence_id: {{'{RADAR_GEOFENCE}': {LONDON}}}}}\n")
    ns = f"j{uuid.uuid4().hex[:10]}"
    env = kairos_env(e2e_broker, ns, KAIROS_TEST_CLOCK="true", KAIROS_TEST_CLOCK_START="2026-01-05T09:00:00Z",
                     KAIROS_WEBHOOK_RADAR_TOKEN_FILE=str(folder / "radar-token"),
                     KAIROS_MAPPING_FILE=str(folder / "mapping.yaml"), KAIROS_NOTIFY_WEBHOOK_URL=gateway.url,
                     KAIROS_NOTIFY_WEBHOOK_TOKEN_FILE=str(folder / "gateway-token"))
    worker = Kairos(data_dir=folder / "data", env=env).start()
    driver = Driver(worker, e2e_broker.bootstrap, f"{ns}.kairos.notifications.v1", RADAR_TOKEN,
                    anna=f"anna-{suffix}", olga=f"olga-{suffix}")
    driver.devices = {"phone": PHONE, "tablet": TABLET, "web": LAPTOP, "olga": {"id": "olga-phone", "type": "phone"}}
    yield driver
    worker.stop()


def one(notes: list[dict[str, Any]], trigger: str) -> dict[str, Any]:
    [found] = [n for n in notes if n["trigger"] == trigger]
    assert_schema("notification.schema.json", found)
    return found


def content(n: dict[str, Any]) -> dict[str, Any]:
    """What the delivery systems act on (ids are uuid5 of the cause: checked apart)."""
    return {k: v for k, v in n.items() if k not in ("notification_id", "customer_id", "policy_version")}


def test_before_the_journey_she_wished_two_items_and_left_a_session(j: Driver) -> None:
    anna = j.anna
    j.at("2026-01-05T09:00:00Z")
    j.reference("stock.changed", store_id="online", product_id=BOOTS, size="38", quantity=0)  # sold out in 38
    j.send(anna,
           j.event(anna, "profile.updated", locale="en-GB", time_zone="Europe/London",
                   sizes={"apparel": "M", "footwear": "38"}, consent={"push": True, "email": True}),
           j.event(anna, "wishlist.added", product_id=TRENCH, size="M"),
           j.event(anna, "wishlist.added", product_id=BOOTS, size="38"),
           j.event(anna, "product.viewed", product_id=WATERPROOF, device=LAPTOP))
    j.at("2026-01-05T12:30:00Z")
    j.send(anna, j.event(anna, "session.started", session_id="s-lunch", device=PHONE),
           j.event(anna, "product.viewed", product_id=HOODIE, device=PHONE),
           j.event(anna, "session.ended", session_id="s-lunch", device=PHONE, outcome="abandoned",
                   screen_state={"screen": "product", "product_id": HOODIE}))
    assert j.topic_notifications(anna) == []  # nothing near, nothing back in stock yet


def test_step_1_street_early_evening_one_push_250_m_from_the_store(j: Driver) -> None:
    anna = j.anna
    j.at("2026-01-05T17:40:00Z")
    here = offset(STORE_POINT, 250, 0)
    j.post(j.event(anna, "location.updated", location=here, accuracy_m=8))
    j.radar("anna-radar", "entered", here, "5e5055b3b0145e00e8d40001")
    j.synced(anna, "radar-5e5055b3b0145e00e8d40001")
    [push] = j.notifications(anna, 1)
    assert content(one([push], "wishlist_nearby")) == {
        "trigger": "wishlist_nearby", "situation": "wishlist_item_near_store", "channel": "push",
        "dedup_key": f"wishlist_nearby:{TRENCH}:{LONDON}", "created_at": "2026-01-05T17:40:00.000Z",
        "sent_at": "2026-01-05T17:40:00.000Z", "expires_at": "2026-01-05T17:55:00.000Z", "locale": "en",
        "title": "Your wishlist item is here",
        "body": "Urban Chic Trench Coat is in stock in your size at Retail Demo Store London, 250 m away.",
        "data": {"distance_m": 250, "in_store": False, "product_id": TRENCH, "product_name": "Urban Chic Trench Coat",
                 "size": "M", "store_id": LONDON, "store_name": "Retail Demo Store London"}}
    street = j.decide(anna, "app.home", "phone")
    assert (street["screen"], street["layout"], street["incentive"]) == ("street", "street", None)
    assert blocks(street) == ["wishlist", "store_recommendation", "last_seen", "new_arrivals_for_you", "bestsellers"]
    assert items(street, "wishlist") == ["da045e5a"]  # the boots are sold out in 38
    assert block(street, "store_recommendation")["store"] == {
        "store_id": LONDON, "name": "Retail Demo Store London", "distance_m": 250, "open_now": True}
    assert items(street, "store_recommendation") == ["0aa18bc9", "f7c1d04c"]  # its new arrivals, her sizes
    assert items(street, "last_seen") == ["a7fc7d65"]  # the hoodie is on the screen already


def test_step_2_in_the_store_store_mode_and_the_incentive_counted_once(j: Driver) -> None:
    anna = j.anna
    j.at("2026-01-05T17:43:00Z")  # inside the fence for 3 minutes: past the 2-minute dwell
    store = j.decide(anna, "app.home", "phone")
    assert (store["screen"], store["layout"]) == ("in_store", "store_mode")
    assert blocks(store) == ["scan_prompt", "store_mode_picks"]
    assert items(store, "store_mode_picks") == ["da045e5a", "a7fc7d65", "0aa18bc9", "4a0fa2b3", "5965d439",
                                                "131f849e", "d55cb0b4", "be0749f9"]
    assert (store["incentive"]["id"], store["incentive"]["title"]) == ("free_alteration", "Free alteration today")
    # Counted against her budget on the stream, from the decision record, once.
    row = ["s", j.now_ms, store["decision_id"], "screen", "free_alteration", None]
    eventually(lambda: row in j.state(anna)["contacts"], timeout_s=20)
    again = j.decide(anna, "app.home", "phone")
    assert (again["screen"], again["incentive"]) == ("in_store", None)
    assert codes(again, "incentive.over_budget") == [
        "free_alteration: blocked by free_alteration.cooldown; next allowed 2026-01-06T17:43:00.000Z"]
    assert [r for r in j.state(anna)["contacts"] if r[0] == "s" and r[3] == "screen"] == [row]
    assert len(j.topic_notifications(anna)) == 1  # walking into the store sends nothing more


def test_step_3_the_scan_shows_details_and_what_goes_with_it_here_no_hard_sell(j: Driver) -> None:
    anna = j.anna
    j.at("2026-01-05T17:45:00Z")
    j.send(anna, j.event(anna, "product.scanned", gtin="2673133800021", store_id=LONDON))
    scan = j.decide(anna, "app.product", "phone", product_id=MOTO, store_id=LONDON)
    assert (scan["screen"], scan["layout"], scan["incentive"]) == ("product_in_store", "product_in_store", None)
    assert blocks(scan) == ["product_details", "other_colours_sizes", "goes_with_in_store"]
    details = block(scan, "product_details")["details"]
    assert (details["material"], details["rating"]) == ("100% leather", {"average": 4.6, "count": 97})
    variants = block(scan, "other_colours_sizes")["variants"]
    assert variants["colours"] == ["black", "white", "silver"]
    assert [(v["size"], v["online"], v["here"]) for v in variants["sizes"]] == [
        ("XS", True, True), ("S", True, True), ("M", True, True), ("L", True, True), ("XL", True, True)]
    # what goes with it, in stock in THIS store in her size (boots in 38, one-size backpacks)
    goes = block(scan, "goes_with_in_store")["items"]
    assert [(i["product_id"][:8], i.get("size")) for i in goes] == [
        ("f7c1d04c", "38"), ("f1c73a48", "38"), ("4ec7ff5c", None), ("3491deff", None)]
    assert codes(scan, "incentive.none") == ["screen product_in_store offers no incentive"]


def test_step_1_again_passing_the_store_within_the_cooldown_sends_no_second_push(j: Driver) -> None:
    anna = j.anna
    j.at("2026-01-05T18:30:00Z")
    j.radar("anna-radar", "exited", offset(STORE_POINT, 700, 0), "5e5055b3b0145e00e8d40002")
    j.send(anna, j.event(anna, "location.updated", location=offset(STORE_POINT, 900, 0), accuracy_m=8))
    j.at("2026-01-05T18:50:00Z")
    j.post(j.event(anna, "location.updated", location=offset(STORE_POINT, 260, 0), accuracy_m=8))
    j.radar("anna-radar", "entered", offset(STORE_POINT, 260, 0), "5e5055b3b0145e00e8d40003")
    j.synced(anna, "radar-5e5055b3b0145e00e8d40003")
    j.funnel_reaches("wishlist_item_near_store", "suppressed", 1)
    assert j.outcome("wishlist_item_near_store", "suppressed", "duplicate") == 1
    assert [n["trigger"] for n in j.topic_notifications(anna)] == ["wishlist_nearby"]


def test_step_4_back_in_stock_push_then_the_evening_tablet_inspiration_screen(j: Driver) -> None:
    anna = j.anna
    j.at("2026-01-05T20:25:00Z")
    j.reference("stock.changed", store_id="online", product_id=BOOTS, size="38", quantity=4)
    notes = j.notifications(anna, 2)
    assert content(one(notes, "back_in_stock")) == {
        "trigger": "back_in_stock", "situation": "back_in_stock", "channel": "push",
        "dedup_key": f"back_in_stock:{BOOTS}:38", "created_at": "2026-01-05T20:25:00.000Z",
        "sent_at": "2026-01-05T20:25:00.000Z", "expires_at": "2026-01-06T20:25:00.000Z", "locale": "en",
        "title": "Back in stock", "body": "Sleek Urban Chunky Ankle Boots is back in your size.",
        "data": {"product_id": BOOTS, "product_name": "Sleek Urban Chunky Ankle Boots", "quantity": 4,
                 "size": "38", "store_id": "online", "store_name": "online"}}
    j.at("2026-01-05T20:28:00Z")
    j.send(anna, j.event(anna, "cart.added", product_id=MOTO, size="M", quantity=1))
    j.at("2026-01-05T20:30:00Z")
    sofa = j.decide(anna, "app.home", "tablet")
    assert (sofa["screen"], sofa["layout"]) == ("inspiration", "inspiration")
    assert blocks(sofa) == ["resume_session", "themes", "bestsellers", "last_seen", "new_arrivals_for_you"]
    assert block(sofa, "resume_session")["resume"] == {
        "session_id": "s-lunch", "device_type": "phone", "ended_at": "2026-01-05T12:30:00.000Z",
        "screen_state": {"screen": "product", "product_id": HOODIE}}
    # themes ranked by her purchase propensity take her own items first: the wishlist and the
    # boots back in stock are on the screen already, so their blocks say so and are left out
    assert items(sofa, "themes") == ["4a0fa2b3", "da045e5a", "9955397c", "a7fc7d65", "ece250d1", "5965d439"]
    assert [d for d in codes(sofa, "block.deduplicated") if d.startswith(("wishlist", "back_in_stock"))] == [
        f"wishlist: already on the screen: {TRENCH}, {BOOTS}", f"back_in_stock: already on the screen: {BOOTS}"]
    assert items(sofa, "last_seen") == ["0aa18bc9"]
    # conversion pushing is pushed back: her basket makes the discount eligible, the screen drops it
    assert sofa["incentive"] is None
    assert codes(sofa, "incentive.excluded_by_screen") == [
        "cart_discount: eligible, but screen inspiration does not show discount incentives"]
    j.at("2026-01-05T20:40:00Z")
    j.send(anna, j.event(anna, "order.placed", order_id="o-anna-1", channel="online",
                         lines=[{"product_id": TRENCH, "size": "M", "quantity": 1, "price": 189.99,
                                 "currency": "GBP"}]))
    assert len(j.topic_notifications(anna)) == 2


def test_tuesday_night_a_push_held_in_quiet_hours_expires_and_is_counted(j: Driver) -> None:
    anna = j.anna
    j.at("2026-01-06T12:00:00Z")
    j.send(anna, j.event(anna, "wishlist.added", product_id=HOODIE, size="M"))
    j.at("2026-01-06T22:30:00Z")
    j.radar("anna-radar", "exited", None, "5e5055b3b0145e00e8d40004")
    j.at("2026-01-06T22:31:00Z")
    j.radar("anna-radar", "entered", offset(STORE_POINT, 200, 0), "5e5055b3b0145e00e8d40005")
    j.synced(anna, "radar-5e5055b3b0145e00e8d40005")
    j.funnel_reaches("wishlist_item_near_store", "expired", 1)
    assert j.outcome("wishlist_item_near_store", "capped", "quiet_hours") == 1
    assert j.outcome("wishlist_item_near_store", "expired", "before_next_allowed") == 1
    log = j.admin(anna)["log"][0]
    assert {k: log[k] for k in ("at", "trigger", "channel", "stage", "reason")} == {
        "at": "2026-01-06T22:31:00.000Z", "trigger": "wishlist_nearby", "channel": "push", "stage": "expired",
        "reason": "before_next_allowed"}
    assert len(j.topic_notifications(anna)) == 2


def test_step_5_thursday_morning_commute_one_outfit_tip(j: Driver) -> None:
    anna = j.anna
    j.at("2026-01-08T08:15:00Z")
    j.send(anna, j.event(anna, "location.updated", location=offset(STORE_POINT, 3000, 0), accuracy_m=8,
                         speed_mps=9.0))
    notes = j.notifications(anna, 3)
    assert content(one(notes, "post_order_outfit")) == {
        "trigger": "post_order_outfit", "situation": "post_order_outfit", "channel": "push",
        "dedup_key": "post_order_outfit:o-anna-1", "created_at": "2026-01-08T08:15:00.000Z",
        "sent_at": "2026-01-08T08:15:00.000Z", "expires_at": "2026-01-08T11:15:00.000Z", "locale": "en",
        "title": "A personal tip for your order", "body": "Pieces that go with Urban Chic Trench Coat.",
        "data": {"items": ",".join([COMBAT, BOOTS, "da1f2a8f-5372-4102-b357-9e40900ebb08",
                                    "296d144e-7f86-464b-9c5a-f545257f1700"]),
                 "order_id": "o-anna-1", "product_id": TRENCH, "product_name": "Urban Chic Trench Coat"}}
    j.at("2026-01-08T08:15:30Z")
    j.send(anna, j.event(anna, "location.updated", location=offset(STORE_POINT, 3270, 0), accuracy_m=8,
                         speed_mps=9.0))
    assert len(j.topic_notifications(anna)) == 3  # the same commute: nothing more


def test_step_6_lunch_on_the_web_the_home_page_leads_with_her_outfit(j: Driver) -> None:
    j.at("2026-01-08T12:30:00Z")
    web = j.decide(j.anna, "web.home", "web")
    assert (web["screen"], web["layout"]) == ("web_home_outfit", "web_home")
    assert blocks(web) == ["outfit_for_order", "last_seen", "new_arrivals_for_you", "wishlist"]
    assert items(web, "outfit_for_order") == ["9955397c", "d23ef17b", "da1f2a8f", "296d144e"]
    assert web["incentive"]["id"] == "cart_discount"  # the moto jacket is still in her basket


def test_step_7_close_to_gold_the_email_waits_for_quiet_hours_to_end(j: Driver) -> None:
    anna = j.anna
    j.at("2026-01-08T22:10:00Z")
    j.send(anna, j.event(anna, "loyalty.updated", points=920, tier="silver", next_tier="gold",
                         next_tier_threshold=1000))
    [held] = j.admin(anna)["held"]
    assert {k: held[k] for k in ("trigger", "channel", "created_at", "due_at", "expires_at")} == {
        "trigger": "loyalty_close", "channel": "email", "created_at": "2026-01-08T22:10:00.000Z",
        "due_at": "2026-01-09T08:00:00.000Z", "expires_at": "2026-01-11T22:10:00.000Z"}
    assert j.funnel("loyalty_close", "deferred") == 1 and len(j.topic_notifications(anna)) == 3
    j.at("2026-01-08T22:11:00Z")
    home = j.decide(anna, "app.home", "phone")
    assert (home["screen"], home["incentive"]["id"], home["incentive"]["title"]) == (
        "home", "exclusive_preview", "Early access for you")
    assert blocks(home) == ["last_seen", "wishlist", "new_arrivals_for_you", "themes", "bestsellers"]
    j.at("2026-01-09T08:00:30Z")  # the timer sees the clock pass 08:00 and the email goes out
    notes = j.notifications(anna, 4)
    assert content(one(notes, "loyalty_close")) == {
        "trigger": "loyalty_close", "situation": "loyalty_close", "channel": "email",
        "dedup_key": "loyalty_close:gold", "created_at": "2026-01-08T22:10:00.000Z",
        "not_before": "2026-01-09T08:00:00.000Z", "sent_at": "2026-01-09T08:00:30.000Z",
        "expires_at": "2026-01-11T22:10:00.000Z", "locale": "en", "title": "You are almost there",
        "body": "Only 80 points to gold: previews and invitations await.",
        "data": {"next_tier": "gold", "points": 920, "points_to_next": 80, "tier": "silver"}}
    assert j.admin(anna)["held"] == []


def test_step_5_again_the_next_commute_gets_no_second_tip_for_the_order(j: Driver) -> None:
    anna = j.anna
    j.at("2026-01-09T08:20:00Z")
    j.send(anna, j.event(anna, "location.updated", location=offset(STORE_POINT, 3000, 0), accuracy_m=8,
                         speed_mps=9.0))
    j.funnel_reaches("post_order_outfit", "suppressed", 1)
    assert j.outcome("post_order_outfit", "suppressed", "duplicate") == 1
    assert [n["trigger"] for n in j.topic_notifications(anna)] == [
        "wishlist_nearby", "back_in_stock", "post_order_outfit", "loyalty_close"]


def test_step_8_an_online_only_customer_is_recommended_the_open_store_in_her_area(j: Driver) -> None:
    olga = j.olga
    home = offset(STORE_POINT, 0, 2000)
    j.at("2026-01-09T10:55:00Z")
    # a pop-up nearer to her home, closed on Fridays: never the recommendation today
    j.reference("store.upserted", store_id="store-angel", name="Angel Pop-up", location=offset(home, 300, 0),
                radius_m=40, opening_hours="Sa-Su 10:00-18:00", time_zone="Europe/London")
    j.reference("stock.changed", store_id="store-angel", product_id=LACE_UP, size="38", quantity=3)
    j.send(olga, j.event(olga, "profile.updated", locale="en-GB", time_zone="Europe/London", home_area=home,
                         sizes={"footwear": "38"}, consent={"email": True}),
           j.event(olga, "product.viewed", product_id=LACE_UP))
    j.at("2026-01-09T11:00:00Z")
    j.send(olga, j.event(olga, "order.placed", order_id="o-olga-1", channel="online",
                         lines=[{"product_id": COMBAT, "size": "38", "quantity": 1, "price": 99.0, "currency": "GBP"}]))
    [email] = j.notifications(olga, 1)
    assert content(one([email], "store_recommendation")) == {
        "trigger": "store_recommendation", "situation": "store_recommendation", "channel": "email",
        "dedup_key": f"store_recommendation:{LONDON}", "created_at": "2026-01-09T11:00:00.000Z",
        "sent_at": "2026-01-09T11:00:00.000Z", "expires_at": "2026-01-11T11:00:00.000Z", "locale": "en",
        "title": "A store near you", "body": "Retail Demo Store London has new arrivals picked for you.",
        "data": {"distance_m": 2000, "new_arrivals": LACE_UP, "store_id": LONDON,
                 "store_name": "Retail Demo Store London"}}
    omni = j.decide(olga, "app.home", "olga")
    assert (omni["screen"], omni["layout"], omni["incentive"]) == ("home_omnichannel", "home", None)
    assert blocks(omni) == ["store_recommendation", "new_arrivals_for_you", "bestsellers"]
    assert block(omni, "store_recommendation")["store"] == {
        "store_id": LONDON, "name": "Retail Demo Store London", "distance_m": 2004, "open_now": True}
    assert items(omni, "store_recommendation") == ["f7c1d04c"]


def test_the_gateway_got_every_notification_with_its_token(j: Driver, gateway: FakeGateway) -> None:
    on_topic = [n["notification_id"] for c in (j.anna, j.olga) for n in j.topic_notifications(c)]
    assert len(on_topic) == 5
    eventually(lambda: len(gateway.received) == 5, timeout_s=20)
    assert sorted(r.body["notification_id"] for r in gateway.received) == sorted(on_topic)
    assert {(r.headers["Authorization"], r.headers["Idempotency-Key"] == r.body["notification_id"])
            for r in gateway.received} == {("Bearer gw-t0ken", True)}
    assert j.funnel("wishlist_item_near_store", "sent") == 1 and j.funnel("wishlist_item_near_store", "detected") == 3
