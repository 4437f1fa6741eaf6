"""API layer: validate v1 events on the ingest hot path — JSON Schema (jsonschema-rs) plus what a schema cannot say."""

from __future__ import annotations

import json
import math
import pathlib
import zoneinfo
from collections.abc import Mapping
from typing import Any, Final

import jsonschema_rs
import orjson

from service.api.errors import clip
from service.api.reasons import describe, field_name, pointer
from service.api.wire import (
    BodyError,
    FieldError,
    NonFinite,
    parse_json_array,
    parse_ndjson,
)
from service.core.timeutil import parse_rfc3339_ms

__all__ = [
    "SCREEN_STATE_MAX_BYTES",
    "BodyError",
    "EventValidator",
    "FieldError",
    "NonFinite",
    "parse_json_array",
    "parse_ndjson",
]

MAX_DEPTH: Final = 32
"""Deepest nesting an event may have; the state record adds a few levels and orjson stops at 254."""

SCREEN_STATE_MAX_BYTES: Final = 4096
"""session.ended screen_state limit (CONTRACTS.md: free-form, max 4 KiB), measured as compact JSON."""

# Refuse what orjson would otherwise encode but JSON does not have (dataclasses, datetimes).
_STRICT_ENCODING: Final = orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_DATETIME
_INT_MIN: Final = -(2**63)  # the integer range orjson can encode
_INT_MAX: Final = 2**64 - 1
_NON_FINITE_NAMES: Final = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}


# Names the system's zoneinfo directory holds that are not IANA zones of a place: "localtime" is
# whatever the host is set to, "Factory" a placeholder; posix/ and right/ are copies of the tree.
_NOT_A_PLACE = frozenset({"localtime", "Factory", "posixrules"})


def iana_zones() -> frozenset[str]:
    """IANA time zone names a customer or store may have: the same on every host."""
    return frozenset(z for z in zoneinfo.available_timezones()
                     if z not in _NOT_A_PLACE and not z.startswith(("posix/", "right/")))


class EventValidator:
    """Validates one decoded event against its v1 type's schema; build once at start-up, share freely.

    Each type has its own compiled validator, so an event is checked against exactly one
    schema and its errors name only its own fields.
    """

    __slots__ = ("_documents", "_type_list", "_validators", "_zones")

    def __init__(
        self,
        validators: Mapping[str, jsonschema_rs.Validator],
        documents: Mapping[str, Any],
    ) -> None:
        self._validators = dict(validators)
        self._documents = documents
        self._type_list = ", ".join(sorted(validators))
        self._zones = iana_zones()

    @classmethod
    def from_directory(cls, schema_dir: pathlib.Path) -> EventValidator:
        """Load every *.schema.json under `schema_dir` and compile one validator per events/<type> schema.

        Cross-file $refs resolve through an in-memory registry keyed by $id; nothing is fetched
        over the network. Raises ValueError when a schema lacks $id, a $ref does not resolve, or
        there are no event schemas.
        """
        documents: dict[str, Any] = {}
        event_docs: list[dict[str, Any]] = []
        for path in sorted(schema_dir.rglob("*.schema.json")):
            doc = json.loads(path.read_bytes())
            schema_id = _schema_id(doc)
            if schema_id is None:
                raise ValueError(f"{path}: a schema file must be an object with a string $id")
            documents[schema_id] = doc
            if path.parent.name == "events" and isinstance(_type_const(doc), str):
                event_docs.append(doc)
        if not event_docs:
            raise ValueError(f"no event schemas (events/<type>.schema.json) under {schema_dir}")

        def offline(uri: str) -> Any:
            raise ValueError(f"schema {uri} is not under {schema_dir}; schemas are never fetched")

        registry = jsonschema_rs.Registry(list(documents.items()))
        validators = {
            str(_type_const(doc)): jsonschema_rs.validator_for(
                doc, registry=registry, retriever=offline, validate_formats=True
            )
            for doc in event_docs
        }
        return cls(validators, documents)

    @property
    def known_types(self) -> frozenset[str]:
        """The v1 event types this validator knows."""
        return frozenset(self._validators)

    def validate(self, event: object, now_ms: int, max_future_skew_ms: int) -> list[FieldError]:
        """Return why `event` must be rejected; [] means valid.

        `now_ms` is the ingest clock in epoch ms; occurred_at may be at most `max_future_skew_ms`
        after it. At most one error per pointer, schema errors first.
        """
        if not isinstance(event, dict):
            return [FieldError("", "event must be a JSON object")]
        deep = _too_deep(event, MAX_DEPTH)
        if deep is not None:
            # Checked first and without recursion: deeper values would overflow the encoders.
            return [FieldError(deep, f"nested more than {MAX_DEPTH} levels deep; flatten this value")]
        type_ = event.get("type")
        validator = self._validators.get(type_) if isinstance(type_, str) else None
        if validator is None:
            return [self._type_error(event)]
        errors = self._schema_errors(validator, event)
        failed = {error.pointer for error in errors}
        errors.extend(_time_errors(event, failed, now_ms, max_future_skew_ms))
        time_zone = event.get("time_zone")
        if isinstance(time_zone, str) and "/time_zone" not in failed and time_zone not in self._zones:
            errors.append(
                FieldError(
                    "/time_zone",
                    f"time_zone '{time_zone}' is not a known IANA time zone",
                )
            )
        screen_state = event.get("screen_state")
        if isinstance(screen_state, dict) and not any(_within(p, "/screen_state") for p in failed):
            size = len(orjson.dumps(screen_state))
            if size > SCREEN_STATE_MAX_BYTES:
                errors.append(
                    FieldError(
                        "/screen_state",
                        f"screen_state must be at most {SCREEN_STATE_MAX_BYTES} bytes of JSON (it is {size})",
                    )
                )
        return errors

    def _type_error(self, event: dict[Any, Any]) -> FieldError:
        type_ = event.get("type")
        if "type" not in event:
            problem = "type is required"
        elif not isinstance(type_, str):
            problem = "type must be a string"
        else:
            problem = f"unknown event type '{clip(type_, 64)}'"
        return FieldError("/type", f"{problem}; known types: {self._type_list}")

    def _schema_errors(self, validator: jsonschema_rs.Validator, event: dict[Any, Any]) -> list[FieldError]:
        try:
            if validator.is_valid(event):
                # is_valid skips values no keyword looks at (free-form screen_state, strings with
                # only length limits); the encoder Kafka will use does not, so ask it too.
                orjson.dumps(event, option=_STRICT_ENCODING)
                return []
        except (ValueError, TypeError):  # orjson.JSONEncodeError is a TypeError
            pass  # a NonFinite marker, lone surrogate or other non-JSON value: found below
        errors: list[FieldError] = []
        clean = _json_safe(event, [], errors)
        # A replaced leaf is now null: drop the schema's complaints about it (already reported).
        marked = [error.pointer for error in errors if error.pointer]
        try:
            for error in validator.iter_errors(clean):
                described = describe(error, self._documents)
                errors.extend(e for e in described if not any(_within(e.pointer, m) for m in marked))
        except ValueError:
            errors.append(FieldError("", "event contains a value that is not JSON"))
        if not errors:  # only the encoder objected and _json_safe found nothing: never accept it
            errors.append(FieldError("", "event contains a value that is not JSON"))
        return _first_per_pointer(errors)


def _too_deep(value: object, limit: int) -> str | None:
    """JSON pointer of the first container nested deeper than `limit`, else None (iterative)."""
    stack: list[tuple[object, int, str]] = [(value, 0, "")]
    while stack:
        node, depth, where = stack.pop()
        if isinstance(node, dict):
            items: Any = node.items()
        elif isinstance(node, list):
            items = enumerate(node)
        else:
            continue
        if depth >= limit:
            return where
        for key, child in items:
            if isinstance(child, dict | list):
                escaped = str(key).replace("~", "~0").replace("/", "~1")
                stack.append((child, depth + 1, f"{where}/{escaped}"))
    return None


def _schema_id(doc: object) -> str | None:
    schema_id = doc.get("$id") if isinstance(doc, dict) else None
    return schema_id if isinstance(schema_id, str) else None


def _type_const(doc: Mapping[str, Any]) -> object:
    properties = doc.get("properties")
    type_schema = properties.get("type") if isinstance(properties, dict) else None
    return type_schema.get("const") if isinstance(type_schema, dict) else None


def _time_errors(event: dict[Any, Any], failed: set[str], now_ms: int, skew_ms: int) -> list[FieldError]:
    """Timestamps the schema let through but that are not real instants, or too far ahead."""
    errors: list[FieldError] = []
    for field in ("occurred_at", "received_at"):
        text = event.get(field)
        if not isinstance(text, str) or f"/{field}" in failed:
            continue
        try:
            at_ms = parse_rfc3339_ms(text)
        except ValueError:
            # e.g. 2025-02-30 or offset +24:00, which the pattern alone lets through
            errors.append(FieldError(f"/{field}", f"{field} is not a real date and time"))
            continue
        if at_ms < 0:
            errors.append(FieldError(f"/{field}", f"{field} is before 1970-01-01T00:00:00Z"))
            continue
        if field == "occurred_at" and at_ms - now_ms > skew_ms:
            errors.append(
                FieldError(
                    "/occurred_at",
                    f"occurred_at is {_seconds(at_ms - now_ms)} s in the future; "
                    f"at most {_seconds(skew_ms)} s of clock skew is allowed",
                )
            )
    return errors


def _json_safe(value: object, path: list[str | int], errors: list[FieldError]) -> object:
    """A copy of `value` that jsonschema-rs accepts; each replaced leaf is reported in `errors`."""
    if isinstance(value, dict):
        clean: dict[str, object] = {}
        for key, item in value.items():
            if isinstance(key, str) and _is_text(key):
                clean[key] = _json_safe(item, [*path, key], errors)
            else:
                errors.append(
                    FieldError(
                        pointer(path),
                        f"{field_name(path)} has a key that is not valid text",
                    )
                )
        return clean
    if isinstance(value, list):
        return [_json_safe(item, [*path, index], errors) for index, item in enumerate(value)]
    if isinstance(value, str):
        if _is_text(value):
            return value
        problem = "contains an invalid Unicode escape (lone surrogate)"
    elif isinstance(value, NonFinite):
        problem = f"must be a finite number, not {value.token}"
    elif isinstance(value, float) and not math.isfinite(value):
        problem = f"must be a finite number, not {_NON_FINITE_NAMES.get(repr(value), repr(value))}"
    elif isinstance(value, int) and not isinstance(value, bool) and not _INT_MIN <= value <= _INT_MAX:
        problem = "is too large a number"  # only the stdlib fallback parser yields these
    elif value is None or isinstance(value, (bool, int, float)):
        return value
    else:
        problem = "is not a JSON value"
    errors.append(FieldError(pointer(path), f"{field_name(path)} {problem}"))
    return None


def _is_text(text: str) -> bool:
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _within(candidate: str, prefix: str) -> bool:
    """True when pointer `candidate` is `prefix` or lies inside it."""
    return candidate == prefix or candidate.startswith(prefix + "/")


def _first_per_pointer(errors: list[FieldError]) -> list[FieldError]:
    seen: set[str] = set()
    unique: list[FieldError] = []
    for error in errors:
        if error.pointer not in seen:
            seen.add(error.pointer)
            unique.append(error)
    return unique


def _seconds(ms: int) -> str:
    """Milliseconds as seconds without float noise: 3600000 -> "3600", 300001 -> "300.001"."""
    whole, frac = divmod(ms, 1000)
    return str(whole) if frac == 0 else f"{whole}.{frac:03d}".rstrip("0")

