"""Providers layer (pure): read one field of a provider event, or say exactly what is wrong with it.

The rule every normaliser follows (docs/INPUT.md, "Bad values"): a field Kairos uses that is absent
(or JSON null) is absent; a field that is present but unusable — out of range, the wrong type, a
time without an offset — rejects that provider event with a JSON pointer into the provider's body
and a reason. Nothing is silently dropped, clamped or replaced by another field.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from service.core.ids import ID_MAX, is_valid_id
from service.core.timeutil import format_rfc3339_ms, parse_rfc3339_ms

_ID_MAX = ID_MAX


class FieldProblem(ValueError):
    """A provider event field that is present but unusable; `pointer` is into the provider's body."""

    def __init__(self, pointer: str, reason: str) -> None:
        super().__init__(f"{pointer}: {reason}")
        self.pointer = pointer
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Where:
    """The JSON pointer of an object inside the provider's body ("" is the body itself)."""

    pointer: str = ""

    def at(self, *keys: str | int) -> str:
        return self.pointer + "".join("/" + str(k).replace("~", "~0").replace("/", "~1") for k in keys)

    def child(self, *keys: str | int) -> Where:
        return Where(self.at(*keys))


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def ident(obj: dict[str, Any], key: str, where: Where, limit: int = _ID_MAX, required: bool = False) -> str | None:
    """An id or label: a string (numbers are read as their text) of 1 to `limit` characters."""
    value = obj.get(key)
    if value is None:
        if required:
            raise FieldProblem(where.at(key), f"`{key}` is missing")
        return None
    if _is_number(value):
        value = str(value)
    if not isinstance(value, str) or not 0 < len(value) <= limit:
        raise FieldProblem(where.at(key), f"`{key}` must be a string of 1 to {limit} characters, not {_show(value)}")
    if not is_valid_id(value):
        raise FieldProblem(where.at(key), f"`{key}` must not start or end with white space or contain "
                                          "control characters")
    return value


def when(obj: dict[str, Any], key: str, where: Where) -> str | None:
    """An RFC 3339 time with an offset, as Kairos writes it (milliseconds, Z); None when absent."""
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise FieldProblem(where.at(key), f"`{key}` must be an RFC 3339 time string, not {_show(value)}")
    try:
        return format_rfc3339_ms(parse_rfc3339_ms(value))
    except ValueError:
        pass
    no_offset = re.fullmatch(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?", value)
    why = "has no UTC offset (add Z or ±hh:mm)" if no_offset else "is not an RFC 3339 time with an offset"
    raise FieldProblem(where.at(key), f"`{key}` {_show(value)} {why}, e.g. 2019-11-15T17:31:18.454Z")


def number(obj: dict[str, Any], key: str, where: Where, low: float, high: float, unit: str = "") -> float | None:
    """A number within [low, high]; None when absent."""
    value = obj.get(key)
    if value is None:
        return None
    if not _is_number(value):
        raise FieldProblem(where.at(key), f"`{key}` must be a number, not {_show(value)}")
    if not low <= value <= high:
        suffix = f" {unit}" if unit else ""
        raise FieldProblem(where.at(key), f"`{key}` {value:g}{suffix} is outside {low:g}..{high:g}{suffix}")
    return float(value)


def integer(obj: dict[str, Any], key: str, where: Where, low: int, high: int) -> int | None:
    """A whole number within [low, high] (2.0 counts as 2); None when absent."""
    value = obj.get(key)
    if value is None:
        return None
    if not _is_number(value) or value != int(value):
        raise FieldProblem(where.at(key), f"`{key}` must be a whole number {low} to {high}, not {_show(value)}")
    if not low <= value <= high:
        raise FieldProblem(where.at(key), f"`{key}` {value:g} is outside {low}..{high}")
    return int(value)


def position(obj: dict[str, Any], key: str, where: Where, required: bool = False) -> dict[str, float] | None:
    """A GeoJSON position `[lon, lat]` (an altitude may follow) or Point, as a Kairos location {lat, lon}."""
    value = obj.get(key)
    if value is None:
        if required:
            raise FieldProblem(where.at(key), f"`{key}` is missing: a [lon, lat] position is required")
        return None
    pointer = where.at(key)
    if isinstance(value, dict):
        if value.get("type") not in (None, "Point"):
            raise FieldProblem(where.at(key, "type"), f"a location must be a GeoJSON Point, not {_show(value['type'])}")
        value, pointer = value.get("coordinates"), where.at(key, "coordinates")
    if not isinstance(value, list) or not 2 <= len(value) <= 3 or not all(_is_number(v) for v in value):
        raise FieldProblem(pointer, f"must be a GeoJSON position [lon, lat], not {_show(value)}")
    lon, lat = value[0], value[1]
    if not -180 <= lon <= 180:
        raise FieldProblem(pointer + "/0", f"longitude {lon:g} is outside -180..180 (GeoJSON order is [lon, lat])")
    if not -90 <= lat <= 90:
        raise FieldProblem(pointer + "/1", f"latitude {lat:g} is outside -90..90 (GeoJSON order is [lon, lat])")
    return {"lat": float(lat), "lon": float(lon)}


def provider_id(value: object) -> str | None:
    """The provider's own id of an event, for the response only (any string of 1..128 characters)."""
    return value if isinstance(value, str) and 0 < len(value) <= _ID_MAX else None


def obj(parent: dict[str, Any], key: str, where: Where, required: bool = False) -> dict[str, Any]:
    """A nested object; {} when absent."""
    value = parent.get(key)
    if value is None:
        if required:
            raise FieldProblem(where.at(key), f"`{key}` is missing")
        return {}
    if not isinstance(value, dict):
        raise FieldProblem(where.at(key), f"`{key}` must be an object, not {_show(value)}")
    return value
