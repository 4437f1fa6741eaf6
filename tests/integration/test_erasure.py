"""DELETE /v1/customers/{id} removes her state everywhere and cancels the messages held for her;
re-consuming her old events (a new consumer group reads the topic from the start) does not bring
her back."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import orjson

from tests.integration.conftest import kairos_env
from tests.integration.harness import BrokerProcess, Kairos, eventually, http, metric_value
from tests.integration.kafka_tools import read_all


def viewed(customer: str, n: int, at: str) -> dict[str, Any]:
    return {"event_id": f"{customer}-{n}", "type": "product.viewed", "occurred_at": at, "source": "app",
            "customer_id": customer, "product_id": f"p-{n}"}


def test_erasure_survives_restart_and_replay(broker: BrokerProcess, namespace: str, tmp_path: Path) -> None:
    anna, bert = f"anna-{uuid.uuid4().hex[:6]}", f"bert-{uuid.uuid4().hex[:6]}"
    env = kairos_env(broker, namespace, KAIROS_DEMO_CATALOG="false", KAIROS_TEST_CLOCK="true")
    worker = Kairos(data_dir=tmp_path / "a", env=env).start()
    try:
        # 22:00 in London: quiet hours, so the loyalty email for her is held until 08:00.
        http("POST", worker.url + "/admin/clock", b'{"set": "2026-12-03T22:00:00Z"}')
        events = [viewed(anna, n, f"2026-12-03T21:0{n}:00Z") for n in range(3)] + [
            viewed(bert, 0, "2026-12-03T21:00:00Z"),
            {"event_id": f"{anna}-p", "type": "profile.updated", "occurred_at": "2026-12-03T21:50:00Z",
             "source": "app", "customer_id": anna, "time_zone": "Europe/London", "consent": {"email": True}},
            {"event_id": f"{anna}-l", "type": "loyalty.updated", "occurred_at": "2026-12-03T22:00:00Z",
             "source": "app", "customer_id": anna, "points": 920, "tier": "silver", "next_tier": "gold",
             "next_tier_threshold": 1000}]
        assert worker.post_events(events).json()["accepted"] == 6
        held = eventually(lambda: (s := worker.state(anna)) and s["events_applied"] == 5 and s["notify"]["pending"])
        assert [row[1] for row in held] == ["loyalty_close"]
        res = http("DELETE", f"{worker.url}/v1/customers/{anna}")
        assert res.status == 202
        assert res.json()["status"] == "accepted"
        eventually(lambda: worker.state(anna) is None)
        decision = worker.decide(anna)
        assert (decision["cold_start"], decision["state_as_of"]) == (True, None)
        # Her held email is cancelled with her, and counted: past 08:00 nothing goes out for her.
        assert metric_value(worker.metrics(), "kairos_trigger_outcomes_total", kind="loyalty_close",
                            stage="suppressed", reason="erased") == 1
        http("POST", worker.url + "/admin/clock", b'{"set": "2026-12-04T08:05:00Z"}')
        assert http("GET", f"{worker.url}/admin/customers/{anna}/notifications").status == 404
        # Her old events sent again (a late upload) are dropped, not merged.
        assert worker.post_events([viewed(anna, 7, "2026-12-03T21:30:00Z")]).json()["accepted"] == 1
        eventually(lambda: metric_value(worker.metrics(), "kairos_state_apply_total", outcome="erased") == 1)
        assert worker.state(anna) is None
        assert worker.state(bert) is not None  # nobody else is touched
        assert metric_value(worker.metrics(), "kairos_trigger_funnel_total", kind="loyalty_close", stage="sent") == 0
    finally:
        assert worker.stop() == 0
    notes = [orjson.loads(r.value) for r in read_all(broker.bootstrap, f"{namespace}.kairos.notifications.v1")]
    assert [n for n in notes if n["customer_id"] == anna] == []
    # A new consumer group re-reads the customer topic from the beginning: all her old events.
    replay = Kairos(data_dir=tmp_path / "b", env={**env, "KAIROS_GROUP_ID": f"{namespace}-replay"}).start()
    try:
        http("POST", replay.url + "/admin/clock", b'{"set": "2026-12-04T08:10:00Z"}')
        eventually(lambda: (s := replay.state(bert)) and s["events_applied"] == 1, timeout_s=20)
        assert replay.state(anna) is None
        # Something she does after the erasure starts a new customer.
        assert replay.post_events([viewed(anna, 9, "2026-12-04T08:05:00Z")]).json()["accepted"] == 1
        fresh = eventually(lambda: replay.state(anna))
        assert (fresh["events_applied"], [v[0] for v in fresh["views"]]) == (1, ["p-9"])
        assert fresh["first_seen_ms"] == 1796371500000  # 08:05, nothing from before
        assert fresh.get("notify") is None  # her held email did not come back with the replay
    finally:
        assert replay.stop() == 0
