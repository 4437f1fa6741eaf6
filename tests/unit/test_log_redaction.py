"""Secrets never reach a log line, whoever logs them (aiohttp quotes an oversized header whole)."""

from __future__ import annotations

import logging
import sys

import orjson
import pytest

from service.telemetry.logging import JsonFormatter, redact

KEY = "kairos_ios-app_QirghS91ZkJyvDQ3cb-BMHKvGSgNXU8bUf77TaQa96M"


@pytest.mark.parametrize(("text", "expected"), [
    (f"LineTooLong: b'Bearer {KEY}aaaa'", "LineTooLong: b'Bearer [REDACTED]'"),
    (f"key {KEY} leaked", "key kairos_ios-app_[REDACTED] leaked"),
    ("Authorization: bearer some.jwt.token", "Authorization: bearer [REDACTED]"),
    ("X-Radar-Signature: 5f2c9d", "X-Radar-Signature: [REDACTED]"),
    ('{"X-Kairos-Signature": "v1=abc"}', '{"X-Kairos-Signature": "[REDACTED]"}'),
    ("X-Kairos-Webhook-Token=s3cret", "X-Kairos-Webhook-Token=[REDACTED]"),
    ("kairos_ready 1.0 and kairos_decisions_total", "kairos_ready 1.0 and kairos_decisions_total"),
])
def test_redact(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_the_formatter_redacts_messages_extras_and_tracebacks() -> None:
    try:
        raise ValueError(f"bad header Bearer {KEY}")
    except ValueError:
        record = logging.LogRecord("aiohttp.server", logging.ERROR, __file__, 1, "Error handling request: %s",
                                   (f"Bearer {KEY}",), exc_info=sys.exc_info())
    record.header = f"Authorization: Bearer {KEY}"
    line = JsonFormatter().format(record)
    assert KEY not in line and KEY[15:] not in line
    out = orjson.loads(line)
    assert out["msg"] == "Error handling request: Bearer [REDACTED]"
    assert out["header"] == "Authorization: Bearer [REDACTED]"
    assert "ValueError: bad header Bearer [REDACTED]" in out["exc"]
