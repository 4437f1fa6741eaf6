"""Core layer: every threshold the situation detectors use, in one frozen, documented dataclass."""

from __future__ import annotations

from dataclasses import dataclass

SECOND_MS = 1000
MINUTE_MS = 60 * SECOND_MS
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS

AFFINITY_WEIGHTS = (1.0, 2.0, 3.0, 4.0, 5.0, 1.0)
"""Default weight per raw count, in state affinity-row order: views, scans, wishlist adds, cart
adds, ordered units, clicks — the closer an interaction is to a purchase, the more it says."""


@dataclass(frozen=True, slots=True)
class SituationConfig:
    """Thresholds of the situation detectors. Distances in metres, times in milliseconds,
    local clock times in minutes after local midnight, weekdays 0 = Monday."""

    # Stores: near vs in, and hysteresis so GPS jitter at the fence edge does not flap.
    approach_radius_m: float = 300.0  # "near": her position within this of the store point
    store_radius_m: float = 50.0  # the store's own fence when store.upserted has no radius_m
    min_dwell_ms: int = 120 * SECOND_MS  # "in": inside the store fence at least this long
    exit_margin_m: float = 30.0  # a fix counts as "out" only this far beyond the fence edge
    enter_confirm_fixes: int = 2  # consecutive good fixes inside the fence to enter by fixes
    exit_confirm_fixes: int = 2  # consecutive good fixes beyond the margin to leave by fixes
    max_fix_accuracy_m: float = 100.0  # a fix with accuracy_m above this causes no transition
    presence_expiry_ms: int = 30 * MINUTE_MS  # inside, but nothing confirmed it this long: out
    stale_entry_ms: int = 10 * MINUTE_MS  # an entry that arrived this long after it occurred is ignored
    position_max_age_ms: int = 15 * MINUTE_MS  # newest good fix this recent is "where she is"

    # On the move / commuting.
    walking_pace_mps: float = 2.0  # faster than a brisk walk (~1.4 m/s) means a vehicle or a run
    motion_window_ms: int = 10 * MINUTE_MS  # fixes this recent are used for speed
    min_track_span_ms: int = 30 * SECOND_MS  # a track shorter than this gives no speed
    commute_weekdays: tuple[int, ...] = (0, 1, 2, 3, 4)
    commute_windows: tuple[tuple[int, int], ...] = ((6 * 60, 10 * 60), (16 * 60, 20 * 60))

    # Local time: (start minute, name) in ascending order, the first starting at 0.
    dayparts: tuple[tuple[int, str], ...] = (
        (0, "night"),
        (6 * 60, "morning"),
        (11 * 60 + 30, "lunch"),
        (14 * 60, "afternoon"),
        (17 * 60 + 30, "evening"),
        (22 * 60, "night"),
    )
    default_time_zone: str = "UTC"  # only when neither profile nor any location names one

    # Device and session.
    resume_window_ms: int = 12 * HOUR_MS  # an abandoned session this recent may be resumed

    # The product in focus: a scan this recent of the product on screen makes it "scanned here".
    scan_recent_ms: int = 30 * MINUTE_MS
    # Orders: "recent_order" while the newest order is at most this old.
    recent_order_ms: int = 14 * DAY_MS

    # Weather.
    weather_max_age_ms: int = 3 * HOUR_MS  # observations are hourly (METAR); older is unknown
    weather_location_max_age_ms: int = 6 * HOUR_MS  # a fix this old still names her 11 km cell

    # Affinities: score = sum(weight * count) * 0.5 ** (age / half_life).
    affinity_half_life_ms: int = 14 * DAY_MS
    affinity_weights: tuple[float, ...] = AFFINITY_WEIGHTS
    # (lowest price, band) in ascending order; a price belongs to the last band it reaches.
    price_bands: tuple[tuple[float, str], ...] = ((0.0, "budget"), (40.0, "mid"), (100.0, "premium"))

    # Loyalty: "close to the next tier" from this share of the threshold on.
    loyalty_close_fraction: float = 0.9

    # Channel history.
    store_visit_window_ms: int = 90 * DAY_MS
    area_store_radius_m: float = 15_000.0  # "the store in her area": nearest within this

    def __post_init__(self) -> None:
        problems = []
        if self.enter_confirm_fixes < 1 or self.exit_confirm_fixes < 1:
            problems.append("enter_confirm_fixes and exit_confirm_fixes must be at least 1")
        if not self.dayparts or self.dayparts[0][0] != 0:
            problems.append("dayparts must start at minute 0")
        if [m for m, _ in self.dayparts] != sorted({m for m, _ in self.dayparts}):
            problems.append("dayparts must be in strictly ascending order of start minute")
        if not self.price_bands or [p for p, _ in self.price_bands] != sorted({p for p, _ in self.price_bands}):
            problems.append("price_bands must be non-empty, in strictly ascending order of price")
        if len(self.affinity_weights) != len(AFFINITY_WEIGHTS):
            problems.append(f"affinity_weights needs {len(AFFINITY_WEIGHTS)} weights")
        if self.affinity_half_life_ms <= 0:
            problems.append("affinity_half_life_ms must be positive")
        if any(not 0 <= m < 24 * 60 for m, _ in self.dayparts):
            problems.append("daypart start minutes must be within 0..1439")
        if not 0 < self.loyalty_close_fraction <= 1:
            problems.append("loyalty_close_fraction must be in (0, 1]")
        if any(not 0 <= d <= 6 for d in self.commute_weekdays):
            problems.append("commute_weekdays must be 0 (Monday) .. 6 (Sunday)")
        if any(not 0 <= a < b <= 24 * 60 for a, b in self.commute_windows):
            problems.append("commute_windows must be (start, end) minutes with 0 <= start < end <= 1440")
        if problems:
            raise ValueError("invalid SituationConfig: " + "; ".join(problems))


DEFAULT_SITUATION_CONFIG = SituationConfig()
