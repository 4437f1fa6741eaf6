"""Triggered messages across two workers of one group on the real broker: a stock change reaches
every customer who wished the item, whichever worker owns her, exactly once each; a message held
in quiet hours survives its worker going away and is sent by the worker that takes over her
partition, when its clock reaches the end of quiet hours."""

from __future__ import annotations

import re
import signal
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
from aiokafka.partitioner import DefaultPartitioner

from tests.integration.conftest import kairos_env
from tests.integration.harness import BrokerProcess, Kairos, eventually, http, metric_value
from tests.integration.kafka_tools import read_all

PARTITIONS = 8
NIGHT = "2026-12-03T21:30:00Z"


def owned(worker: Kairos) -> set[int]:
    """Partitions of the customer topic this worker reports lag for (those it owns and fetched)."""
    return {int(p) for p in re.findall(r'kairos_consumer_lag_records\{partition="(\d+)"\}', worker.metrics())}


def customers_on_every_partition(tag: str) -> list[str]:
    partitioner = DefaultPartitioner()
    found: dict[int, str] = {}
    n = 0
    while len(found) < PARTITIONS:
        cid = f"w{n}-{tag}"
        found.setdefault(partitioner(cid.encode(), list(range(PARTITIONS)), list(range(PARTITIONS))), cid)
        n += 1
    return [found[p] for p in range(PARTITIONS)]


def event(customer: str, n: int, kind: str, at: str, **fields: Any) -> dict[str, Any]:
    return {"event_id": f"{customer}-{n}", "type": kind, "occurred_at": at, "source": "app",
            "customer_id": customer, **fields}


def reference(n: int, kind: str, at: str, **fields: Any) -> dict[str, Any]:
    return {"event_id": f"ref-{n}", "type": kind, "occurred_at": at, "source": "commerce", **fields}


def clock(worker: Kairos, when: str) -> None:
    assert http("POST", worker.url + "/admin/clock", orjson.dumps({"set": when})).status == 200


def notifications(broker: BrokerProcess, topic: str) -> list[dict[str, Any]]:
    return [orjson.loads(r.value) for r in read_all(broker.bootstrap, topic, timeout_s=2.0)]


def test_two_workers_back_in_stock_for_all_and_a_held_email_survives_a_handover(
        broker: BrokerProcess, namespace: str, tmp_path: Path) -> None:
    env = kairos_env(broker, namespace, KAIROS_DEMO_CATALOG="false", KAIROS_TEST_CLOCK="true",
                     KAIROS_TEST_CLOCK_START="2026-12-03T18:00:00Z", KAIROS_PARTITIONS=str(PARTITIONS))
    a = Kairos(data_dir=tmp_path / "a", env=env).start(wait_ready=False)
    b = Kairos(data_dir=tmp_path / "b", env=env).start(wait_ready=False)
    topic = f"{namespace}.kairos.notifications.v1"
    try:
        a.wait_ready()
        b.wait_ready()
        eventually(lambda: len(owned(a)) == len(owned(b)) == PARTITIONS // 2 and not owned(a) & owned(b),
                   timeout_s=60, interval_s=0.5)
        at = "2026-12-03T18:00:00Z"
        assert a.post_events([
            reference(1, "product.upserted", at, product_id="parka", name="Harbour Parka", category="apparel",
                      price=120.0, currency="GBP", sizes=["M", "L"]),
            reference(2, "stock.changed", at, product_id="parka", store_id="online", size="M", quantity=0),
            reference(3, "stock.changed", at, product_id="parka", store_id="online", size="L", quantity=3)],
        ).json()["accepted"] == 3
        wishers = customers_on_every_partition(namespace)
        batch = []
        for c in wishers:
            batch += [event(c, 1, "profile.updated", at, time_zone="Europe/London", sizes={"apparel": "M"},
                            consent={"push": True, "email": True}),
                      event(c, 2, "wishlist.added", at, product_id="parka", size="M")]
        assert a.post_events(batch).json()["accepted"] == 2 * len(wishers)
        # each is held by exactly one worker: her owner
        eventually(lambda: all((a.local_state(c) is None) != (b.local_state(c) is None) for c in wishers),
                   timeout_s=30)
        on_b = [c for c in wishers if b.local_state(c) is not None]
        assert 0 < len(on_b) < len(wishers)
        # the restock, sent through worker B: every worker routes it to its own wishers
        for w in (a, b):
            clock(w, "2026-12-03T18:05:00Z")
        assert b.post_events([reference(4, "stock.changed", "2026-12-03T18:05:00Z", product_id="parka",
                                        store_id="online", size="M", quantity=5)]).json()["accepted"] == 1

        def back_in_stock() -> list[dict[str, Any]]:
            return [n for n in notifications(broker, topic) if n["trigger"] == "back_in_stock"]

        eventually(lambda: len(back_in_stock()) >= len(wishers), timeout_s=30, interval_s=0.3)
        notes = back_in_stock()
        assert Counter(n["customer_id"] for n in notes) == Counter(wishers)  # everyone, once
        assert {n["body"] for n in notes} == {"Harbour Parka is back in your size."}
        sent = [metric_value(w.metrics(), "kairos_trigger_funnel_total", kind="back_in_stock", stage="sent")
                for w in (a, b)]
        assert sent == [len(wishers) - len(on_b), len(on_b)]  # each worker sent for its own customers

        # An incentive shown by her owner's decision is counted by her owner, from the decision
        # record (co-partitioned with her events): the other worker never holds her state.
        shopper = on_b[-1]
        assert b.post_events([event(shopper, 4, "cart.added", "2026-12-03T18:05:00Z", product_id="parka",
                                    size="M")]).json()["accepted"] == 1
        eventually(lambda: (s := b.state(shopper)) and s["cart"], timeout_s=20)
        shown = b.decide(shopper)
        assert shown["incentive"]["id"] == "cart_discount"
        row = ["s", 1796321100000, shown["decision_id"], "screen", "cart_discount", None]  # 18:05
        eventually(lambda: row in b.state(shopper)["contacts"], timeout_s=20)
        assert a.local_state(shopper) is None
        assert b.decide(shopper)["incentive"] is None  # its cap (1 a local day) is honoured

        # A loyalty email held in quiet hours by B; B goes away; A takes her partition over and,
        # its clock past 08:00, sends it: the held message lived in her state, not in B's memory.
        held = on_b[0]
        clock(b, NIGHT)
        assert b.post_events([event(held, 3, "loyalty.updated", NIGHT, points=920, tier="silver",
                                    next_tier="gold", next_tier_threshold=1000)]).json()["accepted"] == 1
        eventually(lambda: (s := b.state(held)) and s.get("notify", {}).get("pending"), timeout_s=20)
        assert b.stop(signal.SIGTERM) == 0
        eventually(lambda: len(owned(a)) == PARTITIONS, timeout_s=60, interval_s=0.5)
        eventually(lambda: a.state(held) is not None, timeout_s=30)
        assert [n for n in notifications(broker, topic) if n["trigger"] == "loyalty_close"] == []
        clock(a, "2026-12-04T08:00:05Z")
        emails = eventually(lambda: [n for n in notifications(broker, topic) if n["trigger"] == "loyalty_close"],
                            timeout_s=30, interval_s=0.3)
        assert [(e["customer_id"], e["created_at"], e["not_before"], e["sent_at"]) for e in emails] == [
            (held, "2026-12-03T21:30:00.000Z", "2026-12-04T08:00:00.000Z", "2026-12-04T08:00:05.000Z")]
        assert metric_value(a.metrics(), "kairos_trigger_funnel_total", kind="loyalty_close", stage="sent") == 1
    finally:
        for w in (a, b):
            if w.proc is not None and w.proc.poll() is None:
                w.stop()


def test_an_unknown_customer_s_notifications_route_says_so(shared_kairos: Kairos) -> None:
    res = http("GET", f"{shared_kairos.url}/admin/customers/nobody-{uuid.uuid4().hex[:6]}/notifications")
    assert (res.status, res.json()["error"]["code"]) == (404, "not_found")
