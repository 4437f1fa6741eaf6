"""The faust transport Kairos runs on (the `kairos://` broker scheme): fixes to faust.

- Changelog high-water marks come from Fetch responses. Tansu answers ListOffsets(LATEST) with
  "base offset of the last record batch + 1" instead of the high watermark (BROKER.md, defect 1),
  so faust's recovery stopped early and lost updates (or RocksDB raised ConsistencyError). The
  Fetch response's high watermark is right on every broker, so we take the larger of the two.
- The producer's flush waits for every state (changelog) write made before it. faust's
  ProducerBuffer.flush returns once no buffered record was handed on for 0.1 s, and the consumer
  commits its source offsets right after: under load, offsets were committed while state writes
  still sat in the buffer, and a stop then dropped them — an event acknowledged with 202 was missing from
  the state after a restart (seen in tests/integration/test_graceful_shutdown.py).
- No "Stream has not started processing" error for changelog partitions, which no stream reads.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

from aiokafka import AIOKafkaConsumer
from aiokafka.structs import TopicPartition
from faust.transport.drivers import TRANSPORTS
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP

log = logging.getLogger("kairos.kafka")

SCHEME = "kairos"


async def fetch_highwaters(
    bootstrap: list[str], partitions: Iterable[TP], listed: Mapping[TP, int], timeout_s: float = 15.0,
    client_kwargs: Mapping[str, Any] | None = None,
) -> dict[TP, int]:
    """High watermark per partition as reported by Fetch; never below what ListOffsets said.

    `client_kwargs` are the TLS/SASL arguments of the other clients (KafkaSecurity.client_kwargs)."""
    tps = list(partitions)
    if not tps:
        return {}
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None,
                                **(client_kwargs or {}))
    await consumer.start()
    found: dict[TP, int] = {}
    try:
        akafka = {tp: TopicPartition(tp.topic, tp.partition) for tp in tps}
        consumer.assign(list(akafka.values()))
        for tp, atp in akafka.items():
            # Reading only the last batch is enough: the response carries the high watermark.
            consumer.seek(atp, max(listed.get(tp, 0) - 1, 0))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while len(found) < len(tps) and loop.time() < deadline:
            pending = [akafka[tp] for tp in tps if tp not in found]
            await consumer.getmany(*pending, timeout_ms=200, max_records=1)
            for tp in tps:
                hw = consumer.highwater(akafka[tp])
                if tp not in found and hw is not None:
                    found[tp] = hw
    finally:
        await consumer.stop()
    missing = [tp for tp in tps if tp not in found]
    if missing:
        log.warning("no Fetch high watermark; using ListOffsets", extra={"partitions": len(missing)})
    return {tp: max(found.get(tp, 0), listed.get(tp, 0)) for tp in tps}


FETCH_MAX_WAIT_MS = 20


class _ConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        # faust hard-codes fetch_max_wait_ms=1500; an event then waits for the broker's long
        # poll to time out before it reaches the state. A short wait keeps freshness in the tens
        # of milliseconds at the cost of a few idle fetch requests per second.
        consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS
        return consumer

    def verify_event_path(self, now: float, tp: TP) -> None:
        # A table's changelog partitions are read by recovery and standbys, never by a stream, so
        # faust's "Stream has not started processing" check always fires for them once state is
        # written: an error line per changelog partition every few seconds (~3.5 lines/s in a
        # 10-minute soak), burying real ones. The partitions streams do read are still checked.
        if tp.topic in self.app.tables.changelog_topics:
            return None
        return super().verify_event_path(now, tp)

    async def _highwaters(self, partitions: list[TP]) -> Mapping[TP, int]:
        listed = await super()._highwaters(partitions)
        if self.consumer.in_transaction:
            return listed
        conf = self.app.conf
        bootstrap = [f"{url.host}:{url.port}" for url in conf.broker]
        # The same TLS/SASL arguments faust gives its own consumer.
        auth = faust_aiokafka.credentials_to_aiokafka_auth(conf.broker_credentials, conf.ssl_context)
        return await fetch_highwaters(bootstrap, partitions, dict(listed), client_kwargs=auth)


class _Consumer(faust_aiokafka.Consumer):
    def _new_consumer_thread(self) -> faust_aiokafka.AIOKafkaConsumerThread:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)


FLUSH_WARN_S = 10.0  # a flush still waiting this long says so (and keeps waiting)


async def wait_acknowledged(writes: Iterable[asyncio.Future[Any]], warn_s: float = FLUSH_WARN_S) -> None:
    """Returns once every future in `writes` is done.

    It never gives up: committing past a state write that is not on the broker loses it, while
    waiting only delays the commit (at-least-once; a stop that times out reprocesses instead)."""
    pending = {fut for fut in writes if not fut.done()}
    while pending:
        _done, pending = await asyncio.wait(pending, timeout=warn_s)
        if pending:
            log.warning("state writes not yet acknowledged by the broker; offsets wait",
                        extra={"records": len(pending)})


class _Producer(faust_aiokafka.Producer):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Every record given to send_soon (table changelog writes) until the broker acknowledges it.
        self._kairos_unsent: set[asyncio.Future[Any]] = set()
        super().__init__(*args, **kwargs)

    def send_soon(self, fut: Any) -> None:
        self._kairos_unsent.add(fut)
        fut.add_done_callback(self._kairos_unsent.discard)
        super().send_soon(fut)

    async def flush(self) -> None:
        # The offsets about to be committed were taken before this call, so only the writes made
        # so far precede them; waiting for later ones too would let a steady stream of writes
        # hold every commit back.
        before = list(self._kairos_unsent)
        buffer: Any = self.buffer
        if buffer.should_stop:
            # The buffer's sender has stopped: hand the rest on here, in order, or they never go.
            while not buffer.pending.empty():
                await buffer._send_pending(buffer.pending.get_nowait())
        await super().flush()
        await wait_acknowledged(before)


class Transport(faust_aiokafka.Transport):
    Consumer: ClassVar[Any] = _Consumer
    Producer: ClassVar[Any] = _Producer


def register() -> None:
    """Makes `kairos://host:port` resolve to this transport (idempotent)."""
    TRANSPORTS.data[SCHEME] = f"{__name__}:Transport"
