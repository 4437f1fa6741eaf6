"""Core layer: the shape of every id in a Kairos event, as schemas/events/common.schema.json states it."""

from __future__ import annotations

import re

ID_MAX = 128
CUSTOMER_ID_RULE = ("a customer id has 1 to 128 characters, no white space at either end and no control "
                    "characters")
# 1..128 characters, no white space at either end, no control characters (the schema's pattern).
_ID_SHAPE = re.compile(r"[^\s\x00-\x1f\x7f](?:[^\x00-\x1f\x7f]*[^\s\x00-\x1f\x7f])?")


def is_valid_id(value: object) -> bool:
    """True for a string the event schema accepts as an id (event_id, customer_id, entity ids)."""
    return isinstance(value, str) and 0 < len(value) <= ID_MAX and _ID_SHAPE.fullmatch(value) is not None
