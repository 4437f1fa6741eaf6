"""The delivery gateway client against a fake gateway on 127.0.0.1: delivered with its token and
idempotency key, retried with backoff on 5xx, 429 and a slow answer, rejected on 4xx, given up
after its retries, dropped when its queue is full — each counted."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest

from service.adapters.notify_gateway import NotifyGateway
from tests.fake_gateway import FakeGateway


def note(n: int = 1, channel: str = "push") -> dict[str, Any]:
    return {"notification_id": f"00000000-0000-4000-8000-{n:012d}", "customer_id": "anna", "channel": channel,
            "title": "Your wishlist item is here"}


@pytest.fixture
async def fake() -> AsyncIterator[FakeGateway]:
    server = FakeGateway(hang_s=1.0)
    await server.start()
    yield server
    await server.stop()


async def client(fake: FakeGateway, results: Counter[tuple[str, str]], **kw: Any) -> NotifyGateway:
    options: dict[str, Any] = {"token": "gw-s3cret", "timeout_s": 0.3, "retries": 2, "backoff_s": 0.01, **kw}
    gateway = NotifyGateway(fake.url, on_result=lambda channel, result: results.update([(channel, result)]),
                            **options)
    await gateway.start()
    return gateway


async def test_delivered_with_the_token_and_the_idempotency_key(fake: FakeGateway) -> None:
    results: Counter[tuple[str, str]] = Counter()
    gateway = await client(fake, results)
    try:
        assert await gateway.deliver(note()) == "delivered"
    finally:
        await gateway.stop()
    [got] = fake.received
    assert got.body == note()
    assert (got.headers["Authorization"], got.headers["Idempotency-Key"], got.headers["Content-Type"]) == (
        "Bearer gw-s3cret", "00000000-0000-4000-8000-000000000001", "application/json")
    assert results == Counter({("push", "delivered"): 1})


@pytest.mark.parametrize(("script", "result", "attempts", "counted"), [
    (["500"], "delivered", 2, {"retried": 1, "delivered": 1}),
    (["503", "429"], "delivered", 3, {"retried": 2, "delivered": 1}),
    (["hang"], "delivered", 2, {"retried": 1, "delivered": 1}),  # slower than the 0.3 s timeout
    (["500", "500", "500"], "failed", 3, {"retried": 2, "failed": 1}),
    (["400"], "rejected", 1, {"rejected": 1}),
    (["401"], "rejected", 1, {"rejected": 1}),
    (["408"], "delivered", 2, {"retried": 1, "delivered": 1}),
])
async def test_retries_and_their_outcomes(fake: FakeGateway, script: list[str], result: str, attempts: int,
                                          counted: dict[str, int]) -> None:
    fake.script = list(script)
    results: Counter[tuple[str, str]] = Counter()
    gateway = await client(fake, results)
    try:
        assert await gateway.deliver(note(channel="email")) == result
    finally:
        await gateway.stop()
    assert len(fake.received) == attempts
    assert results == Counter({("email", k): v for k, v in counted.items()})


async def test_a_gateway_that_is_down_is_given_up_on(fake: FakeGateway) -> None:
    results: Counter[tuple[str, str]] = Counter()
    await fake.stop()  # nothing listens on the port any more
    gateway = NotifyGateway(fake.url, timeout_s=0.3, retries=1, backoff_s=0.01,
                            on_result=lambda channel, result: results.update([(channel, result)]))
    await gateway.start()
    try:
        assert await gateway.deliver(note()) == "failed"
    finally:
        await gateway.stop()
    assert results == Counter({("push", "retried"): 1, ("push", "failed"): 1})


async def test_submit_never_blocks_and_a_full_queue_drops_and_counts(fake: FakeGateway) -> None:
    fake.script, fake.hang_s = ["hang"] * 4, 0.2
    results: Counter[tuple[str, str]] = Counter()
    gateway = await client(fake, results, queue_size=2, workers=1, timeout_s=2.0, retries=0)
    try:
        accepted = [gateway.submit(note(n)) for n in range(5)]
        # the single worker has taken the first one; two wait in the queue; two are dropped
        assert accepted.count(False) >= 2
        assert await gateway.drain(10)
    finally:
        await gateway.stop()
    dropped = results[("push", "dropped")]
    assert dropped == accepted.count(False)
    assert results[("push", "delivered")] == len(fake.received) == 5 - dropped


async def test_stop_counts_what_it_could_not_deliver_as_dropped(fake: FakeGateway) -> None:
    fake.script, fake.hang_s = ["hang"] * 3, 1.0
    results: Counter[tuple[str, str]] = Counter()
    gateway = await client(fake, results, workers=1, timeout_s=10.0, retries=0)
    for n in range(3):
        assert gateway.submit(note(n))
    await gateway.stop(timeout_s=0.2)
    assert results[("push", "dropped")] == 2  # the one in flight was cancelled with the worker
