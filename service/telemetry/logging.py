"""Structured JSON logs on stderr: one object per line, with the `extra` fields of each call and
the request id and decision id of the request being handled (telemetry layer).

Never log personal data (customer ids, coordinates, names, free text from events): callers pass
ids of requests, decisions, records and counts. The level can be changed while Kairos runs
(`PUT /admin/log-level`, SIGUSR1 for DEBUG, SIGUSR2 back to KAIROS_LOG_LEVEL).
"""

from __future__ import annotations

import contextvars
import logging
import re
import sys
import time

import orjson

_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
# Libraries that are chatty about every rebalance step and fetch: never below WARNING.
NOISY = ("faust", "aiokafka", "mode")

# Set by the HTTP layer for the request being handled (contextvars follow the request's task).
request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("kairos_request_id", default=None)
decision_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("kairos_decision_id", default=None)

_configured = {"level": "INFO"}

# What a secret looks like wherever a library may echo a request line or header back into a log
# message (aiohttp's "LineTooLong" error quotes the offending header, API key and all): a Kairos
# key, or whatever follows "Bearer", a signature or a webhook token header.
_SECRETS = re.compile(
    r"(?P<key>kairos_[a-z0-9][a-z0-9-]{0,63}_)[A-Za-z0-9_-]{8,}"
    r"|(?P<scheme>[Bb]earer\s+)[^\s'\"\\,]+"
    r"|(?P<header>(?:X-Radar-Signature|X-Kairos-Signature|X-Kairos-Webhook-Token|aeg-sas-key)['\"]?\s*[:=]\s*['\"]?)"
    r"[^\s'\"\\,]+",
    re.IGNORECASE)


def redact(text: str) -> str:
    """`text` with every API key, bearer token and webhook signature replaced by [REDACTED]."""
    return _SECRETS.sub(lambda m: (m.group("key") or m.group("scheme") or m.group("header")) + "[REDACTED]", text)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, object] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        rid, did = request_id.get(), decision_id.get()
        if rid is not None:
            out["request_id"] = rid
        if did is not None:
            out["decision_id"] = did
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                out[key] = value
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        line = orjson.dumps(out, default=str).decode()
        # Cheap when there is nothing to hide; a secret never reaches the log, whoever logged it.
        return redact(line) if ("kairos_" in line or "earer" in line or "ignature" in line
                                or "oken" in line or "sas-key" in line) else line


def configure_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    _configured["level"] = level.upper()
    _apply(level.upper())


def _apply(level: str) -> None:
    root = logging.getLogger()
    root.setLevel(level)
    for noisy in NOISY:
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))


def current_level() -> str:
    return logging.getLevelName(logging.getLogger().level)


def configured_level() -> str:
    """The level Kairos started with (KAIROS_LOG_LEVEL)."""
    return _configured["level"]


def set_level(level: str, by: str) -> str:
    """Changes the level of every Kairos logger now; returns the previous one. The change itself
    is logged at WARNING, so it shows whatever the new level is."""
    level = level.upper()
    if level not in LEVELS:
        raise ValueError(f"log level {level!r}: use {', '.join(LEVELS)}")
    previous = current_level()
    _apply(level)
    logging.getLogger("kairos").warning("log level changed", extra={"from": previous, "to": level, "by": by})
    return previous
