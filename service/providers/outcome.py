"""Providers layer: the result of normalising one provider event, and its deterministic event id.

Reading fields of a provider event (ranges, times, ids, pointers into the body) is in fields.py."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Literal

OutcomeStatus = Literal["event", "ignored", "unmapped", "rejected"]
_ID_MAX = 128


@dataclass(frozen=True, slots=True)
class Outcome:
    """One provider event's fate. `event` is the Kairos event for status "event"; `reason` says why
    otherwise (ignored: a type Kairos does not use; unmapped: no customer for the provider's user or
    device; rejected: the provider event lacks what Kairos needs). `warnings` go with an event that
    is kept but incomplete (e.g. a geofence no store is mapped to)."""

    index: int
    status: OutcomeStatus
    provider_event_id: str | None = None
    event: dict[str, Any] | None = None
    reason: str | None = None
    pointer: str = ""
    warnings: tuple[str, ...] = ()


def event_id(prefix: str, *parts: str) -> str:
    """A deterministic event id (so a redelivery is a duplicate); hashed when it would be too long."""
    text = "-".join((prefix, *parts))
    if len(text) <= _ID_MAX:
        return text
    return f"{prefix}-{hashlib.blake2b(text.encode(), digest_size=16).hexdigest()}"
