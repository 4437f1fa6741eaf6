"""Core layer: a message's de-duplication key, its deterministic notification id and the
notification record written to kairos.notifications.v1 (schemas/notification.schema.json).

Texts are rendered when the message is sent (a held message takes the policy's texts at the
time it goes out), in her locale's fallback chain; placeholders are filled from the detector's
values plus {trigger}, {customer_id} and {local_date}.
"""

from __future__ import annotations

import hashlib
import string
import uuid
from collections.abc import Mapping
from typing import Any

from service.core.policy.model import Policy
from service.core.policy.texts import locale_chain, text
from service.core.timeutil import format_rfc3339_ms
from service.core.triggers.model import ParamValue

_FORMATTER = string.Formatter()
# Fixed: the same (customer, trigger, key, cause) gives the same id on every worker and build.
NAMESPACE = uuid.UUID("6f0b1f5e-2f7a-4d59-9a38-6d2c1b0c9e11")
MAX_KEY = 256
MAX_DATA = 32
_NOT_DATA = frozenset({"trigger", "customer_id", "local_date"})  # placeholders only, not deep-link data


def fill(template: str, values: Mapping[str, ParamValue]) -> str:
    """{name} replaced by values[name] (None as empty); anything else kept as written."""
    out: list[str] = []
    for literal, name, _spec, _conv in _FORMATTER.parse(template):
        out.append(literal)
        if name is not None:
            value = values.get(name)
            out.append("" if value is None else str(value))
    return "".join(out)


def dedup_key(template: str, values: Mapping[str, ParamValue]) -> str:
    return fill(template, values)[:MAX_KEY] or "-"


def key_digest(key: str) -> str:
    """Fixed-width token for the de-duplication ledger (the key itself may be 256 characters)."""
    return hashlib.blake2b(key.encode("utf-8"), digest_size=9).hexdigest()


def notification_id(customer_id: str, trigger_id: str, key: str, cause: str) -> str:
    """Deterministic: a record processed twice (a crash, a rebalance) makes the same id."""
    return str(uuid.uuid5(NAMESPACE, f"{customer_id}\x00{trigger_id}\x00{key}\x00{cause}"))


def _flat(values: Mapping[str, Any]) -> dict[str, str | int | float | bool]:
    out: dict[str, str | int | float | bool] = {}
    for name, value in sorted(values.items()):
        if value is None or not isinstance(value, str | int | float | bool) or len(out) >= MAX_DATA:
            continue
        out[name[:64]] = value[:512] if isinstance(value, str) else value
    return out


def notification_record(policy: Policy, locale: str | None, customer_id: str, nid: str, trigger_id: str,
                        situation: str, channel: str, key: str, title_key: str, body_key: str,
                        values: Mapping[str, ParamValue], data: Mapping[str, ParamValue], created_ms: int,
                        expires_ms: int, sent_ms: int, not_before_ms: int | None) -> dict[str, Any]:
    """The record the delivery systems consume."""
    chain = locale_chain(policy, locale)
    title = text(policy, chain, title_key, values) or trigger_id
    body = text(policy, chain, body_key, values) or title
    record: dict[str, Any] = {
        "notification_id": nid,
        "customer_id": customer_id,
        "trigger": trigger_id,
        "situation": situation,
        "channel": channel,
        "dedup_key": key,
        "created_at": format_rfc3339_ms(created_ms),
        "sent_at": format_rfc3339_ms(sent_ms),
        "expires_at": format_rfc3339_ms(expires_ms),
        "locale": chain[0],
        "title": title[:200],
        "body": body[:2000],
        "data": _flat({**{k: v for k, v in values.items() if k not in _NOT_DATA}, **data}),
        "policy_version": policy.version,
    }
    if not_before_ms is not None:
        record["not_before"] = format_rfc3339_ms(not_before_ms)
    return record
