"""Core layer: the names a policy may use — block sources, trigger kinds and their placeholders,
ranking weights, and the situation thresholds a policy may set (file key -> SituationConfig)."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

SOURCES: Final[frozenset[str]] = frozenset({
    "last_seen", "recently_scanned", "new_arrivals_for_you", "wishlist", "back_in_stock", "bestsellers",
    "themes", "outfit_for_order", "store_mode_picks", "product_details", "other_colours_sizes",
    "nearby_availability", "goes_with_in_store", "goes_with", "store_recommendation", "resume_session",
    "scan_prompt",
})
"""What can fill a block (docs/POLICY.md, "Blocks")."""

ITEMLESS_SOURCES: Final[frozenset[str]] = frozenset({"scan_prompt", "resume_session"})

COMMON_PLACEHOLDERS: Final[frozenset[str]] = frozenset({"trigger", "customer_id", "local_date"})

TRIGGER_KINDS: Final[Mapping[str, frozenset[str]]] = MappingProxyType({
    "wishlist_item_near_store": frozenset({"product_id", "product_name", "size", "store_id", "store_name",
                                           "distance_m"}),
    "post_order_outfit": frozenset({"order_id", "product_id", "product_name"}),
    "loyalty_close": frozenset({"tier", "next_tier", "points", "points_to_next"}),
    "back_in_stock": frozenset({"product_id", "product_name", "size", "store_id", "store_name"}),
    "store_recommendation": frozenset({"store_id", "store_name", "distance_m"}),
})
"""Detectors on the stream that can fire a trigger, each with the placeholders its texts and
dedup key may use (besides COMMON_PLACEHOLDERS)."""

RANKING_WEIGHTS: Final[tuple[str, ...]] = (
    "interest", "category", "price_band", "sale", "novelty", "rating", "promoted",
)

DEFAULT_WEIGHTS: Final[Mapping[str, float]] = MappingProxyType({
    "interest": 0.35, "category": 0.25, "price_band": 0.15, "sale": 0.1, "novelty": 0.05, "rating": 0.05,
    "promoted": 0.05,
})

CHANNELS: Final[frozenset[str]] = frozenset({"screen", "push", "email"})

SECONDS_FIELDS: Final[tuple[str, ...]] = (
    "min_dwell", "presence_expiry", "stale_entry", "position_max_age", "motion_window", "min_track_span",
    "resume_window", "weather_max_age", "weather_location_max_age", "affinity_half_life",
    "store_visit_window", "scan_recent", "recent_order",
)
"""SituationConfig fields `<name>_ms` a policy sets as `<name>_s` (seconds)."""

PLAIN_FIELDS: Final[tuple[str, ...]] = (
    "approach_radius_m", "store_radius_m", "exit_margin_m", "enter_confirm_fixes", "exit_confirm_fixes",
    "max_fix_accuracy_m", "walking_pace_mps", "default_time_zone", "loyalty_close_fraction",
    "area_store_radius_m",
)
"""SituationConfig fields a policy sets under the same name."""
