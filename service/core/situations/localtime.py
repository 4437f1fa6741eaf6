"""Core layer: her time zone (profile, else where she is, offline) and local time and daypart.

The zone comes from, in order: her profile's time_zone; the newest location we know (the
request's, else her newest fix, any age — people rarely change zone) through tzfpy's offline
polygons; her profile's home area; the store she is in; SituationConfig.default_time_zone.
Zone rules are IANA's through zoneinfo + tzdata, so local time is right across DST changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import tzfpy

from service.core.situations.config import SituationConfig

ZoneSource = Literal["profile", "location", "home_area", "store", "default"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class LocalTime:
    """Her wall clock at now_ms."""

    time_zone: str
    source: ZoneSource
    iso: str  # local wall time with its UTC offset, e.g. 2026-03-29T19:30:00+02:00
    date: str  # local calendar day, YYYY-MM-DD
    weekday: int  # 0 = Monday
    minute_of_day: int  # minutes after local midnight (wall clock)
    daypart: str
    utc_offset_s: int


@lru_cache(maxsize=1024)
def zone(name: str) -> ZoneInfo | None:
    """The IANA zone by name, or None when tzdata does not know it."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def zone_at(lat: float, lon: float) -> str | None:
    """IANA zone name at a coordinate from tzfpy's offline data; None when it names none that
    zoneinfo knows (tzfpy answers the nautical Etc/GMT±N zones at sea, which are valid)."""
    name = tzfpy.get_tz(lon, lat)
    return name if name and zone(name) is not None else None


def resolve_zone(
    profile_zone: str | None,
    location: tuple[float, float] | None,
    home: tuple[float, float] | None,
    store_zone: str | None,
    cfg: SituationConfig,
) -> tuple[str, ZoneSource]:
    """(zone name, where it came from); see the module docstring for the order."""
    if profile_zone and zone(profile_zone) is not None:
        return profile_zone, "profile"
    for point, source in ((location, "location"), (home, "home_area")):
        if point is not None:
            name = zone_at(point[0], point[1])
            if name is not None:
                return name, source  # type: ignore[return-value]
    if store_zone and zone(store_zone) is not None:
        return store_zone, "store"
    return cfg.default_time_zone, "default"


def daypart_of(minute_of_day: int, cfg: SituationConfig) -> str:
    """The daypart whose start is the latest at or before minute_of_day."""
    return _daypart(minute_of_day, cfg.dayparts)


def _daypart(minute_of_day: int, dayparts: tuple[tuple[int, str], ...]) -> str:
    name = dayparts[0][1]
    for start, part in dayparts:
        if start > minute_of_day:
            break
        name = part
    return name


def local_datetime(now_ms: int, zone_name: str) -> datetime:
    """Aware local datetime at epoch ms now_ms in the zone (UTC when the zone is unknown)."""
    moment = _EPOCH + timedelta(milliseconds=now_ms)
    tz = zone(zone_name)
    return moment.astimezone(tz if tz is not None else UTC)


def local_time(now_ms: int, zone_name: str, source: ZoneSource, cfg: SituationConfig) -> LocalTime:
    """Her local time at now_ms in the named zone."""
    if type(now_ms) is not int:
        return _local_time(now_ms, zone_name, source, cfg.dayparts)
    # Everything here is whole seconds (wall clock to the second, and zone transitions fall on
    # whole seconds), so the answer is remembered per second and zone: every decision asks it,
    # and the zone conversion and formatting cost more than most of her situations.
    return _local_time_of_second(now_ms // 1000, zone_name, source, cfg.dayparts)


@lru_cache(maxsize=4096)
def _local_time_of_second(second: int, zone_name: str, source: ZoneSource,
                          dayparts: tuple[tuple[int, str], ...]) -> LocalTime:
    return _local_time(second * 1000, zone_name, source, dayparts)


def _local_time(now_ms: int, zone_name: str, source: ZoneSource, dayparts: tuple[tuple[int, str], ...]) -> LocalTime:
    local = local_datetime(now_ms, zone_name)
    offset = local.utcoffset()
    minute = local.hour * 60 + local.minute
    return LocalTime(
        time_zone=zone_name,
        source=source,
        iso=local.isoformat(timespec="seconds"),
        date=local.date().isoformat(),
        weekday=local.weekday(),
        minute_of_day=minute,
        daypart=_daypart(minute, dayparts),
        utc_offset_s=0 if offset is None else int(offset.total_seconds()),
    )
