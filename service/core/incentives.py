"""Core layer: at most one incentive per screen — the highest-priority one that is offered on the
screen channel, eligible in this context, allowed by the screen, and within her contact budget.

Every incentive passed over gets a reason (not eligible: the first condition that failed;
excluded by the screen; over a cap: which one and when it is next allowed), so a marketer can
see why the banner did not show.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from service.core.budget import Contact, check
from service.core.policy.conditions import describe, first_failure
from service.core.policy.model import Policy, Screen
from service.core.policy.texts import text
from service.core.situations.context import Context
from service.core.timeutil import format_rfc3339_ms

SCREEN = "screen"


def choose_incentive(
    policy: Policy,
    screen: Screen,
    ctx: Context,
    contacts: Sequence[Contact],
    chain: tuple[str, ...],
    reasons: list[tuple[str, str]],
) -> dict[str, Any] | None:
    rules = screen.incentives
    if not rules.offer:
        if policy.incentives:
            reasons.append(("incentive.none", f"screen {screen.id} offers no incentive"))
        return None
    for inc in policy.incentives:  # highest priority first
        if SCREEN not in inc.channels:
            continue
        failed = first_failure(inc.when, ctx.facts)
        if failed is not None:
            reasons.append(("incentive.not_eligible", f"{inc.id}: {describe(failed)} does not hold"))
            continue
        if inc.kind in rules.exclude_kinds or (rules.kinds is not None and inc.kind not in rules.kinds):
            reasons.append(("incentive.excluded_by_screen",
                            f"{inc.id}: eligible, but screen {screen.id} does not show {inc.kind} incentives"))
            continue
        verdict = check(contacts, SCREEN, inc.id, None, policy.budget, ctx.local.time_zone, ctx.now_ms, inc.caps)
        if not verdict.allowed:
            nxt = ""
            if verdict.next_allowed_ms is not None:
                nxt = f"; next allowed {format_rfc3339_ms(verdict.next_allowed_ms)}"
            reasons.append(("incentive.over_budget", f"{inc.id}: {verdict.detail}{nxt}"))
            continue
        offered: dict[str, Any] = {"id": inc.id, "kind": inc.kind}
        if inc.value is not None:
            offered["value"] = inc.value
        for field, key in (("title", inc.title), ("text", inc.text)):
            found = text(policy, chain, key)
            if found is not None:
                offered[field] = found[:512]
        why = f"priority {inc.priority}; " + (", ".join(describe(c) for c in inc.when.conditions) or "always")
        offered["reason"] = why[:512]
        reasons.append(("incentive.offered", f"{inc.id}: {why}"))
        return offered
    return None
