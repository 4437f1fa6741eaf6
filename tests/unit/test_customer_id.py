"""Customer ids outside a JSON document (URL paths) follow the event schemas' rule exactly."""

from __future__ import annotations

import pytest

from service.api.validation import EventValidator
from service.bootstrap import schema_dir
from service.core.ids import is_valid_id

CASES = ["anna", "a b", "é-42", "x" * 128, " anna", "anna ", "mal\x00x", "o*\x0f\u00a9h", "x" * 129, "", "\t"]


@pytest.mark.parametrize("value", CASES)
def test_the_path_rule_is_the_schema_rule(value: str) -> None:
    validator = EventValidator.from_directory(schema_dir())
    event = {"event_id": "e-1", "type": "app.opened", "occurred_at": "2026-12-03T18:00:00Z", "source": "app",
             "customer_id": value, "device": {"id": "d-1", "type": "phone"}}
    schema_ok = not any(e.pointer == "/customer_id" for e in validator.validate(event, 1_796_400_000_000, 300_000))
    assert is_valid_id(value) == schema_ok
    assert is_valid_id(value) == (value in CASES[:4])
