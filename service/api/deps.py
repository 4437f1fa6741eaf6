"""What the HTTP handlers need, bundled and injected by the composition root (no globals)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from aiohttp import web

from service.adapters.clock import Clock
from service.api.forwarding import Forwarder
from service.api.validation import EventValidator
from service.api.webhook_auth import WebhookSecrets
from service.api.wire import FieldError
from service.core.policy import Policy
from service.core.reference import ReferenceData
from service.providers.mapping import IdentityMap
from service.settings import Settings
from service.stream.topics import Topics
from service.telemetry.input_metrics import InputMetrics
from service.telemetry.metrics import Metrics


class Producer(Protocol):
    async def send_each(self, records: Sequence[tuple[str, bytes, bytes]]) -> list[Exception | None]: ...

    async def send_control(self, topic: str, key: bytes, value: bytes, header: tuple[str, bytes]) -> None: ...

    def send_background(self, topic: str, key: bytes, value: bytes, on_error: object = None) -> None: ...


class RecentIds:
    """A bounded, insertion-ordered set of recently accepted event ids (best-effort ingest dedup;
    the per-customer state is the authority)."""

    def __init__(self, capacity: int = 100_000) -> None:
        self._ids: OrderedDict[str, None] = OrderedDict()
        self._capacity = capacity

    def __contains__(self, event_id: object) -> bool:
        return event_id in self._ids

    def add(self, event_id: str) -> None:
        self._ids[event_id] = None
        if len(self._ids) > self._capacity:
            self._ids.popitem(last=False)


@dataclass(frozen=True)
class WebhookDeps:
    """Provider webhooks: their secrets, the identity/place mapping and their metrics."""

    secrets: WebhookSecrets
    mapping: IdentityMap
    metrics: InputMetrics


@dataclass
class ApiDeps:
    settings: Settings
    metrics: Metrics
    clock: Clock
    event_validator: EventValidator
    validate_decision_request: Callable[[object], list[FieldError]]
    producer: Producer
    read_state: Callable[[str], Mapping[str, Any] | None]
    reference: ReferenceData
    policy: Callable[[], Policy]
    readiness: Callable[[], tuple[bool, list[str]]]
    degraded_reasons: Callable[[], list[str]]
    refresh_gauges: Callable[[], None]
    recent_ids: RecentIds
    topics: Topics
    webhooks: WebhookDeps | None = None
    # Scale-out: forwards requests about customers another worker owns (None: answer everything here).
    forwarder: Forwarder | None = None
    # customer id -> the notifications this worker wrote for her, newest first (None: off)
    notifications: Callable[[str], list[dict[str, Any]]] | None = None


DEPS_KEY = web.AppKey("deps", ApiDeps)


def deps_of(request: web.Request) -> ApiDeps:
    return request.app[DEPS_KEY]
