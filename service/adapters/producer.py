"""The Kafka producer behind ingest and the decision audit trail.

Ingest awaits the broker's acknowledgement of every record before it answers 202; audit records
are written in the background so the decision path never waits on the broker.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from service.adapters.kafka_security import PLAINTEXT, KafkaSecurity

log = logging.getLogger("kairos.producer")

HEADER_INGEST = "kairos-ingest"


class ProduceError(RuntimeError):
    """The broker did not acknowledge a record within the timeout."""


class EventProducer:
    def __init__(self, bootstrap: list[str], request_timeout_s: float = 10.0,
                 security: KafkaSecurity = PLAINTEXT) -> None:
        # acks=all and at-least-once: Tansu has no idempotent producer (BROKER.md #2); state
        # updates are idempotent on event_id instead.
        self._producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap, acks="all", linger_ms=1,
            request_timeout_ms=int(request_timeout_s * 1000), enable_idempotence=False,
            **security.client_kwargs(),
        )
        self._timeout_s = request_timeout_s
        self._background: set[asyncio.Task[None]] = set()

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

    async def send_each(self, records: Sequence[tuple[str, bytes, bytes]]) -> list[Exception | None]:
        """Sends every record; returns, per record, None once acknowledged or the error."""
        headers = [(HEADER_INGEST, b"1")]
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
        """Fire-and-forget with a logged, counted failure; used for audit records."""
        task = asyncio.ensure_future(self._send_one(topic, key, value, on_error))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _send_one(self, topic: str, key: bytes, value: bytes, on_error: object) -> None:
        try:
            await self.send_all([(topic, key, value)], ingest_header=False)
        except ProduceError:
            log.warning("audit record not written", extra={"topic": topic})
            if callable(on_error):
                on_error()
