"""Detects a durable state store that is ahead of its cluster, before faust opens it.

A memory-only broker (Tansu) that restarted has lost every changelog; a RocksDB store left from
before would then serve stale state. faust's own check misses it whenever the persisted offset is
0 (a single changelog record), so Kairos keeps its own proof: the first worker of a group writes a
random epoch to a one-partition topic, and each state directory remembers the epoch it was built
against. A directory whose epoch the cluster does not know belongs to a cluster that is gone.
"""

from __future__ import annotations

import uuid
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import TopicPartition

from service.adapters.faust_transport import fetch_highwaters
from service.adapters.kafka_security import PLAINTEXT, KafkaSecurity

MARKER = "cluster-epoch"


class StateAheadOfCluster(RuntimeError):
    """The local state store was built against a cluster that no longer has its changelog."""


async def _first_epoch(bootstrap: list[str], topic: str, group_id: str, security: KafkaSecurity) -> str | None:
    tp = TopicPartition(topic, 0)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                                **security.client_kwargs())
    await consumer.start()
    try:
        consumer.assign([tp])
        await consumer.seek_to_beginning(tp)
        end = (await fetch_highwaters(bootstrap, [tp], await consumer.end_offsets([tp]),
                                      client_kwargs=security.client_kwargs()))[tp]
        while await consumer.position(tp) < end:
            for record in (await consumer.getmany(tp, timeout_ms=500)).get(tp, []):
                if record.key == group_id.encode() and record.value:
                    return str(record.value.decode())
        return None
    finally:
        await consumer.stop()


async def check_state_epoch(bootstrap: list[str], topic: str, group_id: str, state_dir: Path,
                            security: KafkaSecurity = PLAINTEXT) -> str:
    """Returns the epoch this state directory belongs to; raises StateAheadOfCluster if the
    cluster does not know it. An empty directory adopts the cluster's epoch (or founds one)."""
    marker = state_dir / MARKER
    local = marker.read_text().strip() if marker.exists() else None
    has_state = any(p.name != MARKER for p in state_dir.iterdir()) if state_dir.exists() else False
    cluster = await _first_epoch(bootstrap, topic, group_id, security)
    if local is not None or has_state:
        if local is None or local != cluster:
            raise StateAheadOfCluster(
                f"the local state in {state_dir} was built against a cluster that no longer has its "
                "changelog (a memory-only broker that restarted, or another cluster). If the cluster is "
                f"the truth, move {state_dir} aside and start again: the state is rebuilt from the changelog."
            )
        return local
    if cluster is None:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", **security.client_kwargs())
        await producer.start()
        try:
            await producer.send_and_wait(topic, value=uuid.uuid4().hex.encode(), key=group_id.encode(), partition=0)
        finally:
            await producer.stop()
        # Workers of one group starting together each wrote a candidate: the first one wins.
        cluster = await _first_epoch(bootstrap, topic, group_id, security)
        assert cluster is not None
    state_dir.mkdir(parents=True, exist_ok=True)
    marker.write_text(cluster + "\n")
    return cluster
