"""Core layer: one whole-screen decision from state, request, reference data and policy (pure).

derive_context (every situation) -> the first policy screen whose conditions hold -> its blocks
in order, each filled by its source under the shared rules (service.core.blocks) -> at most one
incentive (service.core.incentives) -> texts in her locale's chain. Deterministic: the same
state, request, reference data, policy and now_ms give the same answer but for decision_id.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from service.core.blocks import Fill, finish
from service.core.budget import sent_contacts
from service.core.incentives import choose_incentive
from service.core.policy import Policy, load_policy
from service.core.policy.conditions import describe, describe_when, first_failure
from service.core.policy.model import BlockSpec, Screen, When
from service.core.policy.texts import locale_chain, text
from service.core.reference import ReferenceData
from service.core.situations.context import Context, derive_context
from service.core.situations.facts import record
from service.core.sources import (
    Inputs,
    back_in_stock,
    bestsellers,
    last_seen,
    new_arrivals_for_you,
    outfit_for_order,
    recently_scanned,
    store_mode_picks,
    themes_block,
    wishlist,
)
from service.core.sources_product import (
    goes_with,
    goes_with_in_store,
    nearby_availability,
    other_colours_sizes,
    product_details,
    resume_session,
    scan_prompt,
    store_recommendation,
)
from service.core.timeutil import format_rfc3339_ms

MAX_REASONS = 50
MAX_DETAIL = 512

SOURCES = {
    "last_seen": last_seen, "recently_scanned": recently_scanned, "wishlist": wishlist,
    "back_in_stock": back_in_stock, "new_arrivals_for_you": new_arrivals_for_you, "bestsellers": bestsellers,
    "themes": themes_block, "outfit_for_order": outfit_for_order, "store_mode_picks": store_mode_picks,
    "product_details": product_details, "other_colours_sizes": other_colours_sizes,
    "nearby_availability": nearby_availability, "goes_with_in_store": goes_with_in_store, "goes_with": goes_with,
    "store_recommendation": store_recommendation, "resume_session": resume_session, "scan_prompt": scan_prompt,
}

_FALLBACK_BLOCK = BlockSpec("bestsellers", "bestsellers", "grid", 10)
_FALLBACK = Screen("home", "home", When(), ("bestsellers",))


def _screen(policy: Policy, ctx: Context, reasons: list[tuple[str, str]]) -> Screen:
    skipped: list[str] = []
    for screen in policy.screens:
        failed = first_failure(screen.when, ctx.facts)
        if failed is None:
            if skipped:
                reasons.append(("screen.skipped", "; ".join(skipped)))
            reasons.append(("screen.matched", f"{screen.id} (layout {screen.layout}): {describe_when(screen.when)}"))
            return screen
        skipped.append(f"{screen.id}: {describe(failed)} does not hold")
    reasons.append(("screen.no_rule_matched", "no policy screen matched; built-in fallback home screen"))
    return _FALLBACK


def _block(spec: BlockSpec, inp: Inputs, chain: tuple[str, ...], placed: set[str],
           reasons: list[tuple[str, str]]) -> dict[str, Any] | None:
    kind, limit, title, themes = spec.kind, spec.limit, spec.title, spec.themes
    for i, variant in enumerate(spec.variants):
        if first_failure(variant.when, inp.ctx.facts) is None:
            kind, limit = variant.kind or kind, variant.limit or limit
            title = variant.title or title
            themes = variant.themes if variant.themes is not None else themes
            reasons.append(("block.variant", f"{spec.id}: variant {i} ({describe_when(variant.when)})"))
            break
    fill: Fill = SOURCES[spec.source](inp, themes)
    return finish(spec, kind, limit, text(inp.policy, chain, title), fill, inp.ctx, inp.ref, inp.policy, placed,
                  reasons)


def _context_summary(ctx: Context) -> dict[str, Any]:
    here = ctx.stores.position
    resume = ctx.session.resume
    return {
        "local_time": ctx.local.iso,
        "time_zone": ctx.local.time_zone,
        "daypart": ctx.local.daypart,
        "device_type": ctx.facts["device"],
        "in_store_id": ctx.store_id,
        "near_store_ids": [s.store_id for s in ctx.stores.near][:50],
        "geofences": [] if ctx.stores.in_store is None else list(ctx.stores.in_store.geofence_ids)[:50],
        "on_the_move": ctx.motion.on_the_move,
        "commuting": ctx.motion.commuting,
        "location_age_s": None if here is None else max(ctx.now_ms - here.t_ms, 0) / 1000,
        "weather_condition": ctx.weather.condition,
        "temperature_c": ctx.weather.temperature_c,
        "loyalty_tier": None if ctx.loyalty is None else ctx.loyalty.tier,
        "resumable_session_id": None if resume is None else resume.session_id,
        "channel_history": ctx.channel.kind,
    }


def _reasons(reasons: list[tuple[str, str]]) -> list[dict[str, str]]:
    if len(reasons) > MAX_REASONS:
        dropped = len(reasons) - MAX_REASONS + 1
        reasons = [*reasons[: MAX_REASONS - 1], ("reasons.truncated", f"{dropped} more reasons left out")]
    return [{"code": code, "detail": detail[:MAX_DETAIL]} for code, detail in reasons]


def decide(
    state: Mapping[str, Any] | None,
    request: Mapping[str, Any],
    ref: ReferenceData,
    policy: Policy | Mapping[str, Any],
    now_ms: int,
    decision_id: str,
    degraded_reasons: Sequence[str] = (),
) -> dict[str, Any]:
    """Decide one screen for a schema-valid request; deterministic except for decision_id.

    `state` None means an unknown customer (cold start). `degraded_reasons` (e.g.
    "state_unavailable") are passed through and set `degraded`. Returns the POST /v1/decisions
    response body (schemas/decision_response.schema.json).
    """
    return decide_with_context(state, request, ref, policy, now_ms, decision_id, degraded_reasons)[0]


def decide_with_context(
    state: Mapping[str, Any] | None,
    request: Mapping[str, Any],
    ref: ReferenceData,
    policy: Policy | Mapping[str, Any],
    now_ms: int,
    decision_id: str,
    degraded_reasons: Sequence[str] = (),
) -> tuple[dict[str, Any], dict[str, Any]]:
    """decide(), plus the summary of the situation it saw, for the audit record's `context`."""
    compiled = load_policy(policy)
    ctx = derive_context(state, request, ref, compiled.situations, now_ms)
    reasons: list[tuple[str, str]] = []
    if ctx.cold_start:
        reasons.append(("cold_start", "nothing known about this customer yet"))
    screen = _screen(compiled, ctx, reasons)
    reasons.extend(ctx.reasons)
    chain = locale_chain(compiled, ctx.requested_locale)
    inp = Inputs(ctx, record(state), ref, compiled)
    placed: set[str] = set()
    blocks = []
    for block_id in screen.blocks:
        spec = compiled.blocks.get(block_id, _FALLBACK_BLOCK)
        block = _block(spec, inp, chain, placed, reasons)
        if block is not None:
            blocks.append(block)
    incentive = choose_incentive(compiled, screen, ctx, sent_contacts(state), chain, reasons)
    updated = None if state is None else state.get("updated_at_ms")
    decision = {
        "decision_id": decision_id,
        "customer_id": request["customer_id"],
        "placement": request["placement"],
        "screen": screen.id,
        "layout": screen.layout,
        "locale": chain[0],
        "blocks": blocks,
        "incentive": incentive,
        "reasons": _reasons(reasons),
        "state_as_of": None if updated is None else format_rfc3339_ms(updated),
        "degraded": bool(degraded_reasons),
        "degraded_reasons": [r[:128] for r in degraded_reasons[:20]],
        "policy_version": compiled.version,
        "decided_at": format_rfc3339_ms(now_ms),
        "cold_start": ctx.cold_start,
    }
    return decision, _context_summary(ctx)


def decision_record(request: Mapping[str, Any], decision: Mapping[str, Any], context: Mapping[str, Any],
                    latency_s: float | None = None) -> dict[str, Any]:
    """The audit record written to the decisions topic (schemas/decision_record.schema.json)."""
    out: dict[str, Any] = {"v": 1, "request": dict(request), "decision": dict(decision), "context": dict(context)}
    if latency_s is not None:
        out["latency_s"] = latency_s
    return out
