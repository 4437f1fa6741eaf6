"""Core layer: limits and time windows that keep the per-customer state record bounded."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeAlias

CustomerState: TypeAlias = dict[str, Any]
"""One customer's state record: a JSON-able dict; layout documented in service.core.state."""

MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS


@dataclass(frozen=True, slots=True)
class StateConfig:
    """Caps (counts) and windows (ms of event time behind the customer's watermark).

    A window keeps a fact while `fact_time >= watermark - window_ms`.
    """

    dedup_ring_size: int = 512
    late_grace_ms: int = 10 * MINUTE_MS
    # occurred_at later than received_at + this is clamped: a device with a wrong clock must
    # not push the watermark into the future and make every later event "late".
    max_future_skew_ms: int = 5 * MINUTE_MS
    max_locations: int = 20
    location_window_ms: int = DAY_MS
    max_geofences: int = 20
    geofence_window_ms: int = 12 * HOUR_MS
    geofence_confirmed_window_ms: int = 30 * DAY_MS
    max_devices: int = 10
    device_window_ms: int = 90 * DAY_MS
    max_sessions: int = 10
    session_window_ms: int = 48 * HOUR_MS
    max_screen_states: int = 1
    max_views: int = 50
    view_window_ms: int = 30 * DAY_MS
    max_scans: int = 20
    scan_window_ms: int = 30 * DAY_MS
    max_wishlist: int = 100
    max_cart: int = 50
    cart_window_ms: int = 30 * DAY_MS
    max_orders: int = 20
    max_order_lines: int = 20
    order_window_ms: int = 365 * DAY_MS
    max_contacts: int = 50
    contact_window_ms: int = 90 * DAY_MS
    max_identities: int = 20
    max_profile_sizes: int = 32
    max_affinity_products: int = 100
    affinity_window_ms: int = 90 * DAY_MS


DEFAULT_STATE_CONFIG = StateConfig()
