"""kill -9 in the middle of a stream, restart against the surviving broker: the state is exactly
what the pure core computes for the same events — nothing lost, nothing doubled.

faust reprocesses everything since the last offset commit after a crash (BROKER.md: +11-13 %
updates); apply_event's event-id ring makes that harmless."""

from __future__ import annotations

import signal
import uuid
from pathlib import Path
from typing import Any

import orjson

from service.core.state import apply_event
from tests.integration.conftest import kairos_env
from tests.integration.harness import BrokerProcess, Kairos, eventually, metric_value
from tests.integration.kafka_tools import produce

CUSTOMERS = 20
PER_CUSTOMER = 150


def stream_events(customers: list[str]) -> list[dict[str, Any]]:
    return [
        {"event_id": f"{c}-{n}", "type": "product.viewed", "source": "shop-backend", "customer_id": c,
         "occurred_at": f"2026-12-03T{8 + n // 60:02d}:{n % 60:02d}:00Z", "product_id": f"p-{(n * 7) % 61}"}
        for n in range(PER_CUSTOMER) for c in customers
    ]


def expected_states(events: list[dict[str, Any]]) -> dict[str, Any]:
    states: dict[str, Any] = {}
    for event in events:
        states[event["customer_id"]] = apply_event(states.get(event["customer_id"]), event, 1_796_400_000_000).state
    return states


def test_kill_9_mid_stream_then_restart_gives_exact_state(broker: BrokerProcess, namespace: str,
                                                          tmp_path: Path) -> None:
    customers = [f"k-{uuid.uuid4().hex[:8]}" for _ in range(CUSTOMERS)]
    events = stream_events(customers)
    env = kairos_env(broker, namespace, KAIROS_DEMO_CATALOG="false")
    worker = Kairos(data_dir=tmp_path / "data", env=env).start()
    produce(broker.bootstrap, f"{namespace}.customer.events.v1",
            [(e["customer_id"].encode(), orjson.dumps(e)) for e in events])
    # Kill once part of the stream is applied, so the restart must reprocess from the last commit.
    probe = customers[-1]
    eventually(lambda: (s := worker.state(probe)) and s["events_applied"] >= PER_CUSTOMER // 5, timeout_s=30)
    assert worker.stop(signal.SIGKILL) == -signal.SIGKILL
    restarted = Kairos(data_dir=tmp_path / "data", env=env, port=worker.port).start()
    try:
        want = expected_states(events)
        for c in customers:
            got = eventually(lambda c=c: (s := restarted.state(c)) and s["events_applied"] >= PER_CUSTOMER and s,
                             timeout_s=60)
            assert got["events_applied"] == PER_CUSTOMER
            # The stream edge adds where the record came from; everything else is the core's.
            assert got.pop("source_offset")[1] >= 0
            assert got == want[c]
        # The crash really made faust redeliver: the ring turned those into duplicates.
        assert metric_value(restarted.metrics(), "kairos_state_apply_total", outcome="duplicate") > 0
    finally:
        assert restarted.stop() == 0
