"""Stream layer: the parts of triggered messaging that run beside the agents —

- NotificationWriter: writes notifications to kairos.notifications.v1 (key = customer id) and
  hands them to the delivery gateway webhook when one is configured;
- DueTimer: every `every_s` of wall time, reads the injected clock and, for each of this
  worker's customers whose earliest held message is due (the TriggerIndex heap: no scan of
  every customer), writes a `kairos.notify.due` control record to HER partition of the customer
  topic, so her owner releases it in order with her events (durable: the held messages are in
  her state; a due record lost in a crash is re-made from the index after recovery);
- RestockFanout: a stock change the reference feed applied that puts a product back in stock
  in a size (out everywhere before, in stock somewhere now) becomes one `kairos.notify.restock`
  record per customer of THIS worker who wished it (every worker reads every stock change and
  routes to its own customers). Only live changes: history replayed at start is not re-sent.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import orjson

from service.adapters.clock import Clock
from service.core import events as ev
from service.core.reference import ReferenceData
from service.core.timeutil import parse_rfc3339_ms
from service.stream.erasure import HEADER_CONTROL
from service.stream.notifications import NOTIFY_CONTROL, due_record, restock_record
from service.stream.trigger_index import TriggerIndex
from service.telemetry.notify_metrics import NotifyMetrics

log = logging.getLogger("kairos.notify")
RETRY_MS = 5_000
CONTROL_HEADER = (HEADER_CONTROL, NOTIFY_CONTROL)


class Producer(Protocol):
    async def send_each(self, records: list[tuple[str, bytes, bytes]],
                        header: tuple[str, bytes] = ...) -> list[Exception | None]: ...


class Gateway(Protocol):
    def submit(self, notification: dict[str, Any]) -> bool: ...


class NotificationWriter:
    def __init__(self, producer: Producer, topic: str, metrics: NotifyMetrics, gateway: Gateway | None = None,
                 recent: Callable[[dict[str, Any]], None] | None = None) -> None:
        self._producer = producer
        self._topic = topic
        self._metrics = metrics
        self._gateway = gateway
        self._recent = recent

    async def write(self, notifications: list[dict[str, Any]]) -> None:
        records = [(self._topic, str(n["customer_id"]).encode(), orjson.dumps(n)) for n in notifications]
        results = await self._producer.send_each(records, ("kairos-notification", b"1"))
        for notification, error in zip(notifications, results, strict=True):
            if error is not None:
                self._metrics.topic_failures.inc()
                log.error("notification not written to the topic; it is recorded as sent in her state",
                          extra={"notification_id": notification["notification_id"], "reason": repr(error)[:200]})
                continue
            if self._recent is not None:
                self._recent(notification)
            if self._gateway is not None:
                self._gateway.submit(notification)


class DueTimer:
    def __init__(self, index: TriggerIndex, clock: Clock, producer: Producer, customer_topic: str,
                 ready: Callable[[], bool], every_s: float = 0.25) -> None:
        self._index = index
        self._clock = clock
        self._producer = producer
        self._topic = customer_topic
        self._ready = ready
        self._every_s = every_s
        self.sent = 0

    async def run(self) -> None:
        while True:
            try:
                if self._ready():
                    await self.tick()
            except Exception:  # a defect must not stop the timer: held messages would never go
                log.exception("the notification timer failed a round")
            await asyncio.sleep(self._every_s)

    async def tick(self) -> int:
        """Writes the due records for every customer due at the clock's now; returns how many."""
        now_ms = self._clock.now_ms()
        due = self._index.pop_due(now_ms)
        if not due:
            return 0
        records = [(self._topic, key, due_record(key.decode("utf-8", "replace"), at)) for key, at in due]
        results = await self._producer.send_each(records, CONTROL_HEADER)
        for (key, _at), error in zip(due, results, strict=True):
            if error is not None:
                self._index.retry(key, now_ms + RETRY_MS)
        self.sent += sum(1 for e in results if e is None)
        return len(due)


def restocked_sizes(ref: ReferenceData, event: Mapping[str, Any]) -> bool:
    """Did this applied stock change put the product back in stock in its size: 0 before at this
    location (a restock, reference.restocked_at) and nowhere else in stock in that size?"""
    if event.get("type") != ev.STOCK_CHANGED or int(event.get("quantity", 0)) <= 0:
        return False
    pid, store, size = event["product_id"], event["store_id"], event.get("size") or ""
    at = ref.restocked_at.get(pid, {}).get((store, size))
    if at != parse_rfc3339_ms(event["occurred_at"]):
        return False
    for (other, sz), level in ref.stock.get(pid, {}).items():
        if (other, sz) != (store, size) and level.quantity > 0 and (not size or sz in (size, "")):
            return False
    return True


class RestockFanout:
    def __init__(self, index: TriggerIndex, reference: ReferenceData, producer: Producer, customer_topic: str,
                 live: Callable[[], bool], ready: Callable[[], bool]) -> None:
        self._index = index
        self._ref = reference
        self._producer = producer
        self._topic = customer_topic
        self._live = live
        self.ready = ready
        self._queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=100_000)
        self.routed = 0

    def on_reference_event(self, event: Mapping[str, Any]) -> None:
        """Called by the reference feed after it applied an event (synchronously, in order)."""
        if not self._live() or not restocked_sizes(self._ref, event):
            return
        try:
            self._queue.put_nowait(dict(event))
        except asyncio.QueueFull:
            log.warning("back-in-stock fan-out queue full; stock change not routed",
                        extra={"product_id": str(event.get("product_id"))[:64]})

    async def run(self) -> None:
        while True:
            event = await self._queue.get()
            # During a rebalance the index is rebuilt for the new partitions first: route after.
            while not self.ready():
                await asyncio.sleep(0.1)
            try:
                await self.route(event)
            except Exception:
                log.exception("back-in-stock fan-out failed for a stock change")

    async def route(self, event: Mapping[str, Any]) -> int:
        keys = self._index.wishing(str(event["product_id"]))
        if not keys:
            return 0
        records = [(self._topic, key, restock_record(key.decode("utf-8", "replace"), event)) for key in keys]
        for attempt in range(3):
            results = await self._producer.send_each(records, CONTROL_HEADER)
            records = [r for r, e in zip(records, results, strict=True) if e is not None]
            if not records:
                break
            await asyncio.sleep(0.5 * 2 ** attempt)
        if records:
            log.error("back-in-stock not routed to some customers", extra={"customers": len(records)})
        self.routed += len(keys) - len(records)
        return len(keys) - len(records)
