"""Composition helpers for triggered messages, used by bootstrap: the notification stage the
record applier calls, the topic writer, the delivery gateway webhook (KAIROS_NOTIFY_WEBHOOK_URL),
the due-message timer and the back-in-stock fan-out — built from Settings, started once the
stream runs, stopped at shutdown. Nothing here when KAIROS_NOTIFICATIONS is off.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry, Counter

from service.adapters.clock import Clock
from service.adapters.notify_gateway import NotifyGateway
from service.core.policy.model import Policy
from service.core.reference import ReferenceData
from service.settings import Settings, SettingsError
from service.stream.notifications import NotificationStage
from service.stream.notify_tasks import DueTimer, NotificationWriter, Producer, RestockFanout
from service.stream.topics import Topics
from service.telemetry.notify_metrics import NotifyMetrics, build_notify_metrics

log = logging.getLogger("kairos.notify")
RECENT = 1000  # notifications this worker wrote, kept for GET /admin/customers/{id}/notifications


class RecentNotifications:
    """The last RECENT notifications this worker wrote to the topic (support and the demo)."""

    def __init__(self, capacity: int = RECENT) -> None:
        self._items: deque[dict[str, Any]] = deque(maxlen=capacity)

    def add(self, notification: dict[str, Any]) -> None:
        self._items.append(notification)

    def of(self, customer_id: str) -> list[dict[str, Any]]:
        return [n for n in reversed(self._items) if n.get("customer_id") == customer_id]


@dataclass
class NotifyParts:
    metrics: NotifyMetrics
    stage: NotificationStage
    writer: NotificationWriter
    fanout: RestockFanout
    recent: RecentNotifications
    gateway: NotifyGateway | None = None
    timer: DueTimer | None = None
    tasks: list[asyncio.Task[None]] = field(default_factory=list)


def read_token(settings: Settings) -> str | None:
    path = settings.notify_webhook_token_file
    if path is None:
        return None
    try:
        token = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise SettingsError(f"KAIROS_NOTIFY_WEBHOOK_TOKEN_FILE={path}: cannot read it ({exc.strerror})") from None
    if not token:
        raise SettingsError(f"KAIROS_NOTIFY_WEBHOOK_TOKEN_FILE={path} is empty")
    return token


def build_notify(settings: Settings, registry: CollectorRegistry, reference: ReferenceData,
                 policy: Callable[[], Policy], producer: Producer, names: Topics, max_contacts: int,
                 live: Callable[[], bool], token: str | None = None, funnel: Counter | None = None,
                 ) -> NotifyParts | None:
    if not settings.notifications:
        return None
    metrics = build_notify_metrics(registry, funnel)
    gateway = None
    if settings.notify_webhook_url:
        gateway = NotifyGateway(
            settings.notify_webhook_url, token, settings.notify_webhook_timeout_s,
            settings.notify_webhook_retries, settings.notify_webhook_backoff_s,
            queue_size=settings.notify_webhook_queue,
            on_result=lambda channel, result: metrics.deliveries.labels(channel, result).inc())
    stage = NotificationStage(reference, policy, metrics, max_contacts)
    recent = RecentNotifications()
    writer = NotificationWriter(producer, names.notifications, metrics, gateway, recent.add)
    fanout = RestockFanout(stage.index, reference, producer, names.customer_events, live, lambda: True)
    return NotifyParts(metrics, stage, writer, fanout, recent, gateway)


async def start_notify(parts: NotifyParts, settings: Settings, clock: Clock, producer: Producer, names: Topics,
                       ready: Callable[[], bool], stops: list[Callable[[], Any]]) -> None:
    """Starts the gateway, the timer and the fan-out once the stream runs (`ready`: recovered and
    not rebalancing); their stop hooks go to `stops`."""
    if parts.gateway is not None:
        await parts.gateway.start()
    parts.timer = DueTimer(parts.stage.index, clock, producer, names.customer_events, ready, settings.notify_timer_s)
    parts.fanout.ready = ready
    parts.tasks = [asyncio.create_task(parts.timer.run()), asyncio.create_task(parts.fanout.run())]
    stops.extend(task.cancel for task in parts.tasks)


async def stop_notify(parts: NotifyParts | None) -> None:
    if parts is not None and parts.gateway is not None:
        await parts.gateway.stop(timeout_s=5.0)
