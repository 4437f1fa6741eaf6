"""The acceptance journey ("Anna", ../shared/DESIGN.md) against the running service."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.driver import RADAR_GEOFENCE, STORE_POINT, Driver, block, blocks, codes, items, offset
from tests.fake_gateway import FakeGateway
from tests.integration.conftest import kairos_env
from tests.integration.harness import BrokerProcess, Kairos

TRENCH = "da045e5a-9383-482d-956b-8a3b6d705bdc"  # Urban Chic Trench Coat: M at London (5), not online
BOOTS = "9955397c-d668-40d7-ae63-0f4a3aa8a523"  # Sleek Urban Chunky Ankle Boots
HOODIE = "0aa18bc9-58bf-4a77-bb01-bd59605512ab"  # Urban Chic Denim Hoodie Jacket
MOTO = "4a0fa2b3-51a0-4bee-aa6f-90c9905960d2"  # Edgy Elegance Leather Moto Jacket
WATERPROOF = "a7fc7d65-a3c7-4793-8c60-8631d208f4a4"  # Ocean Breeze Waterproof Jacket
RADAR_TOKEN = "radar-journey-t0ken"


@pytest.fixture(scope="module")
def gateway() -> Iterator[FakeGateway]:
    fake = FakeGateway()
    fake.start_in_thread()
    yield fake
    fake.stop_thread()


@pytest.fixture(scope="module")
def journey(e2e_broker: BrokerProcess, gateway: FakeGateway, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Driver]:
    folder = tmp_path_factory.mktemp("journey")
    anna = f"anna-{uuid.uuid4().hex[:6]}"
    (folder / "radar-token").write_text(RADAR_TOKEN + "\n")
    (folder / "gateway-token").write_text("gw-t0ken\n")
    (folder / "mapping.yaml").write_text(
        f"radar:\n  customers: {{user_id: {{anna-radar: {anna}}}}}\n"
        f"  stores: {{geofence_id: {{'{RADAR_GEOFENCE}': store-london-01}}}}\n")
    ns = f"j{uuid.uuid4().hex[:10]}"
    env = kairos_env(e2e_broker, ns, KAIROS_TEST_CLOCK="true", KAIROS_TEST_CLOCK_START="2026-01-05T09:00:00Z",
                     KAIROS_WEBHOOK_RADAR_TOKEN_FILE=str(folder / "radar-token"),
                     KAIROS_MAPPING_FILE=str(folder / "mapping.yaml"), KAIROS_NOTIFY_WEBHOOK_URL=gateway.url,
                     KAIROS_NOTIFY_WEBHOOK_TOKEN_FILE=str(folder / "gateway-token"))
    worker = Kairos(data_dir=folder / "data", env=env).start()
    driver = Driver(worker, e2e_broker.bootstrap, f"{ns}.kairos.notifications.v1", RADAR_TOKEN)
    driver.devices = {"phone": {"id": "anna-phone", "type": "phone"}, "tablet": {"id": "anna-tablet", "type": "tablet"},
                      "web": {"id": "anna-laptop", "type": "web"}}
    driver.anna = anna  # type: ignore[attr-defined]
    yield driver
    worker.stop()


def show(d: dict[str, Any]) -> None:
    print(json.dumps({"screen": d["screen"], "blocks": [(b["id"], [i["product_id"][:8] for i in b["items"]])
                                                          for b in d["blocks"]], "incentive": d["incentive"]}))


def test_explore(journey: Driver) -> None:
    j = journey
    anna: str = j.anna  # type: ignore[attr-defined]
    j.at("2026-01-05T09:00:00Z")
    j.reference("stock.changed", store_id="online", product_id=BOOTS, size="38", quantity=0)
    j.send(anna,
           j.event(anna, "profile.updated", locale="en-GB", time_zone="Europe/London",
                   sizes={"apparel": "M", "footwear": "38"}, consent={"push": True, "email": True}),
           j.event(anna, "wishlist.added", product_id=TRENCH, size="M"),
           j.event(anna, "wishlist.added", product_id=BOOTS, size="38"),
           j.event(anna, "product.viewed", product_id=WATERPROOF, device=j.devices["web"]))
    j.at("2026-01-05T12:30:00Z")
    j.send(anna, j.event(anna, "session.started", session_id="s-lunch", device=j.devices["phone"]),
           j.event(anna, "product.viewed", product_id=HOODIE, device=j.devices["phone"]),
           j.event(anna, "session.ended", session_id="s-lunch", device=j.devices["phone"], outcome="abandoned",
                   screen_state={"screen": "product", "product_id": HOODIE}))
    # Step 1
    j.at("2026-01-05T17:40:00Z")
    here = offset(STORE_POINT, 250, 0)
    j.post(j.event(anna, "location.updated", location=here, accuracy_m=8))
    j.radar("anna-radar", "entered", here, "5e5055b3b0145e00e8d40001")
    j.synced(anna, "radar-5e5055b3b0145e00e8d40001")
    print(j.notifications(anna, 1))
    d = j.decide(anna, "app.home", "phone")
    show(d)
    j.at("2026-01-05T17:43:00Z")
    d = j.decide(anna, "app.home", "phone")
    show(d)
    import time
    from tests.integration.harness import eventually
    eventually(lambda: any(r[0] == "s" and r[3] == "screen" for r in j.state(anna)["contacts"]), timeout_s=20)
    d = j.decide(anna, "app.home", "phone")
    show(d); print(codes(d, "incentive.over_budget"))
    # Step 3
    j.at("2026-01-05T17:45:00Z")
    j.send(anna, j.event(anna, "product.scanned", gtin="2673133800021", store_id="store-london-01"))
    d = j.decide(anna, "app.product", "phone", product_id=MOTO, store_id="store-london-01")
    show(d)
    print(json.dumps(block(d, "product_details").get("details"))[:300])
    print(json.dumps(block(d, "other_colours_sizes").get("variants"))[:600])
    # re-pass
    j.at("2026-01-05T18:30:00Z")
    j.radar("anna-radar", "exited", offset(STORE_POINT, 700, 0), "5e5055b3b0145e00e8d40002")
    j.post(j.event(anna, "location.updated", location=offset(STORE_POINT, 900, 0), accuracy_m=8))
    j.at("2026-01-05T18:50:00Z")
    j.post(j.event(anna, "location.updated", location=offset(STORE_POINT, 260, 0), accuracy_m=8))
    j.radar("anna-radar", "entered", offset(STORE_POINT, 260, 0), "5e5055b3b0145e00e8d40003")
    j.synced(anna, "radar-5e5055b3b0145e00e8d40003")
    time.sleep(1)
    print("suppressed", j.funnel("wishlist_item_near_store", "suppressed"), len(j.topic_notifications(anna)))
    # Step 4
    j.at("2026-01-05T20:25:00Z")
    j.reference("stock.changed", store_id="online", product_id=BOOTS, size="38", quantity=4)
    print([n["body"] for n in j.notifications(anna, 2)])
    j.at("2026-01-05T20:28:00Z")
    j.send(anna, j.event(anna, "cart.added", product_id=MOTO, size="M", quantity=1))
    j.at("2026-01-05T20:30:00Z")
    d = j.decide(anna, "app.home", "tablet")
    show(d); print(codes(d, "incentive.excluded_by_screen"), block(d, "resume_session").get("resume"))
    j.at("2026-01-05T20:40:00Z")
    j.send(anna, j.event(anna, "order.placed", order_id="o-anna-1", channel="online",
                         lines=[{"product_id": TRENCH, "size": "M", "quantity": 1, "price": 189.99, "currency": "GBP"}]))
    # Tuesday night pass
    j.at("2026-01-06T12:00:00Z")
    j.send(anna, j.event(anna, "wishlist.added", product_id=HOODIE, size="M"))
    j.at("2026-01-06T22:30:00Z")
    j.radar("anna-radar", "exited", None, "5e5055b3b0145e00e8d40004")
    j.at("2026-01-06T22:31:00Z")
    j.radar("anna-radar", "entered", offset(STORE_POINT, 200, 0), "5e5055b3b0145e00e8d40005")
    j.synced(anna, "radar-5e5055b3b0145e00e8d40005")
    time.sleep(1)
    print("capped", j.funnel("wishlist_item_near_store", "capped"), "expired", j.funnel("wishlist_item_near_store", "expired"))
    print(j.admin(anna)["log"][:2])
    # Step 5
    j.at("2026-01-08T08:15:00Z")
    far = offset(STORE_POINT, 3000, 0)
    j.post(j.event(anna, "location.updated", location=far, accuracy_m=8, speed_mps=9.0))
    j.at("2026-01-08T08:15:30Z")
    j.post(j.event(anna, "location.updated", location=offset(STORE_POINT, 3270, 0), accuracy_m=8, speed_mps=9.0))
    ns = j.notifications(anna, 3); print(ns[-1])
    # Step 6
    j.at("2026-01-08T12:30:00Z")
    d = j.decide(anna, "web.home", "web")
    show(d)
    # Step 7
    j.at("2026-01-08T22:10:00Z")
    j.send(anna, j.event(anna, "loyalty.updated", points=920, tier="silver", next_tier="gold", next_tier_threshold=1000))
    time.sleep(0.5)
    print(j.admin(anna)["held"])
    j.at("2026-01-08T22:11:00Z")
    d = j.decide(anna, "app.home", "phone")
    show(d)
    j.at("2026-01-09T08:00:30Z")
    ns = j.notifications(anna, 4); print(ns[-1])
    j.at("2026-01-09T08:20:00Z")
    j.post(j.event(anna, "location.updated", location=far, accuracy_m=8, speed_mps=9.0))
    time.sleep(1); print(len(j.topic_notifications(anna)), j.funnel("post_order_outfit", "suppressed"))
    # Step 8
    olga = "olga-" + anna[5:]
    j.devices["olga"] = {"id": "olga-phone", "type": "phone"}
    home = offset(STORE_POINT, 0, 2000)
    j.at("2026-01-09T10:55:00Z")
    j.reference("store.upserted", store_id="store-angel", name="Angel Pop-up", location=offset(home, 300, 0),
                radius_m=40, opening_hours="Sa-Su 10:00-18:00", time_zone="Europe/London")
    j.reference("stock.changed", store_id="store-angel", product_id="f7c1d04c-3076-4389-b06a-91993c983777", size="38", quantity=3)
    j.send(olga, j.event(olga, "profile.updated", locale="en-GB", time_zone="Europe/London", home_area=home,
                         sizes={"footwear": "38"}, consent={"email": True}),
           j.event(olga, "product.viewed", product_id="f7c1d04c-3076-4389-b06a-91993c983777"))
    j.at("2026-01-09T11:00:00Z")
    j.send(olga, j.event(olga, "order.placed", order_id="o-olga-1", channel="online",
                         lines=[{"product_id": "d23ef17b-f59c-4f8e-959f-be8faef2ac9a", "size": "38", "quantity": 1, "price": 99.0, "currency": "GBP"}]))
    print(j.notifications(olga, 1))
    d = j.decide(olga, "app.home", "olga")
    show(d); print(block(d, "store_recommendation").get("store"))
    print(len(gateway_received(j)))


def gateway_received(j):
    return []
