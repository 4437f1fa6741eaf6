"""Telemetry: the trigger funnel and notification delivery metrics (bounded labels only: the
trigger's situation — one of five kinds — the stage, a reason from a fixed set, the channel)."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge

from service.core.triggers.model import KINDS, REASONS, STAGES

FUNNEL = "kairos_trigger_funnel_total"
DELIVERY_RESULTS = ("delivered", "retried", "rejected", "failed", "dropped")
CHANNELS = ("push", "email")


@dataclass(frozen=True)
class NotifyMetrics:
    funnel: Counter
    outcomes: Counter
    deliveries: Counter
    topic_failures: Counter
    held: Gauge


def build_notify_metrics(registry: CollectorRegistry, funnel: Counter | None = None) -> NotifyMetrics:
    """`funnel` is the main bundle's kairos_trigger_funnel_total (service/telemetry/metrics.py, which
    the alerts and the dashboard read); a registry of its own (tests) gets a fresh one."""
    funnel = funnel or Counter(
        FUNNEL, "Triggered messages by kind (the trigger's situation) and funnel stage: detected, eligible, "
        "capped, deferred, sent, expired, suppressed.", ["kind", "stage"], registry=registry)
    outcomes = Counter(
        "kairos_trigger_outcomes_total",
        "Why triggered messages were held or dropped: by kind, stage (suppressed, capped, deferred, expired, "
        "not_eligible) and reason.", ["kind", "stage", "reason"], registry=registry)
    deliveries = Counter(
        "kairos_notification_deliveries_total",
        "Notifications POSTed to the delivery gateway webhook, by channel and result: delivered, retried (an "
        "attempt that will be repeated), rejected (4xx), failed (gave up after the retries), dropped (queue full).",
        ["channel", "result"], registry=registry)
    topic_failures = Counter(
        "kairos_notification_write_failures_total",
        "Notifications that could not be written to the notifications topic.", registry=registry)
    held = Gauge("kairos_notifications_held_customers",
                 "Customers of this worker with a held (deferred) message.", registry=registry)
    for kind in KINDS:
        for stage in STAGES:
            funnel.labels(kind, stage)
        for stage, reasons in REASONS.items():
            for reason in reasons:
                outcomes.labels(kind, stage, reason)
    for channel in CHANNELS:
        for result in DELIVERY_RESULTS:
            deliveries.labels(channel, result)
    return NotifyMetrics(funnel, outcomes, deliveries, topic_failures, held)
