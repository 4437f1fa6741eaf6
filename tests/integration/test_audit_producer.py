"""Integration: decision audit records handed to the producer in the background all reach the
topic while the event loop is busy answering requests (the benchmark's peak run dropped 14,217
of 30,280 when batches held two records each)."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest

from service.adapters.kafka_admin import ensure_topics
from service.adapters.producer import EventProducer
from tests.integration.harness import BrokerProcess
from tests.integration.kafka_tools import read_all

pytestmark = pytest.mark.integration

RECORDS = 1_200
RECORD_BYTES = 7_000  # a home-screen decision's audit record
BUSY_S = 0.02  # the loop is held this long between turns, as by ~30 requests in a row


def test_audit_records_survive_a_busy_loop(broker: BrokerProcess) -> None:
    topic = f"t{uuid.uuid4().hex[:10]}.kairos.decisions.v1"
    not_written: list[int] = []

    async def run() -> None:
        await ensure_topics([broker.bootstrap], [(topic, 8)], 1)
        producer = EventProducer([broker.bootstrap], request_timeout_s=1.0)
        await producer.start()
        try:
            for i in range(RECORDS):
                value = f'{{"n":{i},"pad":"{"x" * RECORD_BYTES}"}}'.encode()
                producer.send_background(topic, f"c-{i % 500}".encode(), value, on_error=lambda: not_written.append(1))
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 4.0  # past the 1 s produce timeout of every record
            while loop.time() < deadline:
                time.sleep(BUSY_S)  # a busy handler: the sender gets the loop once per turn
                await asyncio.sleep(0)
        finally:
            await producer.stop()

    asyncio.run(run())
    assert not_written == []
    assert len(read_all(broker.bootstrap, topic, timeout_s=10)) == RECORDS
