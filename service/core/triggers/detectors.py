"""Core layer: the stream detectors a policy trigger names in `situation` — each looks at one
Moment and returns the messages the situation calls for.

Detectors fire when a situation *arises* (it does not hold before the record and holds after,
both at the same now_ms; motion is compared with what it was at her previous fix, so a move that
becomes a commute when the commute window opens counts), not on every record while it lasts: a
walk past a store is one pass, not one message per GPS fix. Each returns at most a few candidates; the planner
(service.core.triggers.outbox) applies consent, the trigger's `when`, de-duplication and the
contact budget.

- wishlist_item_near_store: she arrives near (or in) a store, or wishes an item while near one,
  and a wished item is in stock there in her size (wished size, else hers for the category).
  One message per store per pass: the newest wished item she has not had a message for.
  Needs her distance to the store (a recent fix or the geofence event's location).
- post_order_outfit: she starts moving (or her move becomes a commute) with an order within
  recent_order_s whose products have complements (goes_with) in stock in her size.
- loyalty_close: a loyalty update makes her close to the next tier (or to a new next tier).
- back_in_stock: a stock change routed to her (Moment.restock) for a product on her wishlist,
  in her size.
- store_recommendation: an online-only customer with a usual area places an online order or
  sets her home area: the nearest store to that area, within area_store_radius_m, OPEN at
  now_ms (its opening hours say so; unknown hours are never recommended by message), with new
  arrivals in her top categories in stock there in her size.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from service.core import catalog
from service.core import events as ev
from service.core.policy.model import Trigger
from service.core.situations import geo
from service.core.situations.context import Context
from service.core.situations.customer import detect_loyalty
from service.core.situations.facts import record
from service.core.triggers.model import Candidate, ParamValue
from service.core.triggers.moment import Moment
from service.core.triggers.render import dedup_key

AlreadySent = Callable[[str], bool]
Detector = Callable[[Moment, Trigger, AlreadySent], list[Candidate]]

MAX_STORES = 3
FENCE_REACH_M = 2_000.0  # a store's own fence reaches at most this far from its point
MAX_ITEMS = 6
_MOVES = frozenset({ev.LOCATION_UPDATED, ev.GEOFENCE_ENTERED, ev.GEOFENCE_DWELLED})


def rounded_m(distance_m: float) -> int:
    """Distances in messages are rounded to 10 m ("250 m away")."""
    return int(round(distance_m / 10.0) * 10)


def _common(m: Moment, trigger: Trigger) -> dict[str, ParamValue]:
    return {"trigger": trigger.id, "customer_id": m.customer_id, "local_date": m.ctx.local.date}


def _wished(state: Mapping[str, Any]) -> list[tuple[str, str | None]]:
    rows = sorted(((r[1], pid, r[0]) for pid, r in state["wishlist"].items() if r[2]), reverse=True)
    return [(pid, size) for _t, pid, size in rows]


def _size(ctx: Context, m: Moment, pid: str, wished: str | None) -> str | None:
    if wished is not None:
        return wished
    product = m.ref.products.get(pid)
    return None if product is None else ctx.size_for(str(product.get("category")))


def _name(m: Moment, pid: str) -> str:
    return m.ref.product_name(pid) or pid


def _event_distance(m: Moment, store_id: str) -> float | None:
    store = m.ref.stores.get(store_id) or {}
    loc = store.get("location")
    if not isinstance(loc, Mapping):
        return None
    for e in reversed(m.events):
        where = e.get("location")
        if e.get("type") in _MOVES and isinstance(where, Mapping) and e.get("store_id") in (store_id, None):
            return geo.distance_m((where["lat"], where["lon"]), (loc["lat"], loc["lon"]))
    return None


def _far_from_every_store(m: Moment) -> bool:
    """Only raw positions in the record, none of them anywhere near a store (a cheap bound: the
    approach radius plus FENCE_REACH_M for a store's own fence): nothing to detect."""
    if m.types - {ev.LOCATION_UPDATED}:
        return False
    reach = m.policy.situations.approach_radius_m + FENCE_REACH_M
    points = [(e["location"]["lat"], e["location"]["lon"]) for e in m.events if e.get("type") == ev.LOCATION_UPDATED]
    for store in m.ref.stores.values():
        loc = store.get("location")
        if isinstance(loc, Mapping) and any(geo.roughly_within(p, (loc["lat"], loc["lon"]), reach) for p in points):
            return False
    return True


def wishlist_item_near_store(m: Moment, trigger: Trigger, already_sent: AlreadySent) -> list[Candidate]:
    if not m.types & (_MOVES | {ev.WISHLIST_ADDED}):
        return []
    wished = _wished(m.state)
    if not wished or _far_from_every_store(m):
        return []
    ctx = m.ctx
    here = [s for s in (ctx.stores.in_store, *ctx.stores.near) if s is not None]
    if not here:
        return []
    moved = bool(m.types & _MOVES)
    earlier = m.stores_before
    before = set() if earlier is None else {s.store_id for s in (earlier.in_store, *earlier.near) if s is not None}
    added = {str(e["product_id"]) for e in m.events if e.get("type") == ev.WISHLIST_ADDED}
    out: list[Candidate] = []
    for status in here[:MAX_STORES]:
        fresh = moved and status.store_id not in before
        items = [(pid, size) for pid, size in wished if fresh or pid in added]
        distance = status.distance_m if status.distance_m is not None else _event_distance(m, status.store_id)
        if not items or distance is None:
            continue
        store_name = str((m.ref.stores.get(status.store_id) or {}).get("name") or status.store_id)
        options: list[dict[str, ParamValue]] = []
        for pid, wished_size in items:
            size = _size(ctx, m, pid, wished_size)
            if catalog.in_stock(m.ref, pid, size, where=status.store_id):
                options.append({**_common(m, trigger), "product_id": pid, "product_name": _name(m, pid),
                                "size": size, "store_id": status.store_id, "store_name": store_name,
                                "distance_m": rounded_m(distance)})
        if not options:
            continue
        chosen = next((p for p in options if not already_sent(dedup_key(trigger.dedup_key, p))), options[0])
        out.append(Candidate(trigger, chosen, m.last_event_id(), {"in_store": status.status == "in"}))
    return out


def _pieces(m: Moment, ctx: Context, product_ids: Sequence[str]) -> tuple[str | None, list[str]]:
    bought = set(product_ids)
    for pid in product_ids:
        goes = [p for p in (m.ref.products.get(pid) or {}).get("goes_with", ()) if p not in bought]
        stocked = [p for p in goes if catalog.in_stock(m.ref, p, _size(ctx, m, p, None))]
        if stocked:
            return pid, stocked[:MAX_ITEMS]
    return None, []


def post_order_outfit(m: Moment, trigger: Trigger, already_sent: AlreadySent) -> list[Candidate]:
    orders = m.state["orders"]
    if ev.LOCATION_UPDATED not in m.types or not orders:
        return []
    if m.now_ms - orders[0][1] > m.policy.situations.recent_order_ms:
        return []
    motion = m.motion
    earlier = m.motion_before
    arises = motion.on_the_move and (earlier is None or not earlier.on_the_move
                                     or (motion.commuting and not earlier.commuting))
    if not arises:
        return []
    ctx = m.ctx
    if ctx.order is None:
        return []
    pid, items = _pieces(m, ctx, ctx.order.product_ids)
    if pid is None:
        return []
    params: dict[str, ParamValue] = {**_common(m, trigger), "order_id": ctx.order.order_id, "product_id": pid,
                                     "product_name": _name(m, pid)}
    return [Candidate(trigger, params, m.last_event_id(), {"items": ",".join(items)})]


def loyalty_close(m: Moment, trigger: Trigger, already_sent: AlreadySent) -> list[Candidate]:
    if ev.LOYALTY_UPDATED not in m.types:
        return []
    cfg = m.policy.situations
    now = detect_loyalty(m.state, cfg)
    if now is None or not now.close:
        return []
    then = detect_loyalty(record(m.before), cfg)
    if then is not None and then.close and then.next_tier == now.next_tier:
        return []
    params: dict[str, ParamValue] = {**_common(m, trigger), "tier": now.tier, "next_tier": now.next_tier,
                                     "points": now.points, "points_to_next": now.points_to_next}
    return [Candidate(trigger, params, m.last_event_id())]


def back_in_stock(m: Moment, trigger: Trigger, already_sent: AlreadySent) -> list[Candidate]:
    restock = m.restock
    if restock is None:
        return []
    pid = str(restock["product_id"])
    row = m.state["wishlist"].get(pid)
    if row is None or not row[2]:
        return []
    size = _size(m.ctx, m, pid, row[0])
    restocked = restock.get("size") or None
    if restocked is not None and size is not None and restocked != size:
        return []
    store_id = str(restock["store_id"])
    store_name = str((m.ref.stores.get(store_id) or {}).get("name") or store_id)
    params: dict[str, ParamValue] = {**_common(m, trigger), "product_id": pid, "product_name": _name(m, pid),
                                     "size": restocked or size, "store_id": store_id, "store_name": store_name}
    return [Candidate(trigger, params, str(restock["event_id"]), {"quantity": restock.get("quantity")})]


def _arrivals(m: Moment, ctx: Context, store_id: str) -> list[str]:
    since = m.now_ms - m.policy.ranking.new_arrival_ms
    top = set(ctx.affinities.top_categories(3))
    found = catalog.new_arrivals(m.ref, since, m.now_ms, m.ref.products_in_stock_at(store_id, 500))
    return [p for p in found if (not top or m.ref.products[p]["category"] in top)
            and catalog.in_stock(m.ref, p, _size(ctx, m, p, None), where=store_id)]


def store_recommendation(m: Moment, trigger: Trigger, already_sent: AlreadySent) -> list[Candidate]:
    online_order = any(e.get("type") == ev.ORDER_PLACED and e.get("channel") == "online" for e in m.events)
    home_set = any(e.get("type") == ev.PROFILE_UPDATED and e.get("home_area") for e in m.events)
    if not (online_order or home_set):
        return []
    ctx = m.ctx
    area = ctx.channel.usual_area
    if ctx.channel.kind != "online_only" or area is None:
        return []
    radius = m.policy.situations.area_store_radius_m
    nearby: list[tuple[float, str]] = []
    for sid, store in m.ref.stores.items():
        loc = store.get("location")
        if not isinstance(loc, Mapping) or geo.surely_farther(area, (loc["lat"], loc["lon"]), radius):
            continue
        distance = geo.distance_m(area, (loc["lat"], loc["lon"]))
        if distance <= radius:
            nearby.append((distance, sid))
    for distance, sid in sorted(nearby):
        if m.ref.is_open(sid, m.now_ms) is not True:
            continue
        arrivals = _arrivals(m, ctx, sid)
        if not arrivals:
            continue
        params: dict[str, ParamValue] = {**_common(m, trigger), "store_id": sid,
                                         "store_name": str(m.ref.stores[sid].get("name") or sid),
                                         "distance_m": rounded_m(distance)}
        return [Candidate(trigger, params, m.last_event_id(), {"new_arrivals": ",".join(arrivals[:MAX_ITEMS])})]
    return []


DETECTORS: Mapping[str, Detector] = {
    "wishlist_item_near_store": wishlist_item_near_store,
    "post_order_outfit": post_order_outfit,
    "loyalty_close": loyalty_close,
    "back_in_stock": back_in_stock,
    "store_recommendation": store_recommendation,
}


def detect(m: Moment, already_sent: AlreadySent) -> list[Candidate]:
    """Every candidate of every policy trigger for this moment, in policy order."""
    out: list[Candidate] = []
    for trigger in m.policy.triggers:
        out.extend(DETECTORS[trigger.situation](m, trigger, already_sent))
    return out
