"""Erasure of a customer ("right to be forgotten") on the stream.

An erasure is an internal control record on the customer topic, keyed by her id, so it is
applied in order on the worker that owns her: her state record is deleted (a tombstone in the
changelog) and an erasure marker is kept, keyed by a hash of her id (not the id itself), so her
older events, re-consumed after a restart or a replay, never bring her back. Events that occur
after the erasure start a new customer.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from typing import Any

import orjson

HEADER_CONTROL = "kairos-control"
ERASE = b"erase"
CONTROL_TYPE = "customer.erased"


def erasure_key(customer_key: bytes) -> bytes:
    return hashlib.sha256(b"kairos-erasure\x00" + customer_key).digest()


def control_record(customer_id: str, requested_at_ms: int, request_id: str) -> bytes:
    return orjson.dumps({"type": CONTROL_TYPE, "customer_id": customer_id,
                         "requested_at_ms": requested_at_ms, "request_id": request_id})


def is_control(headers: Mapping[str, bytes] | Iterable[tuple[str, bytes]] | None, value: object) -> bool:
    """A control record carries the header and the control type (both, so neither alone can
    turn an ordinary event into an erasure)."""
    pairs = headers.items() if isinstance(headers, Mapping) else headers or ()
    marked = any(k == HEADER_CONTROL and v == ERASE for k, v in pairs)
    return marked and isinstance(value, dict) and value.get("type") == CONTROL_TYPE


def erased_at_ms(control: Mapping[str, Any], state: Mapping[str, Any] | None) -> int:
    """The instant up to which her events are erased: when it was asked, or her newest event's
    time if that is later (an event stamped ahead of the request is still hers from before)."""
    requested = int(control.get("requested_at_ms", 0))
    newest = state.get("updated_at_ms") if state is not None else None
    return max(requested, int(newest)) if isinstance(newest, int) else requested
