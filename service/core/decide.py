"""Core layer: one whole-screen decision from state, request, reference data and policy (pure)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from service.core import state_read as read
from service.core.policy import DEFAULT_LIMIT
from service.core.reference import ReferenceData
from service.core.timeutil import format_rfc3339_ms

MAX_REASONS = 50
MAX_DETAIL = 512
MAX_NAME = 256
_VIEWS_SCANNED = 50  # the most last_seen can hold (StateConfig.max_views)
# Sources whose items are dropped when stock is known and zero in every store and online.
_STOCK_FILTERED = frozenset({"last_seen", "bestsellers", "recently_scanned"})


@dataclass(frozen=True, slots=True)
class Situation:
    """What decide derived about the customer's situation at now_ms."""

    placement: str
    device_type: str
    cold_start: bool
    located: bool
    store_id: str | None
    geofence_id: str | None
    store_seen_ms: int | None


def _store_of(presence: read.StorePresence, ref: ReferenceData) -> str | None:
    if presence.store_id is not None:
        return presence.store_id
    return presence.geofence_id if presence.geofence_id in ref.stores else None


def derive_situation(
    state: Mapping[str, Any] | None,
    request: Mapping[str, Any],
    ref: ReferenceData,
    policy: Mapping[str, Any],
    now_ms: int,
) -> Situation:
    """In store = inside a store geofence confirmed within policy in_store_max_age_ms;
    located = the request carries a location or a fix is within located_max_age_ms."""
    store_id = geofence_id = seen_ms = None
    located = request.get("location") is not None
    if state is not None:
        for presence in read.store_presence(state, now_ms, policy["in_store_max_age_ms"]):
            store_id = _store_of(presence, ref)
            if store_id is not None:
                geofence_id, seen_ms = presence.geofence_id, presence.last_seen_ms
                break
        fix = read.last_location(state)
        located = located or (fix is not None and fix.t_ms >= now_ms - policy["located_max_age_ms"])
    return Situation(
        placement=request["placement"],
        device_type=request["device"]["type"],
        cold_start=state is None,
        located=located,
        store_id=store_id,
        geofence_id=geofence_id,
        store_seen_ms=seen_ms,
    )


def _matches(when: Mapping[str, Any], s: Situation) -> bool:
    facts = {"in_store": s.store_id is not None, "located": s.located, "cold_start": s.cold_start}
    if "placements" in when and s.placement not in when["placements"]:
        return False
    if "device_types" in when and s.device_type not in when["device_types"]:
        return False
    return all(when[k] == v for k, v in facts.items() if k in when)


def _describe(screen_id: str, s: Situation, now_ms: int) -> str:
    detail = (
        f"{screen_id}: placement {s.placement}, device {s.device_type}, "
        f"in_store={s.store_id is not None}, located={s.located}, cold_start={s.cold_start}"
    )
    if s.store_id is not None and s.store_seen_ms is not None:
        age_s = max(now_ms - s.store_seen_ms, 0) // 1000
        detail += f"; inside store {s.store_id} (geofence {s.geofence_id}) confirmed {age_s} s before"
    return detail


def _store_picks(state: Mapping[str, Any] | None, ref: ReferenceData, store_id: str, reserve: int) -> Iterator[str]:
    """Her wishlist and viewed products in stock here (in her size), promoted ones, the rest."""
    wished = dict(read.wishlist_items(state)) if state is not None else {}
    personal = [*wished, *(read.last_seen(state, _VIEWS_SCANNED) if state is not None else [])]

    def her_size(pid: str) -> str | None:
        if wished.get(pid) is not None:
            return wished[pid]
        category = (ref.products.get(pid) or {}).get("category")
        return read.size_for(state, category) if state is not None and category else None

    promoted = ref.promoted_ids()
    for pid in [*personal, *promoted]:
        if ref.in_stock_at(store_id, pid, her_size(pid)):
            yield pid
    # Any size; enough ids that repeats of the ones above cannot leave the block short.
    yield from ref.products_in_stock_at(store_id, reserve + len(personal) + len(promoted))


def _candidates(
    source: str, state: Mapping[str, Any] | None, ref: ReferenceData, s: Situation, reserve: int
) -> Iterator[str]:
    if source == "bestsellers":
        yield from ref.bestseller_ids()
    elif source == "store_picks" and s.store_id is not None:
        yield from _store_picks(state, ref, s.store_id, reserve)
    elif state is None:
        return
    elif source == "last_seen":
        yield from read.last_seen(state, _VIEWS_SCANNED)
    elif source == "wishlist":
        yield from (pid for pid, _size in read.wishlist_items(state))
    elif source == "recently_scanned":
        yield from read.recently_scanned(state, _VIEWS_SCANNED)


def _ids(ids: Sequence[str]) -> str:
    shown = ", ".join(ids[:10])
    return shown if len(ids) <= 10 else f"{shown} (+{len(ids) - 10} more)"


def _fill_block(
    spec: Mapping[str, Any],
    state: Mapping[str, Any] | None,
    ref: ReferenceData,
    s: Situation,
    placed: set[str],
    reasons: list[tuple[str, str]],
) -> dict[str, Any] | None:
    source, block_id = spec["source"], spec["id"]
    if source == "scan_prompt":
        return {"id": block_id, "kind": spec["kind"], "items": []}
    limit = spec.get("limit", DEFAULT_LIMIT)
    items: list[dict[str, Any]] = []
    dropped: list[str] = []
    repeated: list[str] = []
    considered: set[str] = set()  # a source may offer one product twice; count it once
    for pid in _candidates(source, state, ref, s, limit + len(placed)):
        if pid in considered:
            continue
        considered.add(pid)
        if pid in placed:
            repeated.append(pid)
            continue
        if source in _STOCK_FILTERED and ref.in_stock_anywhere(pid) is False:
            dropped.append(pid)
            continue
        name = ref.product_name(pid)
        items.append({"product_id": pid, "name": name[:MAX_NAME]} if name else {"product_id": pid})
        placed.add(pid)
        if len(items) >= limit:
            break
    if dropped:
        reasons.append(("filtered_out_of_stock", f"{block_id}: {_ids(dropped)}"))
    if repeated:
        reasons.append(("deduplicated", f"{block_id}: already on screen: {_ids(repeated)}"))
    if source == "bestsellers" and items and not ref.promoted_ids():
        reasons.append(("bestsellers_fallback", f"{block_id}: no promoted products, catalogue by id"))
    if not items:
        reasons.append(("block_empty", f"{block_id}: nothing to show, block omitted"))
        return None
    return {"id": block_id, "kind": spec["kind"], "items": items}


_FALLBACK_SCREEN: Mapping[str, Any] = {
    "id": "home",
    "when": {},
    "blocks": [{"id": "bestsellers", "source": "bestsellers", "kind": "grid", "limit": DEFAULT_LIMIT}],
}


def decide(
    state: Mapping[str, Any] | None,
    request: Mapping[str, Any],
    ref: ReferenceData,
    policy: Mapping[str, Any],
    now_ms: int,
    decision_id: str,
    degraded_reasons: Sequence[str] = (),
) -> dict[str, Any]:
    """Decide one screen for a schema-valid request; deterministic except for decision_id.

    `state` None means an unknown customer (cold start); `policy` must have passed
    validate_policy. `degraded_reasons` (e.g. "state_unavailable") are passed through and set
    `degraded`. Returns the POST /v1/decisions response body.
    """
    return decide_with_context(state, request, ref, policy, now_ms, decision_id, degraded_reasons)[0]


def decide_with_context(
    state: Mapping[str, Any] | None,
    request: Mapping[str, Any],
    ref: ReferenceData,
    policy: Mapping[str, Any],
    now_ms: int,
    decision_id: str,
    degraded_reasons: Sequence[str] = (),
) -> tuple[dict[str, Any], dict[str, Any]]:
    """decide(), plus the summary of the situation it saw, for the audit record's `context`."""
    situation = derive_situation(state, request, ref, policy, now_ms)
    reasons: list[tuple[str, str]] = []
    if situation.cold_start:
        reasons.append(("cold_start", "nothing known about this customer yet"))
    screen = next((sc for sc in policy["screens"] if _matches(sc.get("when", {}), situation)), None)
    if screen is None:
        reasons.append(("no_rule_matched", "no policy screen matched; default home screen"))
        screen = _FALLBACK_SCREEN
    else:
        reasons.append(("screen_rule", _describe(screen["id"], situation, now_ms)))
    placed: set[str] = set()
    blocks = [
        block
        for spec in screen["blocks"]
        if (block := _fill_block(spec, state, ref, situation, placed, reasons)) is not None
    ]
    updated = state.get("updated_at_ms") if state is not None else None
    context = {
        "device_type": situation.device_type,
        "in_store_id": situation.store_id,
        "geofences": [] if situation.geofence_id is None else [situation.geofence_id],
    }
    return {
        "decision_id": decision_id,
        "customer_id": request["customer_id"],
        "placement": request["placement"],
        "screen": screen["id"],
        "blocks": blocks,
        "incentive": None,
        "reasons": [{"code": code, "detail": detail[:MAX_DETAIL]} for code, detail in reasons[:MAX_REASONS]],
        "state_as_of": None if updated is None else format_rfc3339_ms(updated),
        "degraded": bool(degraded_reasons),
        "degraded_reasons": [r[:128] for r in degraded_reasons[:20]],
        "policy_version": policy["version"],
        "decided_at": format_rfc3339_ms(now_ms),
        "cold_start": situation.cold_start,
    }, context


def decision_record(request: Mapping[str, Any], decision: Mapping[str, Any], context: Mapping[str, Any],
                    latency_s: float | None = None) -> dict[str, Any]:
    """The audit record written to the decisions topic (schemas/decision_record.schema.json)."""
    record: dict[str, Any] = {"v": 1, "request": dict(request), "decision": dict(decision), "context": dict(context)}
    if latency_s is not None:
        record["latency_s"] = latency_s
    return record
