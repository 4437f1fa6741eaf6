"""API layer: jsonschema-rs errors as short human FieldErrors ("latitude must be between -90 and 90")."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from jsonschema_rs import ValidationError, ValidationErrorKind

from service.api.wire import FieldError

__all__ = ["describe", "field_name", "pointer"]

# Keywords whose generic message says little; a schema node may carry "x-reason" for them.
_SHAPE_KEYWORDS = frozenset({"pattern", "format", "anyOf", "oneOf", "propertyNames", "minProperties"})
_FRIENDLY_NAMES = {"lat": "latitude", "lon": "longitude"}
_TYPE_WORDS = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "object": "an object",
    "array": "an array",
    "boolean": "true or false",
    "null": "null",
}


def pointer(path: Sequence[str | int]) -> str:
    """RFC 6901 JSON pointer for a path of keys and indexes ("" is the whole document)."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in path)


def field_name(path: Sequence[str | int], root: str = "event") -> str:
    """Name a field for a sentence: /location/lat -> "latitude", /device/type -> "device type"."""
    if not path:
        return root
    last = path[-1]
    if isinstance(last, int):
        return f"{field_name(path[:-1], root)} item {last}"
    if last == "type" and len(path) > 1:
        return f"{field_name(path[:-1], root)} type"
    return _FRIENDLY_NAMES.get(last, last)


def _number(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _show(value: object) -> str:
    if value is None:
        return "null"
    return value if isinstance(value, str) else _number(value)


def _count(limit: int, nouns: tuple[str, str], most: bool) -> str:
    if limit == 1 and not most:
        return "must not be empty"
    return f"must have at {'most' if most else 'least'} {limit} {nouns[limit != 1]}"


def _schema_node(location: str | None, documents: Mapping[str, Any]) -> Mapping[str, Any]:
    """The schema object holding the failed keyword, from its absolute keyword location."""
    if not location or "#" not in location:
        return {}
    uri, _, fragment = location.partition("#")
    node: Any = documents.get(uri, {})
    # Drop the leading "" and the keyword itself: we want the object that holds the keyword.
    for token in fragment.split("/")[1:-1]:
        token = token.replace("~1", "/").replace("~0", "~")
        if isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        elif isinstance(node, dict):
            node = node.get(token, {})
        else:
            return {}
    return node if isinstance(node, dict) else {}


def _tail(kind: ValidationErrorKind, node: Mapping[str, Any]) -> str:
    """The predicate of the sentence ("must be at least 1") for one error kind."""
    K = ValidationErrorKind
    if isinstance(kind, K.Type):
        return "must be " + " or ".join(_TYPE_WORDS.get(t, t) for t in kind.types)
    if isinstance(kind, K.Enum):
        return "must be one of " + ", ".join(_show(o) for o in kind.options)
    if isinstance(kind, K.Constant):
        return f"must be {_show(kind.expected_value)}"
    if isinstance(kind, (K.Minimum, K.Maximum)) and "minimum" in node and "maximum" in node:
        return f"must be between {_number(node['minimum'])} and {_number(node['maximum'])}"
    if isinstance(kind, K.Minimum):
        return f"must be at least {_number(kind.limit)}"
    if isinstance(kind, K.Maximum):
        return f"must be at most {_number(kind.limit)}"
    if isinstance(kind, K.ExclusiveMinimum):
        return f"must be greater than {_number(kind.limit)}"
    if isinstance(kind, K.ExclusiveMaximum):
        return f"must be less than {_number(kind.limit)}"
    if isinstance(kind, K.MinLength):
        return "must not be empty" if kind.limit == 1 else f"must be at least {kind.limit} characters long"
    if isinstance(kind, K.MaxLength):
        return f"must be at most {kind.limit} characters long"
    if isinstance(kind, K.MinItems):
        return _count(kind.limit, ("item", "items"), most=False)
    if isinstance(kind, K.MaxItems):
        return _count(kind.limit, ("item", "items"), most=True)
    if isinstance(kind, K.MinProperties):
        return _count(kind.limit, ("entry", "entries"), most=False)
    if isinstance(kind, K.MaxProperties):
        return _count(kind.limit, ("entry", "entries"), most=True)
    if isinstance(kind, K.Pattern):
        return f"must match the pattern {kind.pattern}"
    if isinstance(kind, K.Format):
        return f"must be a valid {kind.format}"
    if isinstance(kind, K.MultipleOf):
        return f"must be a multiple of {_number(kind.multiple_of)}"
    if isinstance(kind, K.UniqueItems):
        return "must not contain duplicates"
    if isinstance(kind, (K.AnyOf, K.OneOfNotValid)):
        return "does not match any allowed form"
    if isinstance(kind, K.OneOfMultipleValid):
        return "matches more than one allowed form"
    if isinstance(kind, K.PropertyNames):
        return "has a key that is not allowed"
    return "is not allowed"


def describe(error: ValidationError, documents: Mapping[str, Any], root: str = "event") -> list[FieldError]:
    """FieldErrors for one jsonschema-rs error; `documents` maps schema $id -> schema document.

    A missing or unknown property is reported at its own pointer (/customer_id), not at its parent.
    """
    path = list(error.instance_path)
    kind = error.kind
    if isinstance(kind, ValidationErrorKind.Required):
        field = [*path, kind.property]
        return [FieldError(pointer(field), f"{field_name(field, root)} is required")]
    if isinstance(kind, ValidationErrorKind.AdditionalProperties):
        return [FieldError(pointer([*path, key]), f"unknown field '{key}'") for key in kind.unexpected]
    node = _schema_node(error.absolute_keyword_location, documents)
    custom = node.get("x-reason") if kind.name in _SHAPE_KEYWORDS else None
    tail = custom if isinstance(custom, str) else _tail(kind, node)
    return [FieldError(pointer(path), f"{field_name(path, root)} {tail}")]
