"""The /metrics rendering and the consumer-lag gauge: exact exposition text, bounded series."""

from __future__ import annotations

import asyncio

from prometheus_client import CollectorRegistry, generate_latest

from service.telemetry.metrics import build_metrics, render, set_consumer_lag


def test_render_yields_the_same_text_as_generate_latest() -> None:
    metrics = build_metrics(CollectorRegistry())
    metrics.decision_latency.labels("app.home", "ok").observe(0.0007)
    metrics.decision_stage.labels("decide").observe(0.00002)
    metrics.events.labels("product.viewed", "accepted", "http").inc(3)
    assert asyncio.run(render(metrics.registry)) == generate_latest(metrics.registry)


def test_consumer_lag_replaces_every_partition_series() -> None:
    metrics = build_metrics(CollectorRegistry())
    set_consumer_lag(metrics.consumer_lag, {3: 12, 0: 0})
    text = generate_latest(metrics.registry).decode()
    assert 'kairos_consumer_lag_records{partition="0"} 0.0' in text
    assert 'kairos_consumer_lag_records{partition="3"} 12.0' in text
    # Partition 3 moved to another worker: its series goes, it does not freeze at its last value.
    set_consumer_lag(metrics.consumer_lag, {0: 5})
    text = generate_latest(metrics.registry).decode()
    assert 'kairos_consumer_lag_records{partition="0"} 5.0' in text
    assert 'partition="3"' not in text
