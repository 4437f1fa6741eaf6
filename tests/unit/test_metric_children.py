"""Unit tests: remembered metric children are prometheus-client's own, so every sample is unchanged."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, generate_latest

from service.telemetry.children import child


def test_child_is_the_metric_own_child_and_counts_the_same() -> None:
    reg = CollectorRegistry()
    counter = Counter("kairos_test_requests_total", "Requests.", ["route", "status"], registry=reg)
    assert child(counter, "/v1/decisions", "200") is counter.labels("/v1/decisions", "200")
    for _ in range(3):
        child(counter, "/v1/decisions", "200").inc()
    child(counter, "/v1/events", "202").inc()
    text = generate_latest(reg).decode()
    assert 'kairos_test_requests_total{route="/v1/decisions",status="200"} 3.0' in text
    assert 'kairos_test_requests_total{route="/v1/events",status="202"} 1.0' in text


def test_children_of_two_registries_are_kept_apart() -> None:
    first = Counter("kairos_test_a_total", "A.", ["k"], registry=CollectorRegistry())
    second = Counter("kairos_test_a_total", "A.", ["k"], registry=CollectorRegistry())
    child(first, "x").inc()
    assert child(second, "x") is not child(first, "x")
    assert child(second, "x")._value.get() == 0.0
