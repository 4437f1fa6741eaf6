"""Opening hours from the real Helsinki OSM extract: open/closed at fixed local times, Sundays and holidays."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from service.core.opening_hours import OpeningHoursError, is_open, parse, store_open_at
from service.core.timeutil import parse_rfc3339_ms

DATA = Path(__file__).resolve().parents[1] / "data" / "locations" / "helsinki_fashion_shops.geojson"
HELSINKI = (60.1699, 24.9384)


def shop_hours() -> dict[str, str]:
    features = json.loads(DATA.read_text())["features"]
    return {f["id"]: f["properties"]["opening_hours"] for f in features if "opening_hours" in f["properties"]}


def test_every_real_string_in_the_file_is_understood() -> None:
    hours = shop_hours()
    assert len(hours) == 90
    assert [parse(h) for h in hours.values()]  # raises on any it cannot read


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


@pytest.mark.parametrize(("expression", "local", "country", "expected"), [
    # several ranges per day, Sunday hours (2025-12-07 is a Sunday)
    ("Mo-Fr 09:00-21:00; Sa 09:00-18:00; Su 12:00-18:00", "2025-12-07 11:59", "FI", False),
    ("Mo-Fr 09:00-21:00; Sa 09:00-18:00; Su 12:00-18:00", "2025-12-07 12:00", "FI", True),
    ("Mo-Fr 09:00-21:00; Sa 09:00-18:00; Su 12:00-18:00", "2025-12-07 18:00", "FI", False),
    # no Sunday rule: closed on Sunday
    ("Mo-Fr 10:00-18:00; Sa 10:00-15:00", "2025-12-07 12:00", "FI", False),
    # PH off: Christmas Day 2025 is a Thursday and a Finnish public holiday; the day before is a
    # holiday in Finland too (Christmas Eve), the 23rd is not
    ("Mo-Fr 10:00-17:00; PH off", "2025-12-25 12:00", "FI", False),
    ("Mo-Fr 10:00-17:00; PH off", "2025-12-24 12:00", "FI", False),
    ("Mo-Fr 10:00-17:00; PH off", "2025-12-23 12:00", "FI", True),
    # May Day (Friday 2026-05-01) is a public holiday in Finland
    ("Mo-Fr 10:00-20:00; Sa 10:00-15:00; PH off", "2026-05-01 12:00", "FI", False),
    ("Mo-Fr 10:00-20:00; Sa 10:00-15:00; PH off", "2026-04-30 12:00", "FI", True),
    # month range: Saturdays in June-August close at 15:00 instead of 16:00
    ("Sa 11:00-16:00; Mo-Fr 10:00-18:00; Jun-Aug Sa 11:00-15:00; PH off", "2026-07-04 15:30", "FI", False),
    ("Sa 11:00-16:00; Mo-Fr 10:00-18:00; Jun-Aug Sa 11:00-15:00; PH off", "2026-09-05 15:30", "FI", True),
    # a weekday overridden later in the same string
    ("Mo-Fr 11:00-18:00; Th 11:00-20:00; Sa 11:00-15:00", "2025-12-04 19:00", "FI", True),
    ("Mo-Fr 11:00-18:00; Th 11:00-20:00; Sa 11:00-15:00", "2025-12-05 19:00", "FI", False),
    ("closed", "2025-12-03 12:00", "FI", False),
    # bare hours ("Sa 10-18"), not allowed by the specification but in the file: repaired
    ("Mo-Fr 10:00-20:00, Sa 10-18, Su 12-18", "2025-12-06 17:30", "FI", True),
    ("Mo-Fr 10:00-20:00, Sa 10-18, Su 12-18", "2025-12-07 11:00", "FI", False),
])
def test_open_or_closed_at_fixed_local_times(expression: str, local: str, country: str, expected: bool) -> None:
    assert is_open(expression, at(local), country) is expected


def test_the_country_comes_from_the_coordinates_when_not_given() -> None:
    # Christmas Day: closed in Helsinki by PH off without naming the country
    assert is_open("Mo-Fr 10:00-17:00; PH off", at("2025-12-25 12:00"), coords=HELSINKI) is False
    # without a country or coordinates PH never matches
    assert is_open("Mo-Fr 10:00-17:00; PH off", at("2025-12-25 12:00")) is True


def test_unparseable_is_unknown_not_open() -> None:
    assert is_open("sometimes, ask", at("2025-12-03 12:00"), "FI") is None
    with pytest.raises(OpeningHoursError):
        parse("sometimes, ask")


def test_store_open_at_uses_the_store_time_zone_across_dst() -> None:
    store = {"opening_hours": "Mo-Sa 10:00-20:00; Su 12:00-18:00; PH off", "time_zone": "Europe/London",
             "location": {"lat": 51.5215, "lon": -0.1133}}
    # 09:30 UTC in July is 10:30 BST: open; the same UTC time in December is 09:30 GMT: closed
    assert store_open_at(store, parse_rfc3339_ms("2026-07-01T09:30:00Z")) is True
    assert store_open_at(store, parse_rfc3339_ms("2026-12-01T09:30:00Z")) is False
    # Sunday 2026-12-06 11:30 GMT: Sunday opening is 12:00
    assert store_open_at(store, parse_rfc3339_ms("2026-12-06T11:30:00Z")) is False
    # Christmas Day 2026 (Friday) 14:00: PH off
    assert store_open_at(store, parse_rfc3339_ms("2026-12-25T14:00:00Z")) is False
    assert store_open_at({**store, "time_zone": None}, 0) is None
    assert store_open_at({"time_zone": "Europe/London"}, 0) is None
