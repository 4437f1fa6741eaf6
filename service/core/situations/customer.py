"""Core layer: loyalty (points, tier, distance to the next tier), channel history (online-only vs
store visitor, usual area), her newest order and her channel consent.

Store visits are the evidence the state keeps of her being in a store within
store_visit_window_ms: a confirmed geofence stay (a dwell or a confidence-3 event), an order
placed in a store, a scan in a store. The state keeps geofences and scans for 30 days and
orders for a year, so within 90 days geofence and scan evidence reaches back 30 days only.
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import median
from typing import Literal

from service.core.situations.config import SituationConfig
from service.core.situations.facts import State, home_area, profile_value

ChannelKind = Literal["store_visitor", "online_only", "browser", "none"]


@dataclass(frozen=True, slots=True)
class Loyalty:
    points: int
    tier: str
    next_tier: str | None
    next_tier_threshold: int | None
    points_to_next: int | None  # None without a next tier
    close: bool  # points reach loyalty_close_fraction of the next tier's threshold


@dataclass(frozen=True, slots=True)
class ChannelHistory:
    kind: ChannelKind
    store_ids: tuple[str, ...]  # stores she visited within the window
    last_store_visit_ms: int | None
    usual_area: tuple[float, float] | None
    area_source: Literal["profile", "locations"] | None


@dataclass(frozen=True, slots=True)
class LastOrder:
    order_id: str
    t_ms: int
    channel: str
    store_id: str | None
    product_ids: tuple[str, ...]
    sizes: tuple[tuple[str, str | None], ...]  # (product_id, size) per line


def detect_loyalty(state: State, cfg: SituationConfig) -> Loyalty | None:
    row = state["loyalty"]
    if row is None:
        return None
    points, tier, next_tier, threshold = int(row[0]), str(row[1]), row[2], row[3]
    if next_tier is None or threshold is None:
        return Loyalty(points, tier, next_tier, threshold, None, False)
    to_next = max(int(threshold) - points, 0)
    close = 0 < to_next and points >= cfg.loyalty_close_fraction * threshold
    return Loyalty(points, tier, str(next_tier), int(threshold), to_next, close)


def _visits(state: State, cfg: SituationConfig, now_ms: int) -> dict[str, int]:
    since = now_ms - cfg.store_visit_window_ms
    seen: dict[str, int] = {}

    def note(store: str | None, t: int | None) -> None:
        if store is not None and t is not None and since <= t <= now_ms:
            seen[store] = max(t, seen.get(store, t))

    for row in state["geofences"].values():
        if row[5]:
            note(row[4], row[1])
    for _oid, t, channel, store, _lines in state["orders"]:
        if channel == "store":
            note(store or "unknown-store", t)
    for _pid, _gtin, store, t in state["scans"]:
        note(store, t)
    return seen


def detect_channel_history(state: State, cfg: SituationConfig, now_ms: int) -> ChannelHistory:
    visits = _visits(state, cfg, now_ms)
    kind: ChannelKind
    if visits:
        kind = "store_visitor"
    elif any(r[2] == "online" for r in state["orders"]):
        kind = "online_only"
    elif state["events_applied"]:
        kind = "browser"
    else:
        kind = "none"
    area = home_area(state)
    source: Literal["profile", "locations"] | None = "profile" if area is not None else None
    if area is None and state["locations"]:
        area = (median(r[1] for r in state["locations"]), median(r[2] for r in state["locations"]))
        source = "locations"
    return ChannelHistory(
        kind, tuple(sorted(visits)), max(visits.values()) if visits else None, area, source
    )


def last_order(state: State) -> LastOrder | None:
    if not state["orders"]:
        return None
    oid, t, channel, store, lines = state["orders"][0]
    return LastOrder(
        oid, t, channel, store, tuple(dict.fromkeys(ln[0] for ln in lines)), tuple((ln[0], ln[1]) for ln in lines)
    )


def consent(state: State, channel: str) -> bool:
    """True only when she said yes; unknown is no."""
    return profile_value(state, f"consent.{channel}") is True
