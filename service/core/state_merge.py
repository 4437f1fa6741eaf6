"""Core layer: how each customer event type merges into the per-customer state record.

Every handler gets a shallow copy of the record it may re-bind top-level keys on; nested
containers are never mutated in place (they may be shared with the caller's record), they are
rebuilt. Merges are order-independent within the grace window: lists are kept sorted by event
time, latest-wins fields compare event time and break ties deterministically.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from service.core import events as ev
from service.core.state_config import CustomerState, StateConfig

Row = list[Any]
Event = Mapping[str, Any]
Handler = Callable[[CustomerState, Event, int, StateConfig], None]

# Slots of an affinity row: raw interaction counts, then the event time of the last one.
AFFINITY_KINDS = ("views", "scans", "wishlist_adds", "cart_adds", "ordered_units", "clicks")
AFF_VIEW, AFF_SCAN, AFF_WISHLIST, AFF_CART, AFF_ORDER, AFF_CLICK = range(6)
AFF_LAST = len(AFFINITY_KINDS)


def _s(value: Any) -> str:
    """Sort/tie-break key for optional values (None sorts first)."""
    return "" if value is None else str(value)


def _newest(rows: Iterable[Row], key: Callable[[Row], Any], cap: int) -> list[Row]:
    return sorted(rows, key=key, reverse=True)[:cap]


def _cap_map(mapping: dict[str, Row], key: Callable[[str, Row], Any], cap: int) -> dict[str, Row]:
    if len(mapping) <= cap:
        return mapping
    keep = sorted(mapping.items(), key=lambda kv: key(kv[0], kv[1]), reverse=True)[:cap]
    return dict(keep)


def _wins(t: int, value: Any, old: Row | None) -> bool:
    """Latest-wins by event time; equal times resolve on the value so arrival order is moot."""
    return old is None or t > old[1] or (t == old[1] and repr(value) > repr(old[0]))


def touch_device(w: CustomerState, device_id: str, device_type: str | None, t: int, cfg: StateConfig) -> None:
    devices = dict(w["devices"])
    old = devices.get(device_id)
    if old is None:
        devices[device_id] = [device_type, t]
    else:
        keep_type = device_type is None or (old[0] is not None and t < old[1])
        devices[device_id] = [old[0] if keep_type else device_type, max(old[1], t)]
    w["devices"] = _cap_map(devices, lambda k, r: (r[1], k), cfg.max_devices)


def bump_affinity(w: CustomerState, product_id: str, slot: int, n: int, t: int, cfg: StateConfig) -> None:
    affinity = dict(w["affinity"])
    row = list(affinity.get(product_id) or [0] * len(AFFINITY_KINDS) + [t])
    row[slot] += n
    row[AFF_LAST] = max(row[AFF_LAST], t)
    affinity[product_id] = row
    w["affinity"] = _cap_map(affinity, lambda k, r: (r[AFF_LAST], k), cfg.max_affinity_products)


def _profile(w: CustomerState, e: Event, t: int, cfg: StateConfig) -> None:
    profile = dict(w["profile"])
    updates: list[tuple[str, Any]] = [(k, e[k]) for k in ("locale", "time_zone") if e.get(k) is not None]
    if e.get("home_area") is not None:
        updates.append(("home_area", [e["home_area"]["lat"], e["home_area"]["lon"]]))
    for channel, allowed in (e.get("consent") or {}).items():
        updates.append((f"consent.{channel}", allowed))
    for category, size in (e.get("sizes") or {}).items():
        updates.append((f"size.{category}", size))
    for key, value in updates:
        if _wins(t, value, profile.get(key)):
            profile[key] = [value, t]
    sizes = {k: r for k, r in profile.items() if k.startswith("size.")}
    if len(sizes) > cfg.max_profile_sizes:
        kept = _cap_map(sizes, lambda k, r: (r[1], k), cfg.max_profile_sizes)
        profile = {k: r for k, r in profile.items() if not k.startswith("size.") or k in kept}
    w["profile"] = profile


def _identity(w: CustomerState, e: Event, t: int, cfg: StateConfig) -> None:
    seen = {(kind, ident): ts for kind, ident, ts in w["identities"]}
    for kind, field in (("d", "device_id"), ("a", "anonymous_id")):
        ident = e.get(field)
        if ident is not None:
            seen[(kind, ident)] = max(t, seen.get((kind, ident), t))
    rows = [[kind, ident, ts] for (kind, ident), ts in seen.items()]
    w["identities"] = _newest(rows, lambda r: (r[2], r[0], r[1]), cfg.max_identities)
    if e.get("device_id") is not None:
        touch_device(w, e["device_id"], e.get("device_type"), t, cfg)


def _location(w: CustomerState, e: Event, t: int, cfg: StateConfig) -> None:
    loc = e["location"]
    row = [t, loc["lat"], loc["lon"], e.get("accuracy_m"), e.get("speed_mps")]
    rows = [*w["locations"], row]
    w["locations"] = _newest(rows, lambda r: (r[0], r[1], r[2], _s(r[3]), _s(r[4])), cfg.max_locations)


def _geofence(w: CustomerState, e: Event, t: int, cfg: StateConfig) -> None:
    # row: [entered_at, last_seen_at, exited_at, dwell_s, store_id, confirmed, arrived_at]; inside
    # while last_seen_at (latest enter/dwell) is later than exited_at. arrived_at is stamped by
    # stamp_geofence_arrival (rows written before it existed have 6 slots: arrival unknown).
    geofences = dict(w["geofences"])
    old = geofences.get(e["geofence_id"], [None, None, None, None, None, 0])
    entered, seen, exited, dwell, store, confirmed = old[:6]
    arrived = old[6] if len(old) > 6 else None
    kind = e["type"]
    if kind == ev.GEOFENCE_EXITED:
        exited = t if exited is None else max(exited, t)
    else:
        if seen is None or t > seen:
            arrived = None  # newer evidence: its own arrival is stamped next
        seen = t if seen is None else max(seen, t)
        if kind == ev.GEOFENCE_ENTERED:
            entered = t if entered is None else max(entered, t)
    if e.get("dwell_s") is not None:
        dwell = e["dwell_s"] if dwell is None else max(dwell, e["dwell_s"])
    if kind == ev.GEOFENCE_DWELLED or e.get("confidence") == 3:
        confirmed = 1
    if e.get("store_id") is not None:
        store = e["store_id"]
    elif store is None:
        store = e.get("external_id")  # provider's external id, when the store id is absent
    geofences[e["geofence_id"]] = [entered, seen, exited, dwell, store, confirmed, arrived]
    w["geofences"] = _cap_map(geofences, lambda k, r: (geofence_time(r), k), cfg.max_geofences)


def stamp_geofence_arrival(w: CustomerState, e: Event, t: int, received_at_ms: int) -> None:
    """Record when the evidence behind a geofence row's last_seen_at arrived (processing time).

    Why: a stale or replayed entry (occurred long before it arrived) must never put her in the
    store, and only the state is there at decision time. The arrival of the enter/dwell that set
    last_seen_at is kept; at equal event times the earliest arrival wins, so the result does
    not depend on the order in which redelivered copies arrive. Exits change nothing here.
    """
    if e["type"] == ev.GEOFENCE_EXITED:
        return
    row = w["geofences"].get(e["geofence_id"])
    if row is None or row[1] != t:
        return
    arrived = received_at_ms if row[6] is None else min(row[6], received_at_ms)
    w["geofences"] = {**w["geofences"], e["geofence_id"]: [*row[:6], arrived]}


def geofence_time(row: Row) -> int:
    """Event time of the latest enter, dwell or exit on a geofence row."""
    return max(x for x in (row[0], row[1], row[2], -1) if x is not None)


def _app_opened(w: CustomerState, e: Event, t: int, cfg: StateConfig) -> None:
    touch_device(w, e["device"]["id"], e["device"]["type"], t, cfg)


def session_time(row: Row) -> int:
    return max(row[3] if row[3] is not None else -1, row[4] if row[4] is not None else -1)


def _session(w: CustomerState, e: Event, t: int, cfg: StateConfig) -> None:
    # row: [session_id, device_id, device_type, started_at, ended_at, outcome, screen_state]
    device = e["device"]
    by_id = {r[0]: r for r in w["sessions"]}
    sid, dev_id, dev_type, started, ended, outcome, screen = by_id.get(
        e["session_id"], [e["session_id"], device["id"], device["type"], None, None, None, None]
    )
    if e["type"] == ev.SESSION_STARTED:
        started = t if started is None else min(started, t)
    else:  # latest end wins; equal times resolve on the values, not on arrival order
        new_end = (t, e["outcome"], repr(e.get("screen_state")))
        if ended is None or new_end > (ended, outcome, repr(screen)):
            ended, outcome, screen = t, e["outcome"], e.get("screen_state")
    by_id[sid] = [sid, dev_id, dev_type, started, ended, outcome, screen]
    rows = _newest(by_id.values(), lambda r: (session_time(r), r[0]), cfg.max_sessions)
    # Each screen_state may be 4 KiB: keep it on the sessions that ended last only (the ones
    # worth resuming). Ranking by end time keeps the result independent of arrival order.
    with_screen = sorted(
        (i for i, r in enumerate(rows) if r[6] is not None),
        key=lambda i: (rows[i][4], rows[i][0]),
        reverse=True,
    )
    for i in with_screen[cfg.max_screen_states :]:
        rows[i] = [*rows[i][:6], None]
    w["sessions"] = rows
    touch_device(w, device["id"], device["type"], t, cfg)


def _viewed(w: CustomerState, e: Event, t: int, cfg: StateConfig) -> None:
    newest = {pid: ts for pid, ts in w["views"]}
    pid = e["product_id"]
    newest[pid] = max(t, newest.get(pid, t))
    rows = [[p, ts] for p, ts in newest.items()]
    w["views"] = _newest(rows, lambda r: (r[1], r[0]), cfg.max_views)
    bump_affinity(w, pid, AFF_VIEW, 1, t, cfg)
    if e.get("device") is not None:
        touch_device(w, e["device"]["id"], e["device"]["type"], t, cfg)


def _scan_key(r: Row) -> tuple[Any, ...]:
    return (r[3], _s(r[0]), _s(r[1]), _s(r[2]))


def _scanned(w: CustomerState, e: Event, t: int, cfg: StateConfig) -> None:
    row = [e.get("product_id"), e.get("gtin"), e.get("store_id"), t]
    w["scans"] = _newest([*w["scans"], row], _scan_key, cfg.max_scans)
    if e.get("product_id") is not None:
        bump_affinity(w, e["product_id"], AFF_SCAN, 1, t, cfg)


def _wishlist(w: CustomerState, e: Event, t: int, cfg: StateConfig) -> None:
    # row: [size, t, active]; a removal stays as a tombstone (active 0) for the grace window
    # so an older, out-of-order "added" cannot resurrect the item. Removal wins a tie.
    wishlist = dict(w["wishlist"])
    pid = e["product_id"]
    active = 1 if e["type"] == ev.WISHLIST_ADDED else 0
    new = [e.get("size") if active else None, t, active]
    old = wishlist.get(pid)
    if old is None or (t, 1 - active, _s(new[0])) > (old[1], 1 - old[2], _s(old[0])):
        wishlist[pid] = new
    live = {k: r for k, r in wishlist.items() if r[2]}
    dead = {k: r for k, r in wishlist.items() if not r[2]}
    live = _cap_map(live, lambda k, r: (r[1], k), cfg.max_wishlist)
    dead = _cap_map(dead, lambda k, r: (r[1], k), cfg.max_wishlist)
    w["wishlist"] = {**live, **dead}
    if active:
        bump_affinity(w, pid, AFF_WISHLIST, 1, t, cfg)


def _cart(w: CustomerState, e: Event, t: int, cfg: StateConfig) -> None:
    # row: [product_id, size, quantity, t]; one row per (product, size), quantities add up.
    by_key = {(r[0], r[1]): r for r in w["cart"]}
    key = (e["product_id"], e.get("size"))
    qty = e.get("quantity", 1)
    old = by_key.get(key)
    by_key[key] = [*key, qty, t] if old is None else [*key, old[2] + qty, max(old[3], t)]
    rows = _newest(by_key.values(), lambda r: (r[3], r[0], _s(r[1])), cfg.max_cart)
    w["cart"] = rows
    bump_affinity(w, e["product_id"], AFF_CART, 1, t, cfg)


def _order(w: CustomerState, e: Event, t: int, cfg: StateConfig) -> None:
    # row: [order_id, t, channel, store_id, lines]; line: [product_id, size, qty, price, currency]
    if any(r[0] == e["order_id"] for r in w["orders"]):
        return  # same order re-sent under a new event_id: count its units once
    lines = [[ln["product_id"], ln.get("size"), ln["quantity"], ln["price"], ln["currency"]] for ln in e["lines"]]
    row = [e["order_id"], t, e["channel"], e.get("store_id"), lines[: cfg.max_order_lines]]
    w["orders"] = _newest([*w["orders"], row], lambda r: (r[1], r[0]), cfg.max_orders)
    for pid, _size, qty, _price, _cur in lines:
        bump_affinity(w, pid, AFF_ORDER, qty, t, cfg)


def _loyalty(w: CustomerState, e: Event, t: int, cfg: StateConfig) -> None:
    # row: [points, tier, next_tier, next_tier_threshold, t]
    row = [e["points"], e["tier"], e.get("next_tier"), e.get("next_tier_threshold"), t]
    old = w["loyalty"]
    if old is None or (t, repr(row)) > (old[4], repr(old)):
        w["loyalty"] = row


def _contact_key(r: Row) -> tuple[Any, ...]:
    return (r[1], r[0], _s(r[2]), _s(r[3]), _s(r[4]))


def cap_contacts(rows: Iterable[Row], cap: int) -> list[Row]:
    """Contacts newest first, at most `cap`. Over the cap her reactions ("n", "c") go first, oldest
    first, then the contacts Kairos made ("s"): those are the contact budget's evidence (caps,
    cool-downs, de-duplication), which 50 clicks must not push out."""
    ordered = sorted(rows, key=_contact_key, reverse=True)
    excess = len(ordered) - cap
    if excess <= 0:
        return ordered
    drop: set[int] = set()
    for kinds in (("n", "c"), ("s",)):
        for i in range(len(ordered) - 1, -1, -1):
            if len(drop) == excess:
                break
            if ordered[i][0] in kinds:
                drop.add(i)
    return [r for i, r in enumerate(ordered) if i not in drop]


def _contact(w: CustomerState, e: Event, t: int, cfg: StateConfig) -> None:
    # row: [kind, t, ref, block_id, product_id]; kind "n" = notification opened (ref =
    # notification_id), "c" = content clicked (ref = decision_id).
    if e["type"] == ev.NOTIFICATION_OPENED:
        row = ["n", t, e["notification_id"], None, None]
    else:
        row = ["c", t, e.get("decision_id"), e.get("block_id"), e.get("product_id")]
        if e.get("product_id") is not None:
            bump_affinity(w, e["product_id"], AFF_CLICK, 1, t, cfg)
    w["contacts"] = cap_contacts([*w["contacts"], row], cfg.max_contacts)


HANDLERS: dict[str, Handler] = {
    ev.PROFILE_UPDATED: _profile,
    ev.IDENTITY_LINKED: _identity,
    ev.LOCATION_UPDATED: _location,
    ev.GEOFENCE_ENTERED: _geofence,
    ev.GEOFENCE_EXITED: _geofence,
    ev.GEOFENCE_DWELLED: _geofence,
    ev.APP_OPENED: _app_opened,
    ev.SESSION_STARTED: _session,
    ev.SESSION_ENDED: _session,
    ev.PRODUCT_VIEWED: _viewed,
    ev.PRODUCT_SCANNED: _scanned,
    ev.WISHLIST_ADDED: _wishlist,
    ev.WISHLIST_REMOVED: _wishlist,
    ev.CART_ADDED: _cart,
    ev.ORDER_PLACED: _order,
    ev.LOYALTY_UPDATED: _loyalty,
    ev.NOTIFICATION_OPENED: _contact,
    ev.CONTENT_CLICKED: _contact,
}
