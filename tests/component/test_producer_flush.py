"""The faust producer's flush (called right before every offset commit and at stop) returns only
once every buffered state write is acknowledged.

faust's own ProducerBuffer.flush gives up when no record was handed on for 0.1 s; offsets were
then committed past state writes still in the buffer, and an acknowledged event was missing from
the state after a restart. Here each write takes 0.15 s to be handed on and acknowledged — a
loaded producer — on faust's real buffer and Kairos's producer class."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import faust
from faust.types.tuples import FutureMessage, PendingMessage

from service.adapters import faust_transport

SEND_S = 0.15


class SlowChannel:
    """Stands in for the changelog topic: hands a record on after SEND_S, acknowledged at once."""

    def __init__(self) -> None:
        self.sent: list[int] = []

    async def publish_message(self, fut: FutureMessage, wait: bool = False) -> None:
        await asyncio.sleep(SEND_S)
        self.sent.append(fut.message.value)
        fut.set_result(None)


def pending(channel: SlowChannel, n: int) -> FutureMessage:
    return FutureMessage(PendingMessage(channel, b"k", n, None, None, None, None, None, None))  # type: ignore[arg-type]


def producer(tmp_path: Path) -> Any:
    faust_transport.register()
    app = faust.App("flush-test", broker=f"{faust_transport.SCHEME}://127.0.0.1:9", datadir=str(tmp_path),
                    web_enabled=False)
    made = app.producer
    assert isinstance(made, faust_transport._Producer)
    return made


async def test_flush_waits_for_every_buffered_write(tmp_path: Path) -> None:
    made = producer(tmp_path)
    channel = SlowChannel()
    await made.buffer.start()
    try:
        futures = [pending(channel, n) for n in range(6)]
        for fut in futures:
            made.send_soon(fut)
        await asyncio.wait_for(made.flush(), timeout=10)
        assert [f.done() for f in futures] == [True] * 6
        assert channel.sent == [0, 1, 2, 3, 4, 5]  # in order
        assert made._kairos_unsent == set()
    finally:
        await made.buffer.stop()


async def test_flush_after_the_buffer_stopped_sends_the_rest_in_order(tmp_path: Path) -> None:
    made = producer(tmp_path)
    channel = SlowChannel()
    futures = [pending(channel, n) for n in range(3)]
    for fut in futures:
        made.send_soon(fut)
    made.buffer._stopped.set()  # the buffer's sender is not running (stopped before the producer)
    assert made.buffer.should_stop
    await asyncio.wait_for(made.flush(), timeout=10)
    assert channel.sent == [0, 1, 2]
    assert all(f.done() for f in futures)


async def test_writes_made_after_the_flush_began_do_not_hold_it(tmp_path: Path) -> None:
    """The offsets being committed were taken before the flush: only earlier writes precede them.
    A steady stream of later writes (here faster than the producer hands them on) must not hold
    the commit back until the stream pauses."""
    made = producer(tmp_path)
    channel = SlowChannel()
    await made.buffer.start()
    later: list[FutureMessage] = []

    async def feed() -> None:
        for n in range(2, 32):
            fut = pending(channel, n)
            later.append(fut)
            made.send_soon(fut)
            await asyncio.sleep(SEND_S / 3)

    try:
        first = [pending(channel, n) for n in range(2)]
        for fut in first:
            made.send_soon(fut)
        feeder = asyncio.create_task(feed())
        await asyncio.wait_for(made.flush(), timeout=10)
        assert all(f.done() for f in first)
        assert channel.sent[:2] == [0, 1]
        assert not all(f.done() for f in later), "the flush waited for writes made after it began"
        await feeder
        await asyncio.wait_for(made.flush(), timeout=30)  # a later flush covers them all
        assert channel.sent == list(range(32))
    finally:
        await made.buffer.stop()
