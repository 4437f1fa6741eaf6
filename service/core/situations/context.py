"""Core layer: derive_context — every situation at one moment, as one frozen Context the policy reads.

`facts` is the flat view policy conditions test (names and types in FACT_TYPES, documented in
docs/POLICY.md); the typed fields carry the detail decide needs to fill blocks. Nothing here
raises for a schema-valid request and a state record of any known layout (None = cold start).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from service.core.reference import ReferenceData
from service.core.situations.affinity import (
    EMPTY_AFFINITIES,
    Affinities,
    SizeSource,
    derive_affinities,
    sizes_by_category,
)
from service.core.situations.config import SituationConfig
from service.core.situations.customer import (
    ChannelHistory,
    LastOrder,
    Loyalty,
    consent,
    detect_channel_history,
    detect_loyalty,
    last_order,
)
from service.core.situations.facts import Fix, fixes, home_area, profile_value, record
from service.core.situations.localtime import LocalTime, local_time, resolve_zone
from service.core.situations.motion import Motion, detect_motion
from service.core.situations.presence import StoreSituation, detect_stores
from service.core.situations.session import DeviceSession, detect_session
from service.core.situations.weather import Weather, detect_weather, weather_point

FACT_TYPES: Mapping[str, str] = MappingProxyType({
    "placement": "string",
    "device": "string",
    "cold_start": "bool",
    "in_store": "bool",
    "near_store": "bool",
    "located": "bool",
    "on_the_move": "bool",
    "commuting": "bool",
    "daypart": "string",
    "weekday": "bool",
    "local_hour": "number",
    "weather": "string",
    "temperature_c": "number",
    "resume_candidate": "bool",
    "has_product": "bool",
    "scanned_in_store": "bool",
    "recent_order": "bool",
    "days_since_order": "number",
    "has_cart": "bool",
    "has_wishlist": "bool",
    "loyalty_tier": "string",
    "loyalty_close": "bool",
    "channel_history": "string",
    "consent_push": "bool",
    "consent_email": "bool",
    "language": "string",
})
"""Every situation a policy condition may name, with the type of its value."""

FACT_VALUES: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "device": ("phone", "tablet", "web"),
    "daypart": ("night", "morning", "lunch", "afternoon", "evening"),
    "weather": ("clear", "clouds", "rain", "snow", "fog", "storm", "unknown"),
    "channel_history": ("store_visitor", "online_only", "browser", "none"),
})
"""The closed value sets of string situations (others are open: placement, tier, language)."""


@dataclass(frozen=True, slots=True)
class ProductFocus:
    product_id: str
    scanned_at_ms: int | None  # a scan of it within scan_recent_ms
    scan_store_id: str | None


@dataclass(frozen=True, slots=True)
class Context:
    customer_id: str
    now_ms: int
    cold_start: bool
    placement: str
    requested_locale: str | None  # request, else profile; the policy's texts resolve it
    local: LocalTime
    stores: StoreSituation
    motion: Motion
    session: DeviceSession
    weather: Weather
    affinities: Affinities
    sizes: Mapping[str, tuple[str, SizeSource]]
    loyalty: Loyalty | None
    channel: ChannelHistory
    order: LastOrder | None
    product: ProductFocus | None
    facts: Mapping[str, Any]
    reasons: tuple[tuple[str, str], ...]
    cfg: SituationConfig

    def size_for(self, category: str | None) -> str | None:
        found = None if category is None else self.sizes.get(category)
        return None if found is None else found[0]

    @property
    def store_id(self) -> str | None:
        return None if self.stores.in_store is None else self.stores.in_store.store_id


def _focus(
    state: Mapping[str, Any], request: Mapping[str, Any], cfg: SituationConfig, now_ms: int
) -> ProductFocus | None:
    pid = request.get("product_id")
    if pid is None:
        return None
    for spid, _gtin, store, t in state["scans"]:  # newest first
        if spid == pid and now_ms - cfg.scan_recent_ms <= t <= now_ms:
            return ProductFocus(pid, t, store)
    return ProductFocus(pid, None, None)


def _store_zone(stores: StoreSituation, ref: ReferenceData) -> str | None:
    status = stores.in_store or (stores.near[0] if stores.near else None)
    store = None if status is None else ref.stores.get(status.store_id)
    zone = None if store is None else store.get("time_zone")
    return zone if isinstance(zone, str) else None


def _describe_stores(stores: StoreSituation) -> str:
    if stores.in_store is not None:
        s = stores.in_store
        return f"in store {s.store_id} for {(s.dwell_ms or 0) // 1000} s"
    if stores.near:
        n = stores.near[0]
        far = "" if n.distance_m is None else f", {n.distance_m:.0f} m away"
        return f"near store {n.store_id}{far}"
    return "not at a store: " + (", ".join(r for r in stores.reasons if ":" not in r) or "no store nearby")


def derive_context(
    state: Mapping[str, Any] | None,
    request: Mapping[str, Any],
    ref: ReferenceData,
    cfg: SituationConfig,
    now_ms: int,
) -> Context:
    """Every situation for a schema-valid decision request at now_ms (epoch ms)."""
    rec = record(state)
    all_fixes = fixes(rec, request, now_ms)
    newest: Fix | None = all_fixes[-1] if all_fixes else None
    stores = detect_stores(state, request, ref, cfg, now_ms)
    zone_name, zone_source = resolve_zone(
        profile_value(rec, "time_zone"), None if newest is None else newest.point, home_area(rec),
        _store_zone(stores, ref), cfg,
    )
    local = local_time(now_ms, zone_name, zone_source, cfg)
    motion = detect_motion(all_fixes, local, cfg, now_ms)
    session = detect_session(rec, request, cfg, now_ms)
    point, what = weather_point(stores.position, newest, home_area(rec), cfg, now_ms)
    weather = detect_weather(point, what, ref, cfg, now_ms)
    affinities = derive_affinities(rec, ref, cfg, now_ms) if state is not None else EMPTY_AFFINITIES
    loyalty = detect_loyalty(rec, cfg)
    channel = detect_channel_history(rec, cfg, now_ms)
    order = last_order(rec)
    focus = _focus(rec, request, cfg, now_ms)
    in_store = stores.in_store is not None
    days_since = None if order is None else max(now_ms - order.t_ms, 0) / 86_400_000
    locale = request.get("locale") or profile_value(rec, "locale")
    facts: dict[str, Any] = {
        "placement": request["placement"],
        "device": request["device"]["type"],
        "cold_start": state is None,
        "in_store": in_store,
        "near_store": bool(stores.near) and not in_store,
        "located": stores.position is not None,
        "on_the_move": motion.on_the_move,
        "commuting": motion.commuting,
        "daypart": local.daypart,
        "weekday": local.weekday < 5,
        "local_hour": local.minute_of_day // 60,
        "weather": weather.condition,
        "temperature_c": weather.temperature_c,
        "resume_candidate": session.resume is not None,
        "has_product": focus is not None,
        "scanned_in_store": in_store and focus is not None and focus.scanned_at_ms is not None,
        "recent_order": order is not None and now_ms - order.t_ms <= cfg.recent_order_ms,
        "days_since_order": days_since,
        "has_cart": bool(rec["cart"]),
        "has_wishlist": any(r[2] for r in rec["wishlist"].values()),
        "loyalty_tier": None if loyalty is None else loyalty.tier,
        "loyalty_close": loyalty is not None and loyalty.close,
        "channel_history": channel.kind,
        "consent_push": consent(rec, "push"),
        "consent_email": consent(rec, "email"),
        "language": None if not locale else str(locale).split("-")[0].lower(),
    }
    reasons = [
        ("context.store", _describe_stores(stores)),
        ("context.time", f"{local.iso} ({local.time_zone} from {local.source}), {local.daypart}"),
        ("context.motion", motion.reason),
        ("context.weather", weather.reason),
        ("context.session", session.reason),
    ]
    if loyalty is not None:
        to_next = (
            "top tier" if loyalty.points_to_next is None else f"{loyalty.points_to_next} points to {loyalty.next_tier}"
        )
        reasons.append(("context.loyalty", f"{loyalty.tier}, {loyalty.points} points, {to_next}"
                        + (" (close)" if loyalty.close else "")))
    reasons.append(("context.channel", f"{channel.kind}" + (f", visited {', '.join(channel.store_ids)}"
                                                            if channel.store_ids else "")))
    return Context(
        customer_id=request["customer_id"], now_ms=now_ms, cold_start=state is None,
        placement=request["placement"], requested_locale=None if not locale else str(locale),
        local=local, stores=stores, motion=motion, session=session, weather=weather,
        affinities=affinities, sizes=MappingProxyType(sizes_by_category(rec, ref)), loyalty=loyalty,
        channel=channel, order=order, product=focus, facts=MappingProxyType(facts), reasons=tuple(reasons), cfg=cfg,
    )
