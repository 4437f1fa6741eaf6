"""How Kairos uses Kafka: topic layout, key bytes, third-party records, dead letters, listeners.

Each test guards a measured broker or faust defect (../shared/notes/BROKER.md)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import orjson

from tests.integration.conftest import kairos_env
from tests.integration.harness import BrokerProcess, Kairos, assert_schema, eventually, metric_value, socket_inodes
from tests.integration.kafka_tools import partition_counts, produce, read_all


def viewed(customer: str, product: str, event_id: str) -> dict[str, object]:
    return {"event_id": event_id, "type": "product.viewed", "occurred_at": "2026-12-03T12:00:00+01:00",
            "source": "shop-backend", "customer_id": customer, "product_id": product}


def listening_sockets(pid: int) -> set[tuple[str, int]]:
    """(address, port) of every TCP socket in LISTEN state owned by `pid`."""
    inodes = socket_inodes(pid)
    found = set()
    for table, width in (("tcp", 8), ("tcp6", 32)):
        for line in Path(f"/proc/net/{table}").read_text().splitlines()[1:]:
            cols = line.split()
            if cols[3] == "0A" and cols[9] in inodes:  # 0A = LISTEN
                addr_hex, port_hex = cols[1].split(":")
                if width == 8:
                    addr = ".".join(str(int(addr_hex[i:i + 2], 16)) for i in (6, 4, 2, 0))
                else:
                    addr = "::" if set(addr_hex) == {"0"} else addr_hex
                found.add((addr, int(port_hex, 16)))
    return found


def test_topics_keys_third_party_records_and_listeners(broker: BrokerProcess, namespace: str, tmp_path: Path) -> None:
    env = kairos_env(broker, namespace, KAIROS_PARTITIONS="6", KAIROS_DEMO_CATALOG="false")
    worker = Kairos(data_dir=tmp_path / "data", env=env).start()
    try:
        # Tansu auto-creates unknown topics with 4 partitions (BROKER.md #5): every Kairos topic
        # must exist with the configured count before any client touched it.
        names = [f"{namespace}.{base}" for base in (
            "customer.events.v1", "kairos.customer-state-changelog.v1", "reference.products.v1",
            "reference.stores.v1", "reference.stock.v1", "reference.weather.v1", "kairos.decisions.v1",
            "kairos.notifications.v1")]
        assert partition_counts(broker.bootstrap, names) == dict.fromkeys(names, 6)

        # A third-party producer: one event per message, keyed by customer id; the same event
        # delivered twice (no idempotent producer on Tansu, BROKER.md #2) and a malformed record.
        customer = f"tp-{uuid.uuid4().hex[:6]}"
        event = viewed(customer, "p-1", f"{customer}-1")
        topic = f"{namespace}.customer.events.v1"
        produce(broker.bootstrap, topic, [
            (customer.encode(), orjson.dumps(event)),
            (customer.encode(), orjson.dumps(event)),
            (customer.encode(), b"{not json"),
            (customer.encode(), orjson.dumps(viewed(customer, "p-2", f"{customer}-2") | {"occurred_at": "yesterday"})),
            (customer.encode(), orjson.dumps(viewed(customer, "p-3", f"{customer}-3"))),
        ])
        state = eventually(lambda: (s := worker.state(customer)) and s["events_applied"] == 2 and s, timeout_s=10)
        assert [row[0] for row in state["views"]] == ["p-3", "p-1"]
        text = worker.metrics()
        assert metric_value(text, "kairos_state_apply_total", type="product.viewed", outcome="duplicate",
                            origin="kafka") == 1
        assert metric_value(text, "kairos_state_apply_total", outcome="rejected", origin="kafka") >= 1

        # Nothing disappears silently: both bad records are on the dead-letter topic with a reason.
        dead = eventually(lambda: [json.loads(r.value) for r in read_all(broker.bootstrap,
                                   f"{namespace}.kairos.dead-letters.v1")] or None)
        reasons = sorted(d["reason"] for d in dead)
        assert reasons == ["/occurred_at: occurred_at must be an RFC 3339 timestamp with an offset (Z or ±hh:mm), "
                           "e.g. 2025-03-14T17:42:05Z", "record is not JSON"]

        # table_route hashes the table's serialized key: changelog keys must be the same bytes as
        # the source topic's keys, or lookups go to the wrong worker (BROKER.md, table_route).
        changelog = read_all(broker.bootstrap, f"{namespace}.kairos.customer-state-changelog.v1")
        assert {r.key for r in changelog} == {customer.encode()}

        # A malformed record on a reference topic (anyone can write there) is rejected; the feed
        # keeps applying later updates and decisions are not degraded.
        produce(broker.bootstrap, f"{namespace}.reference.stock.v1",
                [(b"p-1", b'{"type":"stock.changed","event_id":"bad"}')])
        stock = {"event_id": uuid.uuid4().hex, "type": "stock.changed", "occurred_at": "2026-12-03T12:00:00Z",
                 "source": "erp", "store_id": "online", "product_id": "p-1", "quantity": 4}
        assert worker.post_events([stock]).json()["accepted"] == 1
        eventually(lambda: metric_value(worker.metrics(), "kairos_events_total", type="stock.changed",
                                        result="applied", source="reference") == 1)
        assert metric_value(worker.metrics(), "kairos_events_total", type="stock.changed", result="rejected",
                            source="reference") == 1
        assert worker.decide(customer)["degraded"] is False

        # Every decision is written to the decisions topic as an audit record matching its schema.
        decision = worker.decide(customer, placement="app.home")
        def audit_records() -> list[dict[str, object]]:
            records = read_all(broker.bootstrap, f"{namespace}.kairos.decisions.v1")
            return [json.loads(r.value) for r in records if r.key == customer.encode()]

        audit = eventually(lambda: (found := audit_records()) and any(
            a["decision"]["decision_id"] == decision["decision_id"] for a in found) and found)
        mine = [a for a in audit if a["decision"]["decision_id"] == decision["decision_id"]]
        assert len(mine) == 1
        assert mine[0]["decision"] == decision
        assert mine[0]["request"]["customer_id"] == customer
        for record in audit:
            assert_schema("decision_record.schema.json", record)

        # faust binds its web server to 0.0.0.0 by default: Kairos has exactly one listener.
        assert worker.proc is not None
        assert listening_sockets(worker.proc.pid) == {("127.0.0.1", worker.port)}
    finally:
        assert worker.stop() == 0
