"""Prometheus metrics, built once from an injected CollectorRegistry, and their rendering.

Labels are bounded sets (placement, event type, result, source…): never a customer id, event id
or any other unbounded value. Every metric an alert or the dashboard in deploy/ uses is listed
in deploy/README.md.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

# 100 µs … 1 s: resolves the ~1 ms decision target and the tail.
LATENCY_BUCKETS = (
    0.0001, 0.00025, 0.0005, 0.00075, 0.001, 0.0015, 0.002, 0.003, 0.005,
    0.0075, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
)
DELAY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)
SIZE_BUCKETS = (128, 256, 512, 1024, 2048, 4096, 8192, 16384, 65536)
# The stages of one decision take microseconds each: finer at the bottom than LATENCY_BUCKETS.
STAGE_BUCKETS = (0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                 0.1, 1.0)
# What POST /v1/decisions does, in order. `decide` is one pure call (service/core/decide.py):
# situation (context), screen rule (policy) and block filling (ranking) are not timed apart.
DECISION_STAGES = ("parse", "state_read", "decide", "serialise", "audit")
# How a decision was answered: here from local state (ok), by the owning worker (forwarded), here
# without the owner's state because it did not answer (fallback, degraded), or here for another
# worker that forwarded it (for_peer; that worker observes the latency its client saw, so the
# latency objective counts every client request once by leaving for_peer out).
DECISION_OUTCOMES = ("ok", "forwarded", "fallback", "for_peer")
FORWARD_RESULTS = ("ok", "unreachable", "timeout", "owner_error")
# A trigger's way from a situation on the stream to a sent notification (issue 3 increments it;
# declared here so alerts and the dashboard have one name): detected → eligible → sent, or
# capped (contact budget), deferred (quiet hours), expired (deferred past its validity),
# suppressed (no consent). `kind` is the policy's trigger kind, a bounded set.
FUNNEL_STAGES = ("detected", "eligible", "capped", "deferred", "sent", "expired", "suppressed")


@dataclass(frozen=True)
class Metrics:
    registry: CollectorRegistry
    decision_latency: Histogram
    decision_stage: Histogram
    decisions: Counter
    events: Counter
    state_apply: Counter
    event_time_to_state: Histogram
    state_record_bytes: Histogram
    customers_in_state: Gauge
    recovery_in_progress: Gauge
    ready: Gauge
    policy_version: Gauge
    policy_reloads: Counter
    http_requests: Counter
    audit_failures: Counter
    broker_up: Gauge
    auth_failures: Counter
    consumer_lag: Gauge
    decision_forwards: Counter
    trigger_funnel: Counter


def build_metrics(registry: CollectorRegistry | None = None) -> Metrics:
    reg = registry if registry is not None else CollectorRegistry()
    return Metrics(
        registry=reg,
        decision_latency=Histogram(
            "kairos_decision_latency_seconds",
            "Time to answer POST /v1/decisions, server side, by outcome: " + ", ".join(DECISION_OUTCOMES) + ".",
            ["placement", "outcome"], buckets=LATENCY_BUCKETS, registry=reg,
        ),
        decision_stage=Histogram(
            "kairos_decision_stage_seconds",
            "Time spent in each stage of an answered decision: " + ", ".join(DECISION_STAGES) + ".",
            ["stage"], buckets=STAGE_BUCKETS, registry=reg,
        ),
        decisions=Counter(
            "kairos_decisions_total", "Decisions answered.",
            ["placement", "screen", "incentive_kind", "degraded", "cold_start"], registry=reg,
        ),
        events=Counter(
            "kairos_events_total", "Events received, by type, result and source: http (POST /v1/events: "
            "accepted, duplicate, rejected), provider (webhooks), kafka (written to the customer topic by "
            "others: applied, duplicate, late, ignored, rejected, erased) and reference (the reference feed: "
            "applied, ignored, rejected).",
            ["type", "result", "source"], registry=reg,
        ),
        state_apply=Counter(
            "kairos_state_apply_total",
            "Customer events applied on the stream, by outcome (applied, duplicate, late, ignored, rejected) "
            "and origin (ingest = through Kairos's HTTP ingest, kafka = written to the topic by others, "
            "derived = made on the stream by server-side geofencing).",
            ["type", "outcome", "origin"], registry=reg,
        ),
        event_time_to_state=Histogram(
            "kairos_event_to_state_delay_seconds",
            "Processing time at which an event reached the state minus its received_at.",
            buckets=DELAY_BUCKETS, registry=reg,
        ),
        state_record_bytes=Histogram(
            "kairos_state_record_bytes", "Serialized size of a customer state record when written.",
            buckets=SIZE_BUCKETS, registry=reg,
        ),
        customers_in_state=Gauge(
            "kairos_customers_in_state", "Customer state records held by this worker's table.", registry=reg,
        ),
        recovery_in_progress=Gauge(
            "kairos_recovery_in_progress",
            "1 from start until the first table recovery is complete, and while a rebalance or a recovery from "
            "the changelog is under way (decisions are marked degraded then).", registry=reg,
        ),
        ready=Gauge("kairos_ready", "1 once the first recovery after start is complete.", registry=reg),
        policy_version=Gauge(
            "kairos_policy_info", "The loaded decision policy (value is always 1).", ["version"], registry=reg,
        ),
        policy_reloads=_with_labels(Counter(
            "kairos_policy_reloads_total",
            "Policy reloads (SIGHUP or file watch), by result: ok (replaced), unchanged (same bytes), "
            "rejected (invalid: the previous policy keeps serving).",
            ["result"], registry=reg,
        ), ("ok", "unchanged", "rejected")),
        http_requests=Counter(
            "kairos_http_requests_total", "HTTP requests by route and status.", ["route", "status"], registry=reg,
        ),
        audit_failures=Counter(
            "kairos_audit_write_failures_total", "Decision audit records that could not be written.", registry=reg,
        ),
        broker_up=Gauge("kairos_broker_up", "1 while the Kafka producer can reach the broker.", registry=reg),
        auth_failures=_with_labels(Counter(
            "kairos_auth_failures_total",
            "Requests refused by API key checks, by reason (missing, invalid, forbidden, rate_limited).",
            ["reason"], registry=reg,
        ), ("missing", "invalid", "forbidden", "rate_limited")),
        consumer_lag=Gauge(
            "kairos_consumer_lag_records",
            "Customer-event records on the broker not yet processed by this worker, per partition it owns "
            "(high watermark of the last fetch minus the committed offset).",
            ["partition"], registry=reg,
        ),
        decision_forwards=_with_labels(Counter(
            "kairos_decision_forwards_total",
            "Requests forwarded to the worker that owns the customer's state, by result (ok; unreachable, "
            "timeout, owner_error: answered here, degraded).",
            ["result"], registry=reg,
        ), FORWARD_RESULTS),
        trigger_funnel=Counter(
            "kairos_trigger_funnel_total",
            "Triggers by kind and stage: " + ", ".join(FUNNEL_STAGES) + ".",
            ["kind", "stage"], registry=reg,
        ),
    )


def _with_labels(counter: Counter, values: tuple[str, ...]) -> Counter:
    """Creates every series of a one-label counter up front, so each shows as 0 until it moves."""
    for value in values:
        counter.labels(value)
    return counter


def set_consumer_lag(gauge: Gauge, lag: dict[int, int]) -> None:
    """Replaces every partition's series: a partition that moved to another worker disappears."""
    gauge.clear()
    for partition, records in sorted(lag.items()):
        gauge.labels(str(partition)).set(records)


class _Families(Collector):
    def __init__(self, families: Iterable[Metric]) -> None:
        self._families = families

    def collect(self) -> Iterable[Metric]:
        return self._families


async def render(registry: CollectorRegistry) -> bytes:
    """The Prometheus text format of `registry`, one metric family at a time, yielding to the
    event loop between families: a scrape never holds up a decision for more than one family's
    formatting (tens of microseconds), however many series there are."""
    parts: list[bytes] = []
    for family in registry.collect():
        parts.append(generate_latest(_Families((family,))))
        await asyncio.sleep(0)
    return b"".join(parts)
