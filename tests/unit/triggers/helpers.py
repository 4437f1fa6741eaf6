"""Builders for the trigger tests: Anna's state before and after one record, and the moment."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from service.core.policy.model import Policy
from service.core.reference import ReferenceData
from service.core.state import CustomerState, apply_event
from service.core.timeutil import parse_rfc3339_ms
from service.core.triggers.detectors import detect
from service.core.triggers.model import Candidate
from service.core.triggers.moment import Moment
from service.core.triggers.outbox import Env, already_sent
from tests.unit.decide_fixtures import POLICY

CUSTOMER = "c-anna"


def after(state: CustomerState | None, *events: dict[str, Any]) -> CustomerState:
    out = state
    for e in events:
        out = apply_event(out, e, parse_rfc3339_ms(e["occurred_at"]) + 500).state
    assert out is not None
    return out


def moment(before: CustomerState | None, events: list[dict[str, Any]], ref: ReferenceData, now_ms: int,
           policy: Policy = POLICY, restock: Mapping[str, Any] | None = None) -> Moment:
    state = after(before, *events) if events else before
    return Moment(CUSTOMER, before, state, events, ref, policy, now_ms, restock)


def found(m: Moment) -> list[tuple[str, dict[str, Any]]]:
    """(trigger id, params without the common placeholders) of every candidate."""
    out = []
    for c in detect(m, lambda key: already_sent(m.after, key, m.policy, m.now_ms)):
        params = {k: v for k, v in c.params.items() if k not in ("trigger", "customer_id", "local_date")}
        out.append((c.trigger.id, params))
    return out


def candidates(m: Moment) -> list[Candidate]:
    return detect(m, lambda key: already_sent(m.after, key, m.policy, m.now_ms))


def env(m: Moment, now_ms: int | None = None) -> Env:
    ctx = m.ctx
    return Env(m.policy, CUSTOMER, ctx.local.time_zone, ctx.requested_locale,
               m.now_ms if now_ms is None else now_ms, ctx.facts)
