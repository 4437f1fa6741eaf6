"""The timer and the back-in-stock fan-out beside the agents: due records only when the injected
clock reaches a held message (no scan of every customer), each customer once, a failed write
tried again; a stock change routed to every customer of this worker who wished it, only when it
puts the size back in stock and only for live changes."""

from __future__ import annotations

from typing import Any

import orjson
from prometheus_client import CollectorRegistry

from service.adapters.clock import ManualClock
from service.core.reference import ReferenceData, apply_reference_event
from service.stream.notify_tasks import CONTROL_HEADER, DueTimer, NotificationWriter, RestockFanout, restocked_sizes
from service.stream.trigger_index import TriggerIndex
from service.telemetry.notify_metrics import build_notify_metrics
from tests.factories import ref_event

T = 1_796_400_000_000


class FakeProducer:
    def __init__(self, fail: int = 0) -> None:
        self.sent: list[tuple[str, bytes, dict[str, Any], tuple[str, bytes]]] = []
        self.fail = fail  # the first `fail` records are not acknowledged

    async def send_each(self, records: list[tuple[str, bytes, bytes]],
                        header: tuple[str, bytes] = ("kairos-ingest", b"1")) -> list[Exception | None]:
        out: list[Exception | None] = []
        for topic, key, value in records:
            if self.fail:
                self.fail -= 1
                out.append(TimeoutError("not acknowledged"))
                continue
            self.sent.append((topic, key, orjson.loads(value), header))
            out.append(None)
        return out


def held(index: TriggerIndex, key: bytes, due: int | None, wished: tuple[str, ...] = ()) -> None:
    index.update(key, {"p": 0, "w": list(wished), "d": due})


async def test_due_records_when_the_clock_reaches_them_each_customer_once() -> None:
    index, clock, producer = TriggerIndex(), ManualClock(T), FakeProducer()
    held(index, b"anna", T + 60_000)
    held(index, b"bert", T + 120_000)
    held(index, b"anna", T + 30_000)  # her due moved earlier: the old heap entry is stale
    timer = DueTimer(index, clock, producer, "customer.events.v1", lambda: True)
    assert await timer.tick() == 0 and producer.sent == []
    clock.advance_ms(60_000)
    assert await timer.tick() == 1
    assert producer.sent == [("customer.events.v1", b"anna",
                              {"type": "kairos.notify.due", "customer_id": "anna", "due_ms": T + 30_000},
                              CONTROL_HEADER)]
    assert await timer.tick() == 0  # not again until her state changes
    clock.advance_ms(10 * 60_000)
    assert await timer.tick() == 1 and producer.sent[-1][1] == b"bert"


async def test_a_due_record_not_written_is_tried_again() -> None:
    index, clock, producer = TriggerIndex(), ManualClock(T), FakeProducer(fail=1)
    held(index, b"anna", T)
    timer = DueTimer(index, clock, producer, "customer.events.v1", lambda: True)
    assert await timer.tick() == 1 and producer.sent == []
    clock.advance_ms(5_000)
    assert await timer.tick() == 1
    assert [key for _t, key, _v, _h in producer.sent] == [b"anna"]


def stock(n: int, store: str, size: str, qty: int, t: int = T) -> dict[str, Any]:
    return ref_event("stock.changed", t + n, f"st-{n}", product_id="coat", store_id=store, size=size, quantity=qty)


def ref_with(*events: dict[str, Any]) -> ReferenceData:
    ref = ReferenceData()
    for e in events:
        apply_reference_event(ref, e)
    return ref


def test_back_in_stock_means_out_everywhere_in_that_size_before() -> None:
    base = [stock(0, "online", "M", 0), stock(1, "S1", "M", 0), stock(2, "S1", "L", 5)]
    ref = ref_with(*base, stock(3, "online", "M", 4))
    assert restocked_sizes(ref, stock(3, "online", "M", 4)) is True
    elsewhere = ref_with(*base, stock(4, "S1", "M", 2), stock(5, "online", "M", 4))
    assert restocked_sizes(elsewhere, stock(5, "online", "M", 4)) is False  # S1 had M already
    first_ever = ref_with(stock(6, "online", "M", 4))
    assert restocked_sizes(first_ever, stock(6, "online", "M", 4)) is False  # never out: not "back"
    sold_out = ref_with(*base, stock(7, "online", "M", 0))
    assert restocked_sizes(sold_out, stock(7, "online", "M", 0)) is False
    late = ref_with(*base, stock(9, "online", "M", 4), stock(8, "online", "M", 3))
    assert restocked_sizes(late, stock(8, "online", "M", 3)) is False  # an older change that lost


async def test_a_restock_reaches_every_customer_of_this_worker_who_wished_it() -> None:
    index, producer = TriggerIndex(), FakeProducer()
    for key in (b"anna", b"bert"):
        held(index, key, None, ("coat",))
    held(index, b"cleo", None, ("scarf",))
    ref = ref_with(stock(0, "online", "M", 0))
    live = [False]
    fanout = RestockFanout(index, ref, producer, "customer.events.v1", lambda: live[0], lambda: True)
    change = stock(1, "online", "M", 4)
    apply_reference_event(ref, change)
    fanout.on_reference_event(change)  # history replayed at start: not routed
    assert fanout._queue.qsize() == 0
    live[0] = True
    fanout.on_reference_event(change)
    assert await fanout.route(fanout._queue.get_nowait()) == 2
    assert [(key, v["type"], v["product_id"], v["size"], v["event_id"]) for _t, key, v, _h in producer.sent] == [
        (b"anna", "kairos.notify.restock", "coat", "M", "st-1"), (b"bert", "kairos.notify.restock", "coat", "M",
                                                                  "st-1")]


async def test_the_writer_counts_what_the_topic_did_not_take() -> None:
    registry = CollectorRegistry()
    metrics = build_notify_metrics(registry)
    seen: list[str] = []
    writer = NotificationWriter(FakeProducer(fail=1), "kairos.notifications.v1", metrics, None,
                                lambda n: seen.append(n["notification_id"]))
    await writer.write([{"notification_id": "n-1", "customer_id": "anna"},
                        {"notification_id": "n-2", "customer_id": "anna"}])
    assert seen == ["n-2"]
    assert registry.get_sample_value("kairos_notification_write_failures_total") == 1.0
