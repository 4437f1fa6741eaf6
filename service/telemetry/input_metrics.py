"""Telemetry: metrics of the input edges — provider webhooks, server-side geofencing, weather.

Built on the same injected registry as the core metrics. Labels are bounded: provider names,
outcomes and kinds from fixed sets, never an id.
"""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter

WEBHOOK_PROVIDERS = ("radar", "aws-location", "azure-maps", "kairos")


@dataclass(frozen=True)
class InputMetrics:
    webhook_signature_failures: Counter
    webhook_events: Counter
    geofence_transitions: Counter
    weather_fetches: Counter


def build_input_metrics(registry: CollectorRegistry) -> InputMetrics:
    failures = Counter(
        "kairos_webhook_signature_failures_total",
        "Webhook requests refused because the provider's signature or token was missing, invalid or expired.",
        ["provider", "reason"], registry=registry)
    for provider in WEBHOOK_PROVIDERS:
        for reason in ("missing", "invalid"):
            failures.labels(provider, reason)
    return InputMetrics(
        webhook_signature_failures=failures,
        webhook_events=Counter(
            "kairos_webhook_events_total",
            "Provider events received by webhook, by provider and status (accepted, duplicate, rejected, "
            "ignored, unmapped).", ["provider", "status"], registry=registry),
        geofence_transitions=Counter(
            "kairos_geofence_transitions_total",
            "Geofence events derived on the stream from raw positions (server-side geofencing), by kind "
            "(entered, exited, dwelled).", ["kind"], registry=registry),
        weather_fetches=Counter(
            "kairos_weather_fetches_total",
            "Open-Meteo current-weather requests, by outcome (ok, cached, error).", ["outcome"], registry=registry),
    )
