"""Stream layer: triggered messages for the records this worker applies — thin glue between the
record applier and the pure core (service/core/triggers/).

After a record is applied to her state: held messages that are due are released, then the
detectors run on (state before, state after, the applied events) and their candidates are
planned under her contact budget. The control records it also handles come through HER
partition of the customer topic, so her owner decides, in order with her events:
  kairos.notify.due      her earliest held message is due (sent by the timer, service.stream.notify_tasks)
  kairos.notify.restock  a stock change for a product she wished (the fan-out, same module)
Decision audit records with an incentive count as a screen contact (service.core.triggers.shown).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from service.core import events as ev
from service.core.policy.model import Policy
from service.core.reference import ReferenceData
from service.core.triggers.detectors import detect
from service.core.triggers.model import STAGES, Count
from service.core.triggers.moment import Moment
from service.core.triggers.outbox import Env, already_sent, cancel_all, needs_release, plan, release
from service.core.triggers.shown import count_incentive, shown_incentive
from service.stream.erasure import HEADER_CONTROL
from service.stream.trigger_index import TriggerIndex, decode_entry, encode_entry, index_entry
from service.telemetry.notify_metrics import NotifyMetrics

log = logging.getLogger("kairos.notify")

NOTIFY_CONTROL = b"notify"
DUE = "kairos.notify.due"
RESTOCK = "kairos.notify.restock"
CONTROL_TYPES = frozenset({DUE, RESTOCK})
TRIGGERING = frozenset({ev.LOCATION_UPDATED, ev.GEOFENCE_ENTERED, ev.GEOFENCE_DWELLED, ev.WISHLIST_ADDED,
                        ev.ORDER_PLACED, ev.LOYALTY_UPDATED, ev.PROFILE_UPDATED})


def due_record(customer_id: str, due_ms: int) -> bytes:
    return orjson.dumps({"type": DUE, "customer_id": customer_id, "due_ms": due_ms})


def restock_record(customer_id: str, stock_event: Mapping[str, Any]) -> bytes:
    return orjson.dumps({"type": RESTOCK, "customer_id": customer_id, "product_id": stock_event["product_id"],
                         "store_id": stock_event["store_id"], "size": stock_event.get("size") or "",
                         "quantity": stock_event["quantity"], "event_id": stock_event["event_id"],
                         "occurred_at": stock_event["occurred_at"]})


def is_notify_control(headers: Mapping[str, bytes] | Iterable[tuple[str, bytes]] | None, value: object) -> bool:
    """Header and type both, as for erasures: neither alone makes an event a control record."""
    pairs = headers.items() if isinstance(headers, Mapping) else headers or ()
    marked = any(k == HEADER_CONTROL and v == NOTIFY_CONTROL for k, v in pairs)
    return marked and isinstance(value, dict) and value.get("type") in CONTROL_TYPES


@dataclass
class StageOut:
    state: dict[str, Any] | None = None  # None: unchanged
    sent: list[dict[str, Any]] = field(default_factory=list)


class NotificationStage:
    def __init__(self, reference: ReferenceData, policy: Callable[[], Policy], metrics: NotifyMetrics,
                 max_contacts: int, index: TriggerIndex | None = None, index_table: Any = None) -> None:
        self._ref = reference
        self._policy = policy
        self._metrics = metrics
        self._max_contacts = max_contacts
        self.index = index if index is not None else TriggerIndex()
        self._index_table = index_table
        self._actives: Callable[[], set[int]] = lambda: set()

    def attach(self, index_table: Any, actives: Callable[[], set[int]]) -> None:
        """The durable index table and this worker's active customer-topic partitions."""
        self._index_table = index_table
        self._actives = actives

    async def rebuild_index(self) -> None:
        """After a recovery (start, rebalance): the in-memory index from the table's entries on
        the partitions this worker now owns (faust calls this before the agents resume)."""
        partitions = self._actives()
        n = self.index.rebuild(self._index_table.items() if self._index_table is not None else (), partitions)
        self._metrics.held.set(self.index.held)
        log.info("trigger index rebuilt", extra={"customers": n, "partitions": sorted(partitions),
                                                 "held": self.index.held})

    def after_record(self, customer_id: str, before: Mapping[str, Any] | None, after: Mapping[str, Any] | None,
                     applied: Sequence[Mapping[str, Any]], now_ms: int) -> StageOut:
        if after is None:
            return StageOut()
        policy = self._policy()
        m = Moment(customer_id, before, after, applied, self._ref, policy, now_ms)
        candidates = []
        if applied and m.types & TRIGGERING and policy.triggers:
            candidates = detect(m, lambda key: already_sent(after, key, policy, now_ms))
        return self._run(m, candidates)

    def on_control(self, customer_id: str, state: Mapping[str, Any] | None, control: Mapping[str, Any],
                   now_ms: int) -> StageOut:
        if state is None:
            return StageOut()  # erased, or never seen: nothing held, nothing wished
        restock = control if control.get("type") == RESTOCK else None
        m = Moment(customer_id, state, state, [], self._ref, self._policy(), now_ms, restock=restock)
        candidates = detect(m, lambda key: already_sent(state, key, m.policy, now_ms)) if restock else []
        return self._run(m, candidates)

    def _run(self, m: Moment, candidates: list[Any]) -> StageOut:
        state = m.after
        if state is None or (not candidates and not needs_release(state, m.now_ms)):
            return StageOut()
        ctx = m.ctx
        env = Env(m.policy, m.customer_id, ctx.local.time_zone, ctx.requested_locale, m.now_ms, ctx.facts,
                  self._max_contacts)
        out = StageOut()
        released = release(state, env)
        self._count(released.counts)
        if released.changed:
            state = out.state = released.state
        out.sent.extend(released.sent)
        if candidates:
            planned = plan(state, candidates, env)
            self._count(planned.counts)
            if planned.changed:
                out.state = planned.state
            out.sent.extend(planned.sent)
        return out

    def on_decision(self, customer_id: str, state: Mapping[str, Any] | None, record: Mapping[str, Any],
                    erased_until_ms: int | None) -> dict[str, Any] | None:
        """Her state with a shown incentive counted, or None (no incentive, already counted, or
        shown before her erasure)."""
        shown = shown_incentive(record)
        if shown is None or (erased_until_ms is not None and shown[2] <= erased_until_ms):
            return None
        return count_incentive(state, customer_id, shown, self._max_contacts)

    def on_erase(self, key: bytes, state: Mapping[str, Any] | None) -> None:
        self._count(cancel_all(state, "erased"))
        self.reindex(key, None, 0)

    def reindex(self, key: bytes, state: Mapping[str, Any] | None, partition: int) -> None:
        """Keep her index entry (table and memory) in step with her state, writing only changes."""
        entry = index_entry(state, partition)
        if self._index_table is None:
            self.index.update(key, entry)
            return
        stored = decode_entry(self._index_table.get(key))
        if entry == stored:
            return
        if entry is None:
            if key in self._index_table:
                del self._index_table[key]
        else:
            self._index_table[key] = encode_entry(entry)
        self.index.update(key, entry)
        self._metrics.held.set(self.index.held)

    def _count(self, counts: Iterable[Count]) -> None:
        for c in counts:
            if c.stage in STAGES:
                self._metrics.funnel.labels(c.kind, c.stage).inc()
            if c.reason is not None:
                self._metrics.outcomes.labels(c.kind, c.stage, c.reason).inc()
