"""Core layer: the weather at her location — a fresh observation for her cell, else unknown.

Her location for weather: where she is now (a good recent fix or the request), else her newest
fix up to weather_location_max_age_ms old, else her profile's home area. The observation for
that 0.1° cell counts while it is at most weather_max_age_ms old (observations are hourly).
Unknown is a value, never an error: decisions say why it is unknown.
"""

from __future__ import annotations

from dataclasses import dataclass

from service.core.reference import ReferenceData, weather_cell
from service.core.situations.config import SituationConfig
from service.core.situations.facts import Fix

UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Weather:
    condition: str  # clear, clouds, rain, snow, fog, storm or unknown
    temperature_c: float | None
    observed_at_ms: int | None
    cell: str | None
    reason: str


def weather_point(
    here: Fix | None, newest: Fix | None, home: tuple[float, float] | None, cfg: SituationConfig, now_ms: int
) -> tuple[tuple[float, float] | None, str]:
    """(point, what it is) used to look the weather up."""
    if here is not None:
        return here.point, "her position"
    if newest is not None and now_ms - newest.t_ms <= cfg.weather_location_max_age_ms:
        return newest.point, f"her fix of {(now_ms - newest.t_ms) // 60_000} min ago"
    if home is not None:
        return home, "her home area"
    return None, "no location"


def detect_weather(
    point: tuple[float, float] | None, what: str, ref: ReferenceData, cfg: SituationConfig, now_ms: int
) -> Weather:
    if point is None:
        return Weather(UNKNOWN, None, None, None, "unknown: no location for her")
    cell = weather_cell(point[0], point[1])
    obs = ref.weather.get(cell)
    version = ref.versions.get(("weather", cell))
    if obs is None or version is None:
        return Weather(UNKNOWN, None, None, cell, f"unknown: no observation for cell {cell} ({what})")
    observed_ms = version[0]
    age_ms = now_ms - observed_ms
    if age_ms > cfg.weather_max_age_ms:
        return Weather(
            UNKNOWN, None, observed_ms, cell,
            f"unknown: the observation for cell {cell} is {age_ms // 60_000} min old "
            f"(fresh for {cfg.weather_max_age_ms // 60_000} min)",
        )
    condition = str(obs.get("condition", UNKNOWN))
    temp = obs.get("temperature_c")
    temperature = float(temp) if isinstance(temp, (int, float)) else None
    return Weather(
        condition, temperature, observed_ms, cell,
        f"{condition}, {temperature} °C in cell {cell} ({what}), observed {max(age_ms, 0) // 60_000} min ago",
    )
