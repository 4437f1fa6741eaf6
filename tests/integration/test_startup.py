"""Start-up against a real cluster that is not there yet, and the test clock."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from tests.integration.harness import BrokerProcess, Kairos, eventually, free_port, http


def test_waits_for_an_unreachable_cluster_then_serves(tmp_path: Path) -> None:
    port = free_port()
    worker = Kairos(data_dir=tmp_path / "data", env={
        "KAIROS_KAFKA_BROKER": f"kafka://127.0.0.1:{port}", "KAIROS_STORE": "memory",
        "KAIROS_DEMO_CATALOG": "false"}).start(wait_ready=False)
    broker = None
    try:
        eventually(lambda: "Kafka not reachable yet; retrying" in worker.log(tail=None), timeout_s=15)
        assert worker.proc is not None and worker.proc.poll() is None
        broker = BrokerProcess(port=port)
        worker.wait_ready(60)
        customer = f"late-{uuid.uuid4().hex[:6]}"
        res = worker.post_events([{"event_id": uuid.uuid4().hex, "type": "product.viewed",
                                   "occurred_at": "2026-12-03T18:00:00Z", "source": "app",
                                   "customer_id": customer, "product_id": "p-9"}])
        assert res.status == 202 and res.json()["accepted"] == 1
        eventually(lambda: worker.state(customer), timeout_s=10)
    finally:
        assert worker.stop() == 0
        if broker is not None:
            broker.stop()


def test_test_clock_is_set_and_advanced_over_http(broker: BrokerProcess, namespace: str, tmp_path: Path) -> None:
    from tests.integration.conftest import kairos_env

    worker = Kairos(data_dir=tmp_path / "data", env=kairos_env(
        broker, namespace, KAIROS_TEST_CLOCK="true", KAIROS_DEMO_CATALOG="false")).start()
    try:
        url = worker.url + "/admin/clock"
        res = http("POST", url, json.dumps({"set": "2027-03-28T00:30:00+00:00"}).encode())
        assert (res.status, res.json()) == (200, {"now": "2027-03-28T00:30:00.000Z"})
        res = http("POST", url, json.dumps({"advance_s": 5400}).encode())
        assert res.json() == {"now": "2027-03-28T02:00:00.000Z"}
        assert worker.decide("clock-check")["decided_at"] == "2027-03-28T02:00:00.000Z"
        backwards = http("POST", url, json.dumps({"advance_s": -1}).encode())
        assert backwards.status == 400
        assert "does not go backwards" in backwards.json()["error"]["message"]
    finally:
        assert worker.stop() == 0


def test_admin_clock_absent_without_the_test_clock(shared_kairos: Kairos) -> None:
    res = http("POST", shared_kairos.url + "/admin/clock", b'{"advance_s": 60}')
    assert res.status == 404
