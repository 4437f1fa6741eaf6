"""The Kafka producer behind ingest and the decision audit trail.

Ingest awaits the broker's acknowledgement of every record before it answers 202; audit records
are written in the background so the decision path never waits on the broker.
"""

from __future__ import annotations

import asyncio
import collections
import functools
import logging
from collections.abc import Sequence
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from service.adapters.kafka_security import PLAINTEXT, KafkaSecurity

log = logging.getLogger("kairos.producer")

HEADER_INGEST = "kairos-ingest"
# Audit records are handed to the client together, this long after the first one is queued: they
# then share one produce request per broker instead of a request and a response each.
AUDIT_GATHER_S = 0.02
# Bytes buffered per partition before a send waits for the batch to go out. aiokafka's default
# (16 KiB) holds two audit records (~7 KiB each): on a worker busy answering decisions, where
# the sender gets the loop once per cycle of requests, the audit queue then drained slower than
# decisions arrived and records were dropped after the produce timeout (measured: 14,217 of
# 30,280 at ~1,500 decisions/s). 512 KiB per partition stays well under the 1 MiB request limit.
MAX_BATCH_BYTES = 524_288


class ProduceError(RuntimeError):
    """The broker did not acknowledge a record within the timeout."""


class EventProducer:
    def __init__(self, bootstrap: list[str], request_timeout_s: float = 10.0,
                 security: KafkaSecurity = PLAINTEXT) -> None:
        # acks=all and at-least-once: Tansu has no idempotent producer (BROKER.md #2); state
        # updates are idempotent on event_id instead.
        self._producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap, acks="all", linger_ms=1, max_batch_size=MAX_BATCH_BYTES,
            request_timeout_ms=int(request_timeout_s * 1000), enable_idempotence=False,
            **security.client_kwargs(),
        )
        self._timeout_s = request_timeout_s
        self._background: set[asyncio.Task[None]] = set()
        # Audit records waiting for the drain task: (deadline on the loop clock, topic, key, value, on_error)
        self._queue: collections.deque[tuple[float, str, bytes, bytes, object]] = collections.deque()
        self._drainer: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self._producer.start()

    async def ping(self) -> None:
        """A metadata round trip to the cluster; raises if it does not answer."""
        ok = await self._producer.client.fetch_all_metadata()
        if ok is None:
            raise ProduceError("no metadata from the cluster")

    async def stop(self) -> None:
        if self._background:
            await asyncio.wait(self._background, timeout=self._timeout_s)
        await self._producer.flush()
        await self._producer.stop()

    async def send_all(self, records: Sequence[tuple[str, bytes, bytes]], ingest_header: bool = True) -> None:
        """Sends (topic, key, value) records and returns once the broker acknowledged every one."""
        headers = [(HEADER_INGEST, b"1")] if ingest_header else None
        try:
            futures = [
                await self._producer.send(topic, value=value, key=key, headers=headers)
                for topic, key, value in records
            ]
            await asyncio.wait_for(asyncio.gather(*futures), self._timeout_s)
        except (TimeoutError, KafkaError, OSError) as exc:
            raise ProduceError(f"broker did not acknowledge: {type(exc).__name__}") from exc

    async def send_each(self, records: Sequence[tuple[str, bytes, bytes]],
                        header: tuple[str, bytes] = (HEADER_INGEST, b"1")) -> list[Exception | None]:
        """Sends every record; returns, per record, None once acknowledged or the error. Each record
        carries `header` (the ingest marker by default; control records their own)."""
        headers = [header]
        futures: list[asyncio.Future[Any] | Exception] = []
        for topic, key, value in records:
            try:
                futures.append(await self._producer.send(topic, value=value, key=key, headers=headers))
            except (KafkaError, OSError) as send_error:
                futures.append(send_error)
        pending = [f for f in futures if isinstance(f, asyncio.Future)]
        if pending:
            await asyncio.wait(pending, timeout=self._timeout_s)
        out: list[Exception | None] = []
        for f in futures:
            if isinstance(f, Exception):
                out.append(f)
            elif not f.done():
                f.cancel()
                out.append(TimeoutError("not acknowledged in time"))
            else:
                error = f.exception()
                out.append(error if isinstance(error, Exception) else None)
        return out

    async def send_control(self, topic: str, key: bytes, value: bytes, header: tuple[str, bytes]) -> None:
        """Sends one control record (e.g. an erasure) and waits for the broker's acknowledgement."""
        try:
            await asyncio.wait_for(self._producer.send_and_wait(topic, value=value, key=key, headers=[header]),
                                   self._timeout_s)
        except (TimeoutError, KafkaError, OSError) as exc:
            raise ProduceError(f"broker did not acknowledge: {type(exc).__name__}") from exc

    def send_background(self, topic: str, key: bytes, value: bytes, on_error: object = None) -> None:
        """Fire-and-forget with a logged, counted failure; used for audit records.

        Records are queued and handed to the client by one drain task, in order, AUDIT_GATHER_S
        after the first of them: profiled at 1,000-5,000 decisions/s, a task and an acknowledgement
        wait per record cost more CPU than the decision itself (when a partition's batch was full,
        every waiting task woke up to race for the next one), and records sent one by one each
        cost a produce request and response. A record not handed over within the produce timeout
        of being queued, or not acknowledged, is counted as not written, as before."""
        self._queue.append((asyncio.get_running_loop().time() + self._timeout_s, topic, key, value, on_error))
        if self._drainer is None or self._drainer.done():
            self._drainer = asyncio.ensure_future(self._drain())
            self._background.add(self._drainer)
            self._drainer.add_done_callback(self._background.discard)

    async def _drain(self) -> None:
        await asyncio.sleep(AUDIT_GATHER_S)
        loop = asyncio.get_running_loop()
        while self._queue:
            deadline, topic, key, value, on_error = self._queue.popleft()
            try:
                if deadline <= loop.time():
                    raise TimeoutError
                async with asyncio.timeout_at(deadline):  # the client waits while a batch is full
                    future = await self._producer.send(topic, value=value, key=key)
            except (TimeoutError, KafkaError, OSError):
                self._not_written(topic, on_error)
                continue
            future.add_done_callback(functools.partial(self._acknowledged, topic, on_error))

    def _acknowledged(self, topic: str, on_error: object, future: asyncio.Future[Any]) -> None:
        if future.cancelled() or future.exception() is not None:
            self._not_written(topic, on_error)

    @staticmethod
    def _not_written(topic: str, on_error: object) -> None:
        log.warning("audit record not written", extra={"topic": topic})
        if callable(on_error):
            on_error()
