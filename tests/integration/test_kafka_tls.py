"""Every Kafka client Kairos opens speaks TLS with KAIROS_KAFKA_SECURITY_PROTOCOL=SSL and a CA file.

Tansu speaks PLAINTEXT only, so a TLS-terminating proxy on 127.0.0.1 stands in front of it
(certificates made here by trustme) and the broker advertises the proxy's port: a client that
followed the cluster's metadata to a plaintext port would have to find it by itself. Kairos runs
with a RocksDB store, so the state-epoch check and the Fetch high-water probes run too; it gets
ready, ingests, applies, decides and reads reference data, every client through the proxy.
"""

from __future__ import annotations

import asyncio
import ssl
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme
from aiokafka.admin import AIOKafkaAdminClient

from service.adapters.embedded_broker import broker_binary
from tests.integration.harness import Kairos, eventually, free_port, metric_value, socket_inodes, wait_port
from tests.integration.tls_proxy import TlsProxy


@pytest.fixture
def tls_broker(tmp_path: Path) -> Iterator[tuple[TlsProxy, int, Path]]:
    """(proxy, plaintext broker port, CA file): Tansu on a loopback port advertising the proxy."""
    plain, tls = free_port(), free_port()
    ca = trustme.CA()
    ca_file = tmp_path / "kafka-ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("127.0.0.1").configure_cert(server_context)
    broker = subprocess.Popen(
        [broker_binary(), "broker", "--listener-url", f"tcp://127.0.0.1:{plain}",
         "--advertised-listener-url", f"tcp://127.0.0.1:{tls}", "--storage-engine", "memory://tansu/"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    proxy = TlsProxy(tls, plain, server_context).start()
    try:
        wait_port(plain, 20)
        yield proxy, plain, ca_file
    finally:
        proxy.stop()
        broker.terminate()
        try:
            broker.wait(10)
        except subprocess.TimeoutExpired:
            broker.kill()
            broker.wait(5)


def connections_to(pid: int, port: int) -> int:
    """TCP connections of process `pid` whose remote end is 127.0.0.1:`port` (from /proc)."""
    inodes = socket_inodes(pid)
    count = 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        cols = line.split()
        remote_port = int(cols[2].split(":")[1], 16)
        if cols[9] in inodes and remote_port == port:
            count += 1
    return count


def test_every_kafka_client_speaks_tls(tls_broker: tuple[TlsProxy, int, Path], tmp_path: Path) -> None:
    proxy, plain_port, ca_file = tls_broker
    ns = f"tls{uuid.uuid4().hex[:8]}"
    worker = Kairos(data_dir=tmp_path / "data", env={
        "KAIROS_KAFKA_BROKER": f"127.0.0.1:{proxy.listen_port}", "KAIROS_TOPIC_PREFIX": ns, "KAIROS_GROUP_ID": ns,
        "KAIROS_STORE": "rocksdb", "KAIROS_KAFKA_SECURITY_PROTOCOL": "SSL", "KAIROS_KAFKA_SSL_CAFILE": str(ca_file),
        # The demo catalog goes out through the producer and comes back through the reference feed.
        "KAIROS_DEMO_CATALOG": "true"})
    worker.start()
    try:
        customer = f"tls-{uuid.uuid4().hex[:6]}"
        event = {"event_id": uuid.uuid4().hex, "type": "product.viewed", "occurred_at": "2026-12-03T12:00:00Z",
                 "source": "app", "customer_id": customer, "product_id": "a7fc7d65-a3c7-4793-8c60-8631d208f4a4"}
        assert worker.post_events([event]).json()["accepted"] == 1
        state = eventually(lambda: worker.state(customer), timeout_s=15)
        assert state["events_applied"] == 1
        decision = worker.decide(customer)
        assert (decision["cold_start"], decision["degraded"]) == (False, False)
        text = worker.metrics()
        assert metric_value(text, "kairos_events_total", type="product.upserted", result="applied",
                            source="reference") == 48
        assert metric_value(text, "kairos_broker_up") == 1
        # Every client went through TLS: producer, admin, reference feed, faust's consumer and
        # producer, changelog and epoch probes — and none found its way to the plaintext port.
        assert proxy.failed_handshakes == 0
        assert proxy.handshakes >= 5, proxy.handshakes
        assert worker.proc is not None
        assert connections_to(worker.proc.pid, plain_port) == 0
        assert connections_to(worker.proc.pid, proxy.listen_port) >= 3
    finally:
        assert worker.stop() == 0

    # The proxy really refuses plaintext: a client without TLS fails its handshake.
    async def plaintext_client() -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=f"127.0.0.1:{proxy.listen_port}", request_timeout_ms=2000)
        try:
            await admin.start()
            await admin.list_topics()
        finally:
            await admin.close()

    failed_before = proxy.failed_handshakes
    with pytest.raises(Exception):  # noqa: B017  (aiokafka raises different errors for a dead connection)
        asyncio.run(asyncio.wait_for(plaintext_client(), 15))
    # The proxy's TLS alert can reach the client before the proxy thread has counted the failure.
    eventually(lambda: proxy.failed_handshakes > failed_before, timeout_s=5)
