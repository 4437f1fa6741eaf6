"""Tools (pure): when `kairos replay` sends each event, and with which event time.

The rule (docs/INPUT.md, "Time"): no event is ever stamped later than the moment it is sent.

- Reference data (stores, products, stock, weather) keeps its own times and goes first.
- `--rebase-time --speed X`: each file's customer events happen at `start + (t - first) / X`, where
  `first` is the file's earliest event and `start` the moment sending begins, and each is sent at
  that moment: the event time is the send time, the recording's spacing scaled by the speed.
- `--rebase-time` alone (as fast as possible): each file is shifted so that its *last* customer
  event happens at `start`; the recording's spacing is kept and everything lies in the past.
- `--speed X` alone: times as recorded; sent `(t - first) / X` after the start, `first` being the
  earliest customer event of all files (reference dates do not stretch the pace).
- neither: times as recorded, sent as fast as possible.

Each file is rebased on its own: recordings made in different years all end (or start) now.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from service.core.timeutil import format_rfc3339_ms, parse_rfc3339_ms

REFERENCE_TYPES = ("store.upserted", "product.upserted", "stock.changed", "weather.observed")


@dataclass(frozen=True, slots=True)
class Planned:
    """One event to send `due_ms` after the start of sending (0: at once), with its final time."""

    due_ms: int
    event: dict[str, Any]


def event_ms(event: dict[str, Any]) -> int:
    try:
        return parse_rfc3339_ms(str(event.get("occurred_at")))
    except ValueError:
        return 0  # ingest rejects it with a reason; its place in the order does not matter


def is_reference(event: dict[str, Any]) -> bool:
    return event.get("type") in REFERENCE_TYPES


def plan(files: Iterable[list[dict[str, Any]]], start_ms: int, speed: float | None, rebase: bool) -> list[Planned]:
    """The send plan for each file's events (one list per file): reference data first, then by due time
    and event time. `start_ms` is the moment sending begins (epoch ms)."""
    if speed is not None and not speed > 0:
        raise ValueError(f"--speed must be a positive number, not {speed:g}")
    reference: list[Planned] = []
    customer: list[tuple[list[dict[str, Any]], list[int]]] = []
    for events in files:
        reference.extend(Planned(0, e) for e in events if is_reference(e))
        own = [e for e in events if not is_reference(e)]
        if own:
            customer.append((own, [event_ms(e) for e in own]))
    planned: list[Planned] = []
    overall_first = min((min(times) for _own, times in customer), default=0)
    for own, times in customer:
        first, last = min(times), max(times)
        for event, at in zip(own, times, strict=True):
            if rebase and speed is not None:
                offset = int((at - first) / speed)
                planned.append(Planned(offset, _stamped(event, start_ms + offset)))
            elif rebase:
                planned.append(Planned(0, _stamped(event, start_ms - (last - at))))
            elif speed is not None:
                planned.append(Planned(int((at - overall_first) / speed), event))
            else:
                planned.append(Planned(0, event))
    reference.sort(key=lambda p: event_ms(p.event))
    planned.sort(key=lambda p: (p.due_ms, event_ms(p.event)))
    return reference + planned


def _stamped(event: dict[str, Any], at_ms: int) -> dict[str, Any]:
    return {**event, "occurred_at": format_rfc3339_ms(at_ms)}


def batches(plan_: list[Planned], size: int) -> Iterable[tuple[int, list[dict[str, Any]]]]:
    """(due_ms, up to `size` events), one batch per distinct due time."""
    batch: list[dict[str, Any]] = []
    due = 0
    for item in plan_:
        if batch and (len(batch) >= size or item.due_ms != due):
            yield due, batch
            batch = []
        if not batch:
            due = item.due_ms
        batch.append(item.event)
    if batch:
        yield due, batch
