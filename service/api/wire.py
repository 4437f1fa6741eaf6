"""API layer: decode ingest bodies (JSON array or NDJSON) into Python events, keeping NaN/Infinity as markers."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import orjson

__all__ = ["BodyError", "FieldError", "NonFinite", "parse_json_array", "parse_ndjson"]


@dataclass(frozen=True, slots=True)
class FieldError:
    """Why one event (or NDJSON line) was rejected: an RFC 6901 pointer into it and a short sentence."""

    pointer: str
    reason: str


class BodyError(ValueError):
    """The request body as a whole cannot be used (HTTP 400); `reason` is safe to show the client."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class NonFinite:
    """Stands in for a NaN, Infinity or overflowing number so validation can point at the field.

    orjson refuses these outright, which would lose the whole batch; the stdlib fallback keeps
    them as this marker and the validator rejects only the event that holds one.
    """

    token: str


def _parse_float(text: str) -> float | NonFinite:
    value = float(text)
    return value if math.isfinite(value) else NonFinite(text)


# parse_constant receives "NaN", "Infinity" or "-Infinity"; 1e400 arrives through parse_float.
_FALLBACK = json.JSONDecoder(parse_constant=NonFinite, parse_float=_parse_float)


def _decode_fallback(data: bytes, what: str) -> object:
    """Decode `data` after orjson refused it; raise BodyError saying why, for `what` ("body", "line 3")."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BodyError(f"{what} is not valid UTF-8 (bad byte at offset {exc.start})") from None
    try:
        return _FALLBACK.decode(text)
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno}, column {exc.colno}" if exc.lineno > 1 else f"column {exc.colno}"
        raise BodyError(f"{what} is not valid JSON ({exc.msg} at {where})") from None
    except (ValueError, RecursionError):
        # e.g. an integer literal with thousands of digits, or nesting deeper than the stack
        raise BodyError(f"{what} is not valid JSON") from None


def parse_json_array(body: bytes) -> list[object]:
    """Parse an application/json ingest body, which must be a JSON array of events.

    Raises BodyError when the body is not UTF-8, not JSON, or not an array. Events holding
    NaN/Infinity are kept (with NonFinite markers) so that only they get rejected.
    """
    try:
        value: object = orjson.loads(body)
    except orjson.JSONDecodeError:
        value = _decode_fallback(body, "body")
    if not isinstance(value, list):
        raise BodyError("body must be a JSON array of events")
    return value


def parse_ndjson(body: bytes) -> list[tuple[object | None, FieldError | None]]:
    """Parse an application/x-ndjson body: one (event, None) or (None, error) per non-blank line.

    A line that is not UTF-8 or not JSON becomes an error at pointer "" naming its 1-based line
    number; the other lines are unaffected. Blank lines (whitespace, CRLF) are skipped.
    """
    entries: list[tuple[object | None, FieldError | None]] = []
    for number, line in enumerate(body.split(b"\n"), start=1):
        if not line.strip():
            continue
        try:
            entries.append((orjson.loads(line), None))
        except orjson.JSONDecodeError:
            try:
                entries.append((_decode_fallback(line, f"line {number}"), None))
            except BodyError as exc:
                entries.append((None, FieldError("", exc.reason)))
    return entries
