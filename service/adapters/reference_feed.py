"""Reference data (catalog, stores, stock, weather) for the decision path, on every worker.

A groupless consumer reads every partition of the reference topics from the beginning and
applies each record to an in-memory read model. Unlike faust's GlobalTable (applied only every
1,000 records, lost concurrent updates — BROKER.md) each record is applied as it arrives.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer
from aiokafka.structs import TopicPartition

from service.adapters.faust_transport import fetch_highwaters
from service.adapters.kafka_security import PLAINTEXT, KafkaSecurity
from service.api.wire import FieldError
from service.core.events import REFERENCE_EVENT_TYPES
from service.core.reference import ReferenceData, apply_reference_event

log = logging.getLogger("kairos.reference")


class ReferenceFeed:
    def __init__(self, bootstrap: list[str], topics: tuple[str, ...], data: ReferenceData,
                 validate: Callable[[object], list[FieldError]],
                 on_record: Callable[[str, str], None] | None = None, security: KafkaSecurity = PLAINTEXT,
                 on_applied: Callable[[dict[str, Any]], None] | None = None) -> None:
        self._bootstrap = bootstrap
        self._security = security
        self._topics = topics
        self.data = data
        self._validate = validate
        self._on_record = on_record
        # Called with each event that changed the read model, right after it was applied (the
        # back-in-stock fan-out reads the stock change and the read model as it is then).
        self._on_applied = on_applied
        self.failed: BaseException | None = None
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None
        self.caught_up = asyncio.Event()
        self.records_applied = 0

    async def start(self) -> None:
        consumer = AIOKafkaConsumer(bootstrap_servers=self._bootstrap, group_id=None, enable_auto_commit=False,
                                    auto_offset_reset="earliest", **self._security.client_kwargs())
        await consumer.start()
        self._consumer = consumer
        tps = [TopicPartition(t, p) for t in self._topics for p in sorted(consumer.partitions_for_topic(t) or ())]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        listed = await consumer.end_offsets(tps)
        targets = await fetch_highwaters(self._bootstrap, tps, listed, client_kwargs=self._security.client_kwargs())
        self._task = asyncio.create_task(self._run(consumer, {TopicPartition(tp.topic, tp.partition): hw
                                                              for tp, hw in targets.items()}))
        self._task.add_done_callback(self._on_done)

    def _on_done(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            self.failed = task.exception()
            log.error("the reference feed stopped; decisions are marked degraded", exc_info=self.failed)

    async def _run(self, consumer: AIOKafkaConsumer, targets: dict[TopicPartition, int]) -> None:
        pending = {tp for tp, hw in targets.items() if hw > 0}
        if not pending:
            self.caught_up.set()
        while True:
            batches = await consumer.getmany(timeout_ms=200, max_records=5000)
            for tp, records in batches.items():
                for rec in records:
                    self._apply(rec.value)
                if tp in pending and records and records[-1].offset + 1 >= targets[tp]:
                    pending.discard(tp)
            if pending and not batches:
                pending = {tp for tp in pending if await consumer.position(tp) < targets[tp]}
            if not pending and not self.caught_up.is_set():
                self.caught_up.set()
                log.info("reference data caught up", extra={"records": self.records_applied})

    def _apply(self, raw: bytes | None) -> None:
        try:
            value = orjson.loads(raw or b"null")
        except orjson.JSONDecodeError:
            log.warning("reference record is not JSON; skipped")
            return
        events = value if isinstance(value, list) else [value]
        for event in events:
            # Anyone can write to a reference topic: one bad record must not stop the feed.
            errors = self._validate(event)
            etype = str(event.get("type", "?")) if isinstance(event, dict) else "?"
            if errors or not isinstance(event, dict) or etype not in REFERENCE_EVENT_TYPES:
                why = errors[0].reason if errors else "not a reference event"
                log.warning("reference record rejected", extra={"reason": why[:200]})
                result = "rejected"
            else:
                try:
                    result = "applied" if apply_reference_event(self.data, event) else "ignored"
                    if result == "applied" and self._on_applied is not None:
                        self._on_applied(event)
                except Exception:
                    log.exception("reference record could not be applied")
                    result = "rejected"
                self.records_applied += 1
            if self._on_record is not None:
                self._on_record(etype if etype in REFERENCE_EVENT_TYPES else "unknown", result)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        if self._consumer is not None:
            await self._consumer.stop()
