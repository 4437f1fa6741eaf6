"""Small synchronous helpers that talk to the test broker directly with aiokafka."""

from __future__ import annotations

import asyncio
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import TopicPartition


def produce(bootstrap: str, topic: str, records: list[tuple[bytes | None, bytes]]) -> None:
    async def run() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
        await producer.start()
        try:
            for key, value in records:
                await producer.send_and_wait(topic, value=value, key=key)
        finally:
            await producer.stop()

    asyncio.run(run())


def partition_counts(bootstrap: str, topics: list[str]) -> dict[str, int]:
    async def run() -> dict[str, int]:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            return {d["topic"]: len(d["partitions"]) for d in await admin.describe_topics(topics)}
        finally:
            await admin.close()

    return asyncio.run(run())


def read_all(bootstrap: str, topic: str, timeout_s: float = 3.0) -> list[Any]:
    """Every record currently in `topic` (all partitions), read without a consumer group."""
    async def run() -> list[Any]:
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
        await consumer.start()
        try:
            tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
            out: list[Any] = []
            loop = asyncio.get_running_loop()
            deadline = loop.time() + timeout_s
            while loop.time() < deadline:
                batch = await consumer.getmany(timeout_ms=300)
                if not batch and out:
                    break
                for records in batch.values():
                    out.extend(records)
            return out
        finally:
            await consumer.stop()

    return asyncio.run(run())


def produce_many(bootstrap: str, topic: str, records: list[tuple[bytes, bytes]]) -> None:
    """Sends all records in batches (not one round trip each), so they arrive faster than consumed."""
    async def run() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
        await producer.start()
        try:
            futures = [await producer.send(topic, value=v, key=k) for k, v in records]
            await asyncio.gather(*futures)
        finally:
            await producer.stop()

    asyncio.run(run())


def topic_configs(bootstrap: str, topics: list[str]) -> dict[str, dict[str, str]]:
    """The configs the broker holds for each topic (DescribeConfigs)."""
    from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

    async def run() -> dict[str, dict[str, str]]:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            responses = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, t) for t in topics])
            return {res[3]: {entry[0]: entry[1] for entry in res[4]} for r in responses for res in r.resources}
        finally:
            await admin.close()

    return asyncio.run(run())
