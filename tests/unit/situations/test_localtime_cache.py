"""Unit tests: local time remembered per second equals local time worked out at the exact millisecond."""

from __future__ import annotations

import random

import pytest

from service.core.situations.config import SituationConfig
from service.core.situations.localtime import _local_time, local_time
from service.core.timeutil import parse_rfc3339_ms

CFG = SituationConfig()
# DST changes (London, New York, Lord Howe's half hour), a fixed offset, an unknown zone (UTC).
AROUND = [("Europe/London", "2026-03-29T01:00:00Z"), ("Europe/London", "2026-10-25T01:00:00Z"),
          ("America/New_York", "2026-03-08T07:00:00Z"), ("Australia/Lord_Howe", "2026-04-04T15:00:00Z"),
          ("Asia/Kolkata", "2026-06-01T18:29:59Z"), ("Nowhere/Zone", "1969-12-31T23:59:59Z")]


@pytest.mark.parametrize(("zone_name", "moment"), AROUND)
def test_every_millisecond_near_a_change_matches_the_exact_answer(zone_name: str, moment: str) -> None:
    rng = random.Random(moment)
    at = parse_rfc3339_ms(moment)
    for ms in [at - 1, at, at + 1, at + 999, at + 1000, *(at + rng.randrange(-5_000, 5_000) for _ in range(300))]:
        assert local_time(ms, zone_name, "location", CFG) == _local_time(ms, zone_name, "location", CFG.dayparts)


def test_the_second_floor_holds_before_the_epoch() -> None:
    for ms in (-1, -999, -1000, -1001, -86_400_001):
        assert local_time(ms, "Europe/Paris", "default", CFG) == _local_time(ms, "Europe/Paris", "default",
                                                                             CFG.dayparts)
    assert local_time(-1, "Europe/London", "default", CFG).iso == "1970-01-01T00:59:59+01:00"
