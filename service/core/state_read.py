"""Core layer: read-only views of the state record that decisions and triggers use."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from service.core.state_merge import AFF_LAST, AFFINITY_KINDS

State = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class StorePresence:
    """The customer is inside a geofence (entered, not exited) seen recently."""

    geofence_id: str
    store_id: str | None
    last_seen_ms: int
    entered_at_ms: int | None
    confirmed: bool


@dataclass(frozen=True, slots=True)
class LocationFix:
    t_ms: int
    lat: float
    lon: float
    accuracy_m: float | None
    speed_mps: float | None


def _unique(ids: list[str], limit: int) -> list[str]:
    return list(dict.fromkeys(ids))[: max(limit, 0)]


def last_seen(state: State, limit: int) -> list[str]:
    """Viewed product ids, newest view first, at most `limit`."""
    return [pid for pid, _t in state["views"][: max(limit, 0)]]


def recently_scanned(state: State, limit: int) -> list[str]:
    """Scanned product ids (scans by GTIN only are skipped), newest first, each once."""
    return _unique([r[0] for r in state["scans"] if r[0] is not None], limit)


def wishlist_items(state: State) -> list[tuple[str, str | None]]:
    """(product_id, size) on the wishlist, most recently added first."""
    live = [(pid, r) for pid, r in state["wishlist"].items() if r[2]]
    live.sort(key=lambda kv: (kv[1][1], kv[0]), reverse=True)
    return [(pid, r[0]) for pid, r in live]


def ordered_at(state: State) -> dict[str, int]:
    """product_id -> event time of the latest order (kept in state) containing it."""
    latest: dict[str, int] = {}
    for _oid, t, _channel, _store, lines in state["orders"]:
        for line in lines:
            latest[line[0]] = max(t, latest.get(line[0], t))
    return latest


def cart_items(state: State) -> list[tuple[str, str | None, int]]:
    """(product_id, size, quantity) added to the cart and not ordered since, newest first."""
    bought = ordered_at(state)
    return [(pid, size, qty) for pid, size, qty, t in state["cart"] if bought.get(pid, t - 1) < t]


def current_device(state: State) -> tuple[str, str | None] | None:
    """(device_id, device_type) of the most recently seen device, or None."""
    if not state["devices"]:
        return None
    device_id, row = max(state["devices"].items(), key=lambda kv: (kv[1][1], kv[0]))
    return device_id, row[0]


def store_presence(state: State, now_ms: int, max_age_ms: int) -> list[StorePresence]:
    """Geofences she is inside, last confirmed within max_age_ms before now_ms, newest first."""
    found = [
        StorePresence(gid, row[4], row[1], row[0], bool(row[5]))
        for gid, row in state["geofences"].items()
        if row[1] is not None and (row[2] is None or row[1] > row[2]) and row[1] >= now_ms - max_age_ms
    ]
    found.sort(key=lambda p: (p.last_seen_ms, p.geofence_id), reverse=True)
    return found


def last_exit_ms(state: State, geofence_id: str) -> int | None:
    """Event time she last left the geofence, if known."""
    row = state["geofences"].get(geofence_id)
    return None if row is None else row[2]


def last_location(state: State) -> LocationFix | None:
    """Newest location fix, or None."""
    if not state["locations"]:
        return None
    return LocationFix(*state["locations"][0])


def resumable_session(state: State) -> dict[str, Any] | None:
    """Newest abandoned session that kept its screen_state (for cross-device resume)."""
    for sid, dev_id, dev_type, started, ended, outcome, screen in state["sessions"]:
        if outcome == "abandoned" and screen is not None:
            return {
                "session_id": sid,
                "device_id": dev_id,
                "device_type": dev_type,
                "started_at_ms": started,
                "ended_at_ms": ended,
                "screen_state": screen,
            }
    return None


def loyalty(state: State) -> dict[str, Any] | None:
    row = state["loyalty"]
    if row is None:
        return None
    keys = ("points", "tier", "next_tier", "next_tier_threshold", "updated_at_ms")
    return dict(zip(keys, row, strict=True))


def profile(state: State) -> dict[str, Any]:
    """{locale?, time_zone?, home_area? {lat, lon}, consent {channel: bool}, sizes {cat: size}}."""
    out: dict[str, Any] = {"consent": {}, "sizes": {}}
    for key, (value, _t) in state["profile"].items():
        group, _, name = key.partition(".")
        if group == "consent":
            out["consent"][name] = value
        elif group == "size":
            out["sizes"][name] = value
        elif key == "home_area":
            out["home_area"] = {"lat": value[0], "lon": value[1]}
        else:
            out[key] = value
    return out


def size_for(state: State, category: str) -> str | None:
    """Her preferred size in a product category, if she told us."""
    row = state["profile"].get(f"size.{category}")
    return None if row is None else str(row[0])


def interaction_counts(state: State) -> dict[str, dict[str, int]]:
    """product_id -> raw counts by kind plus "last_t"; decay them with the decision's now_ms."""
    return {
        pid: {**dict(zip(AFFINITY_KINDS, row, strict=False)), "last_t": row[AFF_LAST]}
        for pid, row in state["affinity"].items()
    }
