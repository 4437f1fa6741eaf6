"""Stream health read at scrape time: consumer lag per partition and the table's size.

Both are read from what faust already holds in memory (no broker request, no table scan) because
/metrics is answered on the event loop that answers decisions: faust's own `len(table)` walks
every RocksDB key, which at a few million customers stalled decisions for seconds per scrape.
"""

from __future__ import annotations

from typing import Any

ROCKSDB_ESTIMATE = "rocksdb.estimate-num-keys"


def consumer_lag(app: Any, topic: str) -> dict[int, int]:
    """Records of `topic` on the broker that this worker has not processed yet, per partition it
    owns: the high watermark from the last fetch minus the committed position.

    Partitions without a fetch yet are left out (nothing is known). Before the group's first
    commit the position counts from 0 (the stream reads from the earliest offset)."""
    consumer = getattr(app, "_consumer", None)  # not `app.consumer`: that would create one
    if consumer is None:
        return {}
    lag: dict[int, int] = {}
    for tp in app.assignor.assigned_actives():
        if tp.topic != topic:
            continue
        try:
            highwater = consumer.highwater(tp)
        except Exception:  # not started, or the partition was just revoked: nothing to report
            continue
        if highwater is None:
            continue
        committed = consumer._committed_offset.get(tp)
        lag[tp.partition] = max(int(highwater) - int(committed or 0), 0)
    return lag


def customers_in_state(table: Any) -> int:
    """Customer records in this worker's active partitions: RocksDB's own key estimate (constant
    time; it may lag compaction by a few percent) or, for the memory store, the exact count."""
    store = table.data
    if getattr(store, "use_rocksdict", False) and hasattr(store, "_dbs_for_actives"):
        total = 0
        for db in store._dbs_for_actives():
            keys = int(db.property_int_value(ROCKSDB_ESTIMATE) or 0)
            # faust keeps its changelog offset in the same database, under one key of its own.
            total += max(keys - (db.get(store.offset_key) is not None), 0)
        return total
    return len(table)
