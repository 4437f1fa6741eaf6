"""A Kairos restart against a surviving broker recovers the exact state from the changelog.

Guards the Tansu ListOffsets defect (BROKER.md #1): with the changelog written in multi-record
batches, faust's ListOffsets-based high-water mark stopped recovery early and lost updates
(memory store) or raised ConsistencyError (RocksDB). service/adapters/faust_transport.py fixes it.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import kairos_env
from tests.integration.harness import BrokerProcess, Kairos, eventually

CUSTOMERS = 40
ROUNDS = 30


def round_events(customers: list[str], n: int) -> list[dict[str, Any]]:
    # One event per customer per request: every request becomes one Kafka record per customer,
    # so the agent writes one changelog record per event and the producer batches them.
    return [
        {"event_id": f"{c}-{n}", "type": "product.viewed", "occurred_at": f"2026-12-03T10:{n:02d}:00Z",
         "source": "app", "customer_id": c, "product_id": f"p-{n % 7}-{i % 5}"}
        for i, c in enumerate(customers)
    ]


@pytest.mark.parametrize("store", ["memory", "rocksdb"])
def test_restart_recovers_exact_state(broker: BrokerProcess, namespace: str, tmp_path: Path, store: str) -> None:
    customers = [f"r-{uuid.uuid4().hex[:8]}" for _ in range(CUSTOMERS)]
    env = kairos_env(broker, namespace, KAIROS_STORE=store, KAIROS_DEMO_CATALOG="false")
    worker = Kairos(data_dir=tmp_path / "data", env=env).start()
    try:
        for n in range(ROUNDS):
            res = worker.post_events(round_events(customers, n))
            assert res.status == 202 and res.json()["accepted"] == CUSTOMERS
        before: dict[str, Any] = {}
        for c in customers:
            before[c] = eventually(lambda c=c: (s := worker.state(c)) and s["events_applied"] == ROUNDS and s,
                                   timeout_s=30)
    finally:
        assert worker.stop() == 0
    # Bounded: with faust's default 60 s session Tansu completes the group join only after 30 s
    # (BROKER.md #4); Kairos's 6 s session makes it a few seconds.
    restarted = Kairos(data_dir=tmp_path / "data", env=env, port=worker.port).start(ready_timeout_s=25)
    try:
        after = {c: restarted.state(c) for c in customers}
        lost = {c: (before[c]["events_applied"], (after[c] or {}).get("events_applied")) for c in customers
                if after[c] != before[c]}
        assert lost == {}, f"{len(lost)} of {CUSTOMERS} customers differ after restart"
        assert after == before
    finally:
        assert restarted.stop() == 0


@pytest.mark.parametrize("records", [1, 20])
def test_rocksdb_state_ahead_of_a_wiped_broker_stops_with_advice(tmp_path: Path, records: int) -> None:
    """A memory-only broker that restarted has lost every changelog (BROKER.md #3): Kairos must
    not silently serve the old local state against it, nor hang — it says what to do and exits 1.
    With a single changelog record faust's own consistency check does not notice (offset 0)."""
    first = BrokerProcess()
    env = {"KAIROS_KAFKA_BROKER": first.bootstrap, "KAIROS_STORE": "rocksdb", "KAIROS_DEMO_CATALOG": "false",
           "KAIROS_GROUP_ID": "wiped", "KAIROS_PARTITIONS": "1"}
    worker = Kairos(data_dir=tmp_path / "data", env=env).start()
    customers = [f"w-{i}" for i in range(min(records, 5))]
    rounds = records // len(customers)
    try:
        for n in range(rounds):
            assert worker.post_events(round_events(customers, n)).status == 202
        eventually(lambda: all((s := worker.state(c)) and s["events_applied"] == rounds for c in customers),
                   timeout_s=20)
    finally:
        assert worker.stop() == 0
        first.stop()
    second = BrokerProcess(port=first.port)  # same address, empty
    try:
        again = Kairos(data_dir=tmp_path / "data", env=env, port=worker.port).start(wait_ready=False)
        assert again.proc is not None
        assert again.proc.wait(60) == 1
        assert "aside and start again" in again.log(tail=None)
    finally:
        second.stop()
