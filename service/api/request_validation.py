"""API layer: validate request bodies (e.g. the decision request) against their JSON Schema."""

from __future__ import annotations

import json
import math
import pathlib
from typing import Any

import jsonschema_rs

from service.api.reasons import describe
from service.api.validation import MAX_DEPTH, _too_deep
from service.api.wire import FieldError


class RequestValidator:
    """One compiled schema for one request body; errors as FieldErrors with pointers."""

    def __init__(self, validator: jsonschema_rs.Validator, documents: dict[str, Any]) -> None:
        self._validator = validator
        self._documents = documents

    @classmethod
    def from_directory(cls, schema_dir: pathlib.Path, name: str) -> RequestValidator:
        documents: dict[str, Any] = {}
        for path in sorted(schema_dir.rglob("*.schema.json")):
            doc = json.loads(path.read_bytes())
            documents[str(doc["$id"])] = doc
        target = json.loads((schema_dir / name).read_bytes())
        registry = jsonschema_rs.Registry(list(documents.items()))
        return cls(jsonschema_rs.validator_for(target, registry=registry, validate_formats=True), documents)

    def validate(self, document: object) -> list[FieldError]:
        if not isinstance(document, dict):
            return [FieldError("", "request body must be a JSON object")]
        deep = _too_deep(document, MAX_DEPTH)
        if deep is not None:
            # First, as for events: jsonschema-rs and the recursive checks below fail on deep values.
            return [FieldError(deep, f"nested more than {MAX_DEPTH} levels deep; flatten this value")]
        if _has_non_finite(document):
            return [FieldError("", "numbers must be finite")]
        errors: list[FieldError] = []
        for error in self._validator.iter_errors(document):
            errors.extend(describe(error, self._documents, root="request"))
        return errors


def _has_non_finite(value: object) -> bool:
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, dict):
        return any(_has_non_finite(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_non_finite(v) for v in value)
    return False
