"""Providers layer: the result of normalising one provider event, and helpers shared by the normalisers."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Literal

from service.core.timeutil import format_rfc3339_ms, parse_rfc3339_ms

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


def timestamp(value: object) -> str | None:
    """An RFC 3339 string Kairos accepts (milliseconds, Z) for a provider timestamp, or None."""
    if not isinstance(value, str):
        return None
    try:
        return format_rfc3339_ms(parse_rfc3339_ms(value))
    except ValueError:
        return None


def lon_lat(value: object) -> dict[str, float] | None:
    """A GeoJSON position ([lon, lat] or [lon, lat, alt]) or Point as a Kairos location {lat, lon}."""
    if isinstance(value, dict):
        value = value.get("coordinates")
    if not isinstance(value, list) or len(value) < 2:
        return None
    lon, lat = value[0], value[1]
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (lon, lat)):
        return None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    return {"lat": float(lat), "lon": float(lon)}


def text(value: object, limit: int = _ID_MAX) -> str | None:
    """A non-empty string of at most `limit` characters (numbers are accepted as ids), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        value = str(value)
    if isinstance(value, str) and 0 < len(value) <= limit:
        return value
    return None
