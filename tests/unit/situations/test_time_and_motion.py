"""Local time and daypart in her zone across DST (profile, location, home area, store, default); motion."""

from __future__ import annotations

import pytest

from service.core.situations.facts import Fix
from service.core.situations.localtime import daypart_of, local_time, resolve_zone, zone_at
from service.core.situations.motion import detect_motion
from service.core.timeutil import parse_rfc3339_ms
from tests.unit.situations.builders import CFG, STORE, offset

BERLIN = (52.52, 13.405)
LONDON = (STORE["lat"], STORE["lon"])
NEW_YORK = (40.7128, -74.006)


@pytest.mark.parametrize(
    ("profile", "location", "home", "store", "expected"),
    [
        ("America/New_York", LONDON, BERLIN, "Europe/London", ("America/New_York", "profile")),
        ("Mars/Olympus", LONDON, None, None, ("Europe/London", "location")),  # unknown profile zone: skipped
        (None, LONDON, BERLIN, None, ("Europe/London", "location")),
        (None, None, BERLIN, "Europe/London", ("Europe/Berlin", "home_area")),
        (None, None, None, "Europe/London", ("Europe/London", "store")),
        (None, None, None, None, ("UTC", "default")),
        (None, NEW_YORK, None, None, ("America/New_York", "location")),
        (None, (0.0, -30.0), None, None, ("Etc/GMT+2", "location")),  # mid-Atlantic: nautical zone
    ],
)
def test_zone_resolution_order(profile: str | None, location: tuple[float, float] | None,
                               home: tuple[float, float] | None, store: str | None,
                               expected: tuple[str, str]) -> None:
    assert resolve_zone(profile, location, home, store, CFG) == expected


def test_zone_at_a_coordinate_is_offline() -> None:
    assert (zone_at(*BERLIN), zone_at(*LONDON)) == ("Europe/Berlin", "Europe/London")


@pytest.mark.parametrize(
    ("minute", "part"),
    [(0, "night"), (359, "night"), (360, "morning"), (689, "morning"), (690, "lunch"), (839, "lunch"),
     (840, "afternoon"), (1049, "afternoon"), (1050, "evening"), (1319, "evening"), (1320, "night"),
     (1439, "night")],
)
def test_daypart_boundaries(minute: int, part: str) -> None:
    assert daypart_of(minute, CFG) == part


@pytest.mark.parametrize(
    ("utc", "zone", "iso", "daypart", "weekday"),
    [
        # Berlin springs forward on Sunday 2026-03-29 at 01:00 UTC (02:00 CET -> 03:00 CEST)
        ("2026-03-29T00:59:00Z", "Europe/Berlin", "2026-03-29T01:59:00+01:00", "night", 6),
        ("2026-03-29T01:00:00Z", "Europe/Berlin", "2026-03-29T03:00:00+02:00", "night", 6),
        ("2026-03-29T04:30:00Z", "Europe/Berlin", "2026-03-29T06:30:00+02:00", "morning", 6),  # 05:30 with +1
        ("2026-03-29T15:45:00Z", "Europe/Berlin", "2026-03-29T17:45:00+02:00", "evening", 6),
        # and falls back on 2026-10-25 at 01:00 UTC: 02:30 happens twice
        ("2026-10-25T00:30:00Z", "Europe/Berlin", "2026-10-25T02:30:00+02:00", "night", 6),
        ("2026-10-25T01:30:00Z", "Europe/Berlin", "2026-10-25T02:30:00+01:00", "night", 6),
        ("2026-10-25T16:45:00Z", "Europe/Berlin", "2026-10-25T17:45:00+01:00", "evening", 6),
        # the local calendar day differs from the UTC one
        ("2026-12-03T23:30:00Z", "Europe/Berlin", "2026-12-04T00:30:00+01:00", "night", 4),
        ("2026-12-04T02:00:00Z", "America/New_York", "2026-12-03T21:00:00-05:00", "evening", 3),
    ],
)
def test_local_time_across_dst(utc: str, zone: str, iso: str, daypart: str, weekday: int) -> None:
    local = local_time(parse_rfc3339_ms(utc), zone, "profile", CFG)
    assert (local.iso, local.daypart, local.weekday, local.date) == (iso, daypart, weekday, iso[:10])


MONDAY_0730_CEST = parse_rfc3339_ms("2026-03-30T05:30:00Z")  # the day after the change: 07:30 local
SATURDAY_0800_UTC = parse_rfc3339_ms("2026-03-28T08:00:00Z")
MONDAY_1300_UTC = parse_rfc3339_ms("2026-03-30T11:00:00Z")  # 13:00 CEST


def _track(now: int, metres_per_10s: float, n: int = 4, speed: float | None = None,
           accuracy: float = 10.0) -> list[Fix]:
    base = {"lat": BERLIN[0], "lon": BERLIN[1]}
    out = []
    for i in range(n):
        p = offset(base, metres_per_10s * i, 0)
        out.append(Fix(now - (n - 1 - i) * 10_000, p["lat"], p["lon"], accuracy, speed))
    return out


@pytest.mark.parametrize(
    ("fixes", "now", "speed", "moving", "commuting"),
    [
        (_track(MONDAY_0730_CEST, 100.0), MONDAY_0730_CEST, 10.0, True, True),  # bus: 10 m/s at 07:30 local
        (_track(MONDAY_0730_CEST, 12.0), MONDAY_0730_CEST, 1.2, False, False),  # walking pace
        (_track(MONDAY_0730_CEST, 0.0, speed=6.0), MONDAY_0730_CEST, 6.0, True, True),  # provider hint wins
        (_track(MONDAY_0730_CEST, 100.0, speed=0.5), MONDAY_0730_CEST, 0.5, False, False),
        (_track(SATURDAY_0800_UTC, 100.0), SATURDAY_0800_UTC, 10.0, True, False),  # weekend
        (_track(MONDAY_1300_UTC, 100.0), MONDAY_1300_UTC, 10.0, True, False),  # midday
        (_track(MONDAY_0730_CEST, 100.0, n=2)[1:], MONDAY_0730_CEST, None, False, False),  # one fix
        (_track(MONDAY_0730_CEST - 20 * 60_000, 100.0), MONDAY_0730_CEST, None, False, False),  # old track
        (_track(MONDAY_0730_CEST, 100.0, accuracy=500.0), MONDAY_0730_CEST, None, False, False),  # poor fixes
        ([], MONDAY_0730_CEST, None, False, False),  # no location
    ],
)
def test_on_the_move_and_commuting(fixes: list[Fix], now: int, speed: float | None, moving: bool,
                                   commuting: bool) -> None:
    local = local_time(now, "Europe/Berlin", "profile", CFG)
    motion = detect_motion(fixes, local, CFG, now)
    assert (None if motion.speed_mps is None else round(motion.speed_mps, 1), motion.on_the_move,
            motion.commuting) == (speed, moving, commuting)


def test_commute_hours_follow_her_local_clock_on_a_dst_day() -> None:
    # 05:30 UTC on Monday 2026-03-30 is 07:30 in Berlin (commute) but 06:30 in London (commute too)
    # and 01:30 in New York (not): the same track, three zones
    fixes = _track(MONDAY_0730_CEST, 100.0)
    verdicts = [detect_motion(fixes, local_time(MONDAY_0730_CEST, z, "profile", CFG), CFG, MONDAY_0730_CEST).commuting
                for z in ("Europe/Berlin", "Europe/London", "America/New_York")]
    assert verdicts == [True, True, False]
