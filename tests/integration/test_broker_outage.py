"""The broker stops answering (SIGSTOP): ingest answers 503 with Retry-After and acknowledges
nothing; decisions keep coming from local state, marked degraded; when the broker answers again,
Kairos recovers by itself."""

from __future__ import annotations

import json
import os
import signal
import uuid
from pathlib import Path
from typing import Any

from tests.integration.harness import BrokerProcess, Kairos, child_pids, eventually, http, metric_value


def viewed(customer: str, n: int) -> dict[str, Any]:
    return {"event_id": f"{customer}-{n}", "type": "product.viewed", "occurred_at": f"2026-12-03T18:0{n}:00Z",
            "source": "app", "customer_id": customer, "product_id": f"p-{n}"}


def test_broker_stopped_then_resumed(tmp_path: Path) -> None:
    broker = BrokerProcess()  # its own: freezing the shared one would stall other tests
    tansu = child_pids(broker.proc.pid)[0]
    worker = Kairos(data_dir=tmp_path / "data", env={
        "KAIROS_KAFKA_BROKER": broker.bootstrap, "KAIROS_STORE": "memory", "KAIROS_DEMO_CATALOG": "false",
        "KAIROS_PRODUCE_TIMEOUT_S": "2"}).start()
    anna = f"anna-{uuid.uuid4().hex[:6]}"
    try:
        assert worker.post_events([viewed(anna, 1)]).json()["accepted"] == 1
        eventually(lambda: worker.state(anna))
        os.kill(tansu, signal.SIGSTOP)
        try:
            res = http("POST", worker.url + "/v1/events", json.dumps([viewed(anna, 2)]).encode(), timeout_s=30)
            assert res.status == 503
            assert res.headers["Retry-After"] == "5"
            assert res.json()["error"]["message"].startswith("1 of 1 valid events were not stored")
            decision = eventually(lambda: (d := worker.decide(anna)) and d["degraded"] and d, timeout_s=10)
            assert decision["degraded_reasons"] == ["broker_unreachable"]
            # Still served from local state (no catalog here: the viewed product is known from her
            # state only, and left out of last_seen because no stock is known for it).
            assert (decision["cold_start"], decision["state_as_of"]) == (False, "2026-12-03T18:01:00.000Z")
            assert {"code": "block.filtered_out_of_stock", "detail": "last_seen: not in stock: p-1"} in decision[
                "reasons"]
            assert metric_value(worker.metrics(), "kairos_broker_up") == 0
            # The audit records of those decisions could not be written: counted, not silently lost.
            eventually(lambda: metric_value(worker.metrics(), "kairos_audit_write_failures_total") >= 1, timeout_s=15)
        finally:
            os.kill(tansu, signal.SIGCONT)
        eventually(lambda: worker.decide(anna)["degraded"] is False, timeout_s=30)
        # The client retries the refused event, as the 503 told it to. The producer may still have
        # delivered its first attempt after the broker woke up: either way it counts once.
        res = worker.post_events([viewed(anna, 2), viewed(anna, 3)])
        assert res.status == 202 and res.json()["accepted"] == 2
        state = eventually(lambda: (s := worker.state(anna)) and s["events_applied"] == 3 and s, timeout_s=30)
        assert sorted(v[0] for v in state["views"]) == ["p-1", "p-2", "p-3"]
    finally:
        worker.stop()
        broker.stop()
