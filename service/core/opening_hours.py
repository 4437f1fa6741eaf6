"""Core layer: is a store open at a given local time? OSM `opening_hours` evaluated by opening-hours-py.

opening-hours-py (Rust `opening-hours` crate) implements the whole OSM grammar: several rules
and ranges per day, month ranges (`Jun-Aug Sa 11:00-15:00`), `closed`/`off`, and public holidays
(`PH off`) from a calendar per country. Kairos adds one repair the specification does not allow
but mappers write: bare hours (`Sa 10-18` → `Sa 10:00-18:00`), tried only after the strict parse
failed (one of the 90 real strings in the Helsinki extract has it).

Pure: no clock is read — the caller passes the time. Parsed expressions are cached.
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import opening_hours as oh

__all__ = ["OpeningHoursError", "is_open", "parse", "store_open_at"]

# "10-18" where a time span is expected: after a weekday/month word, a comma or the start.
# The stubs shipped with opening-hours-py do not declare its ParserError.
_ParserError: type[Exception] = getattr(oh, "ParserError", ValueError)
_BARE_HOURS = re.compile(r"(?<![\d:])(\d{1,2})-(\d{1,2})(?![\d:])")


class OpeningHoursError(ValueError):
    """The string is not an opening_hours expression (even after the documented repair)."""


@lru_cache(maxsize=4096)
def _compile(expression: str, country: str | None, coords: tuple[float, float] | None) -> oh.OpeningHours:
    try:
        return _build(expression, country, coords)
    except _ParserError:
        repaired = _BARE_HOURS.sub(lambda m: f"{int(m[1]):02d}:00-{int(m[2]):02d}:00", expression)
        if repaired == expression:
            raise
        return _build(repaired, country, coords)


def _build(expression: str, country: str | None, coords: tuple[float, float] | None) -> oh.OpeningHours:
    # No time zone: the caller passes the store's local wall-clock time. The country (given, or
    # found from the coordinates by the library's offline map) chooses the PH calendar.
    return oh.OpeningHours(expression, country=country, coords=coords, auto_country=country is None,
                           auto_timezone=False)


def parse(expression: str, country: str | None = None) -> str:
    """The expression as the library normalises it; raises OpeningHoursError when it is not valid.

    Used by the store loader to refuse (and report) a string no evaluation could use."""
    try:
        return str(_compile(expression, _country(country), None))
    except (_ParserError, ValueError) as exc:
        raise OpeningHoursError(f"not an OSM opening_hours expression: {str(exc).strip()[:300]}") from None


def is_open(expression: str, local_time: dt.datetime, country: str | None = None,
            coords: tuple[float, float] | None = None) -> bool | None:
    """True open, False closed, None unknown (an `unknown` rule, or an expression that cannot be parsed).

    `local_time` is the store's wall-clock time: naive, or aware (then converted to naive local
    time in its own zone). `country` (ISO 3166-1 alpha-2, e.g. "FI") picks the public-holiday
    calendar for `PH`; without it the country is found from `coords` (lat, lon); with neither,
    PH rules never match.
    """
    local = local_time.replace(tzinfo=None) if local_time.tzinfo is not None else local_time
    try:
        compiled = _compile(expression, _country(country), None if country else coords)
    except (_ParserError, ValueError):
        return None
    state, _comment = compiled.state(local)
    if state == oh.State.OPEN:
        return True
    if state == oh.State.CLOSED:
        return False
    return None


def store_open_at(store: Mapping[str, Any], at_ms: int) -> bool | None:
    """Is this store (a store.upserted read-model entry) open at epoch ms `at_ms`?

    None when it has no opening_hours or no time_zone (its local time is unknown), or when its
    opening_hours cannot be evaluated: callers decide what unknown means (never "open now")."""
    expression = store.get("opening_hours")
    zone = store.get("time_zone")
    if not isinstance(expression, str) or not isinstance(zone, str):
        return None
    try:
        tz = zoneinfo.ZoneInfo(zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return None
    local = dt.datetime.fromtimestamp(at_ms / 1000, dt.UTC).astimezone(tz)
    location = store.get("location")
    coords = (float(location["lat"]), float(location["lon"])) if isinstance(location, Mapping) else None
    return is_open(expression, local, None, coords)


def _country(country: str | None) -> str | None:
    return country.upper() if country else None
