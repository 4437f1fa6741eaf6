"""API layer: the one path events take into Kafka — validate, de-duplicate, group, send, count.

Used by POST /v1/events and by every provider webhook, so a provider event is checked against the
same schemas, lands in the same records and is counted the same way as one posted directly.
"""

from __future__ import annotations

from typing import Any

from service.api.deps import ApiDeps
from service.api.errors import Unavailable
from service.api.ingest import plan_batch
from service.api.wire import FieldError
from service.core.events import CUSTOMER_EVENT_TYPES, REFERENCE_EVENT_TYPES
from service.core.timeutil import format_rfc3339_ms


async def ingest_entries(deps: ApiDeps, entries: list[tuple[object | None, FieldError | None]],
                         source: str, reference_refused_to: str | None = None) -> list[dict[str, Any]]:
    """Per-entry results (index = position in `entries`): accepted, duplicate or rejected.

    Returns once the broker has acknowledged every accepted event; raises Unavailable (503, nothing
    counted as accepted) when it did not. `source` labels kairos_events_total (http, webhook).
    `reference_refused_to` names an API key without the reference scope: its reference events
    (catalog, stores, stock, weather) are rejected one by one, the rest of the batch goes on."""
    now_ms = deps.clock.now_ms()
    skew_ms = int(deps.settings.max_future_skew_s * 1000)

    def validate(item: object) -> list[FieldError]:
        errors = deps.event_validator.validate(item, now_ms, skew_ms)
        etype = item.get("type") if isinstance(item, dict) else None
        if reference_refused_to is not None and etype in REFERENCE_EVENT_TYPES:
            errors = [FieldError("/type", f"the API key {reference_refused_to!r} may not send reference data "
                                 f"({etype}): that needs the 'reference' scope"), *errors]
        return errors

    batch = plan_batch(entries, validate, deps.topics.route, deps.recent_ids.__contains__, format_rfc3339_ms(now_ms))
    outcomes = await deps.producer.send_each([(t, k, v) for t, k, v, _ in batch.records])
    failed = [(rec, exc) for rec, exc in zip(batch.records, outcomes, strict=True) if exc is not None]
    stored = {i for rec, exc in zip(batch.records, outcomes, strict=True) if exc is None for i in rec[3]}
    for i in stored:
        deps.recent_ids.add(batch.dedup_keys[i])
    if failed:
        kinds = sorted({type(exc).__name__ for _, exc in failed})
        lost = sum(len(rec[3]) for rec, _ in failed)
        raise Unavailable(
            f"{lost} of {lost + len(stored)} valid events were not stored: the broker did not acknowledge them "
            f"({', '.join(kinds)}). Send the same request again later; events already stored are recognised "
            "as duplicates.", details={"retry_after_s": 5}, headers={"Retry-After": "5"})
    for res in batch.results:
        deps.metrics.events.labels(event_type(entries[res["index"]][0]), res["status"], source).inc()
    return batch.results


def event_type(item: object) -> str:
    """The event's type for a metric label: a known v1 type, else "unknown" (bounded)."""
    etype = item.get("type") if isinstance(item, dict) else None
    known = isinstance(etype, str) and (etype in CUSTOMER_EVENT_TYPES or etype in REFERENCE_EVENT_TYPES)
    return str(etype) if known else "unknown"
