"""Core layer: on the move (speed above walking pace) and commuting (that, on a weekday morning
or evening in her local time).

Speed is the median of the provider's speed hints on the good fixes of the last
motion_window_ms when there are any (Doppler speed beats differences of positions); else the
net displacement between the oldest and newest good fix in the window over the time between
them — net, not summed, so GPS jitter while she stands still adds up to no speed. No speed
without a good fix within position_max_age_ms: old motion says nothing about now.
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import median
from typing import Literal

from service.core.situations import geo
from service.core.situations.config import SituationConfig
from service.core.situations.facts import Fix, good
from service.core.situations.localtime import LocalTime


@dataclass(frozen=True, slots=True)
class Motion:
    speed_mps: float | None
    source: Literal["provider", "fixes"] | None
    on_the_move: bool
    commuting: bool
    reason: str


def _commute_time(local: LocalTime, cfg: SituationConfig) -> bool:
    return local.weekday in cfg.commute_weekdays and any(
        start <= local.minute_of_day < end for start, end in cfg.commute_windows
    )


def detect_motion(all_fixes: list[Fix], local: LocalTime, cfg: SituationConfig, now_ms: int) -> Motion:
    """Her speed and whether she is on the move / commuting at now_ms; all_fixes oldest first."""
    recent = [f for f in all_fixes if f.t_ms >= now_ms - cfg.motion_window_ms and good(f, cfg)]
    if not recent or recent[-1].t_ms < now_ms - cfg.position_max_age_ms:
        return Motion(None, None, False, False, "no recent good fix: speed unknown")
    hints = [f.speed_mps for f in recent if f.speed_mps is not None]
    speed: float | None
    source: Literal["provider", "fixes"] | None
    if hints:
        speed, source = float(median(hints)), "provider"
    else:
        first, last = recent[0], recent[-1]
        span_ms = last.t_ms - first.t_ms
        if span_ms < cfg.min_track_span_ms:
            why = f"{len(recent)} fix(es) over {span_ms // 1000} s: too short a track"
            return Motion(None, None, False, False, why)
        speed, source = geo.distance_m(first.point, last.point) / (span_ms / 1000), "fixes"
    moving = speed > cfg.walking_pace_mps
    commuting = moving and _commute_time(local, cfg)
    verdict = "on the move" if moving else "not faster than walking pace"
    if commuting:
        verdict = "commuting (weekday commute hours)"
    return Motion(
        speed, source, moving, commuting, f"{speed:.1f} m/s from {source} ({len(recent)} fixes): {verdict}"
    )
