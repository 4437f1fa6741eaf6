"""API layer: turn one parsed ingest body into per-event results and the Kafka records to send.

Kept apart from the handler so the rules (validation, per-customer limits, de-duplication,
record layout) are plain functions over plain data.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from service.api.errors import clip
from service.api.wire import FieldError
from service.core.ids import is_valid_id

# At most this many events for one customer in one request. Equal to or below the state's
# event-id ring (512), so a retried request is always recognised as duplicates in full.
MAX_EVENTS_PER_KEY = 500
# A Kafka record carries at most this many bytes of events (brokers refuse records over ~1 MB).
MAX_RECORD_BYTES = 256 * 1024
MAX_ERRORS_PER_EVENT = 20
MAX_POINTER = 256
MAX_REASON = 256


@dataclass
class Batch:
    """Per-event results (in request order) and the records that carry the accepted events."""

    results: list[dict[str, Any]] = field(default_factory=list)
    # (topic, key, value, indices of `results` carried by this record)
    records: list[tuple[str, bytes, bytes, list[int]]] = field(default_factory=list)
    dedup_keys: dict[int, str] = field(default_factory=dict)


def plan_batch(entries: list[tuple[object | None, FieldError | None]], validate: Callable[[object], list[FieldError]],
               route: Callable[[dict[str, Any]], tuple[str, bytes]], seen: Callable[[str], bool],
               received_at: str) -> Batch:
    batch = Batch()
    grouped: dict[tuple[str, bytes], list[tuple[int, dict[str, Any]]]] = {}
    in_batch: set[str] = set()
    for index, (item, parse_error) in enumerate(entries):
        errors = [parse_error] if parse_error else validate(item)
        if errors:
            batch.results.append({"index": index, "status": "rejected", **_event_id(item),
                                  "errors": error_details(errors)})
            continue
        assert isinstance(item, dict)
        event = {**item, "received_at": received_at}
        topic, key = route(event)
        # An event id is unique per customer (or reference key), not globally.
        dedup_key = f"{topic}\x00{key.decode()}\x00{event['event_id']}"
        if dedup_key in in_batch or seen(dedup_key):
            batch.results.append({"index": index, "status": "duplicate", "event_id": event["event_id"]})
            continue
        group = grouped.setdefault((topic, key), [])
        if len(group) >= MAX_EVENTS_PER_KEY:
            batch.results.append({"index": index, "status": "rejected", "event_id": event["event_id"], "errors": [{
                "pointer": "", "reason": f"more than {MAX_EVENTS_PER_KEY} events for one customer (or reference "
                "key) in one request; send the rest in another request"}]})
            continue
        in_batch.add(dedup_key)
        batch.dedup_keys[len(batch.results)] = dedup_key
        group.append((len(batch.results), event))
        batch.results.append({"index": index, "status": "accepted", "event_id": event["event_id"]})
    for (topic, key), group in grouped.items():
        batch.records.extend((topic, key, value, idx) for value, idx in _chunks(group))
    return batch


def _chunks(group: list[tuple[int, dict[str, Any]]]) -> list[tuple[bytes, list[int]]]:
    """One customer's events as JSON-array records of at most MAX_RECORD_BYTES each."""
    out: list[tuple[bytes, list[int]]] = []
    parts: list[bytes] = []
    indices: list[int] = []
    size = 2
    for result_index, event in group:
        encoded = orjson.dumps(event)
        if parts and size + len(encoded) + 1 > MAX_RECORD_BYTES:
            out.append((b"[" + b",".join(parts) + b"]", indices))
            parts, indices, size = [], [], 2
        parts.append(encoded)
        indices.append(result_index)
        size += len(encoded) + 1
    if parts:
        out.append((b"[" + b",".join(parts) + b"]", indices))
    return out


def _event_id(item: object) -> dict[str, str]:
    """The event's id for the result, only when it is one the schema allows (never echo junk)."""
    event_id = item.get("event_id") if isinstance(item, dict) else None
    if isinstance(event_id, str) and is_valid_id(event_id):
        return {"event_id": event_id}
    return {}


def error_details(errors: list[FieldError]) -> list[dict[str, str]]:
    """Errors for a response: at most MAX_ERRORS_PER_EVENT, pointer and reason clipped."""
    shown = [{"pointer": clip(e.pointer, MAX_POINTER), "reason": clip(e.reason, MAX_REASON)}
             for e in errors[:MAX_ERRORS_PER_EVENT]]
    if len(errors) > MAX_ERRORS_PER_EVENT:
        shown[-1] = {"pointer": "", "reason": f"and {len(errors) - MAX_ERRORS_PER_EVENT + 1} more problems"}
    return shown

