"""Core layer: an incentive shown on a screen, counted against her contact budget from the
decision's audit record (kairos.decisions.v1), once per decision_id however often the record is
delivered: the contact row ["s", decided_at, decision_id, "screen", incentive_id, null]."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from service.core.state import new_state
from service.core.state_merge import cap_contacts
from service.core.timeutil import parse_rfc3339_ms


def shown_incentive(record: Mapping[str, Any]) -> tuple[str, str, int] | None:
    """(decision_id, incentive_id, decided_at_ms) of a decision record that showed one, else None."""
    decision = record.get("decision")
    if not isinstance(decision, Mapping):
        return None
    incentive = decision.get("incentive")
    if not isinstance(incentive, Mapping) or not isinstance(incentive.get("id"), str):
        return None
    decision_id, decided = decision.get("decision_id"), decision.get("decided_at")
    if not isinstance(decision_id, str) or not isinstance(decided, str):
        return None
    try:
        return decision_id, incentive["id"], parse_rfc3339_ms(decided)
    except ValueError:
        return None


def count_incentive(state: Mapping[str, Any] | None, customer_id: str, shown: tuple[str, str, int],
                    max_contacts: int) -> dict[str, Any] | None:
    """Her state with the contact counted, or None when it already is (a redelivered record)."""
    decision_id, incentive_id, t_ms = shown
    base = dict(state) if state is not None else new_state(customer_id)
    contacts = list(base.get("contacts", ()))
    if any(r[0] == "s" and r[2] == decision_id for r in contacts):
        return None
    base["contacts"] = cap_contacts([["s", t_ms, decision_id, "screen", incentive_id, None], *contacts],
                                    max_contacts)
    return base
