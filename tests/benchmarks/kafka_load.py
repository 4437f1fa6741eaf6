"""Kafka side of the benchmark, run as its own process: produce the event mix, or read a topic with
a raw aiokafka consumer (the limit a stream processor is measured against).

    python -m tests.benchmarks.kafka_load produce --bootstrap B --topic T --layout single --customers N
    python -m tests.benchmarks.kafka_load consume --bootstrap B --topic T --records N [--decode]

`produce --layout array`: one record per customer holding all of her seed events (a JSON array,
the layout Kairos's own ingest writes). `--layout single`: one event per record, as third-party
producers send them; customers are interleaved so consecutive records belong to different
customers. Keys are the customer id (UTF-8), as Kairos's contract requires.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Iterator

import orjson
import uvloop
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import TopicPartition

from tests.benchmarks import mix

INTERLEAVE = 64  # customers whose events are interleaved in the single layout


def records(layout: str, first: int, customers: int, now_ms: int, prefix: str) -> Iterator[tuple[bytes, bytes, int]]:
    """(key, value, events in the value) in send order."""
    if layout == "array":
        for n in range(first, first + customers):
            events = mix.customer_events(n, now_ms, prefix)
            yield mix.customer_id(n, prefix).encode(), orjson.dumps(events), len(events)
        return
    for block in range(first, first + customers, INTERLEAVE):
        members = range(block, min(block + INTERLEAVE, first + customers))
        streams = [[(mix.customer_id(n, prefix).encode(), orjson.dumps(e)) for e in mix.customer_events(n, now_ms,
                                                                                                          prefix)]
                   for n in members]
        for step in range(max(len(s) for s in streams)):
            for s in streams:
                if step < len(s):
                    yield s[step][0], s[step][1], 1


async def produce(args: argparse.Namespace) -> dict[str, object]:
    producer = AIOKafkaProducer(bootstrap_servers=args.bootstrap, acks="all", linger_ms=20,
                                max_batch_size=1_048_576, enable_idempotence=False, max_request_size=4_194_304)
    await producer.start()
    started = time.perf_counter()
    sent = events = 0
    value_bytes = 0
    pending = []
    try:
        for key, value, n in records(args.layout, args.first, args.customers, mix.wall_ms(), args.prefix):
            pending.append(await producer.send(args.topic, value=value, key=key))
            sent += 1
            events += n
            value_bytes += len(value)
            if len(pending) >= 5000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    elapsed = time.perf_counter() - started
    return {"records": sent, "events": events, "value_bytes": value_bytes, "seconds": round(elapsed, 2)}


async def consume(args: argparse.Namespace) -> dict[str, object]:
    consumer = AIOKafkaConsumer(bootstrap_servers=args.bootstrap, group_id=None, enable_auto_commit=False,
                                auto_offset_reset="earliest", max_partition_fetch_bytes=4_194_304,
                                fetch_max_bytes=52_428_800)
    await consumer.start()
    try:
        parts = consumer.partitions_for_topic(args.topic) or set()
        tps = [TopicPartition(args.topic, p) for p in sorted(parts)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        count = events = 0
        started = last = time.perf_counter()
        deadline = started + args.timeout
        # Until `--records` are read, or nothing more came for 2 s (the topic is exhausted).
        while count < args.records and time.perf_counter() < deadline:
            batches = await consumer.getmany(timeout_ms=200, max_records=10_000)
            for batch in batches.values():
                count += len(batch)
                if args.decode:
                    for record in batch:
                        value = orjson.loads(record.value)
                        events += len(value) if isinstance(value, list) else 1
            if batches:
                last = time.perf_counter()
            elif count and time.perf_counter() - last > 2.0:
                break
        elapsed = last - started
    finally:
        await consumer.stop()
    out: dict[str, object] = {"records": count, "seconds": round(elapsed, 3),
                              "records_per_s": round(count / elapsed, 1), "decode": args.decode}
    if args.decode:
        out |= {"events": events, "events_per_s": round(events / elapsed, 1)}
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("produce")
    p.add_argument("--bootstrap", required=True)
    p.add_argument("--topic", required=True)
    p.add_argument("--layout", choices=["single", "array"], required=True)
    p.add_argument("--customers", type=int, required=True)
    p.add_argument("--first", type=int, default=0)
    p.add_argument("--prefix", default="c")
    c = sub.add_parser("consume")
    c.add_argument("--bootstrap", required=True)
    c.add_argument("--topic", required=True)
    c.add_argument("--records", type=int, required=True)
    c.add_argument("--decode", action="store_true", help="also orjson.loads every value and count events")
    c.add_argument("--timeout", type=float, default=300.0)
    args = parser.parse_args(argv)
    loop = uvloop.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        result = loop.run_until_complete(produce(args) if args.command == "produce" else consume(args))
    finally:
        loop.close()
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
