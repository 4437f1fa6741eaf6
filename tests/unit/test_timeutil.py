"""Unit tests for RFC 3339 <-> epoch ms conversion."""

from __future__ import annotations

import pytest

from service.core.timeutil import format_rfc3339_ms, parse_rfc3339_ms


@pytest.mark.parametrize(
    ("text", "expected_ms"),
    [
        ("1970-01-01T00:00:00Z", 0),
        ("2025-03-14T17:42:05Z", 1_741_974_125_000),
        ("2025-03-14T18:42:05.250+01:00", 1_741_974_125_250),
        ("2025-03-14T12:12:05.25-05:30", 1_741_974_125_250),
        ("2025-03-14T17:42:05.123999999Z", 1_741_974_125_123),  # truncated, not rounded
        ("2025-03-14t17:42:05z", 1_741_974_125_000),  # RFC 3339 allows lower case
        ("2025-03-14T17:42:05-00:00", 1_741_974_125_000),
        ("1969-12-31T23:59:59.999Z", -1),
        ("2016-12-31T23:59:60Z", 1_483_228_800_000),  # leap second -> next second
        ("2024-02-29T00:00:00+14:00", 1_709_114_400_000),
    ],
)
def test_parse(text: str, expected_ms: int) -> None:
    assert parse_rfc3339_ms(text) == expected_ms


@pytest.mark.parametrize(
    "text",
    [
        "2025-03-14T17:42:05",  # no offset
        "2025-03-14",
        "2025-03-14 17:42:05Z",
        "20250314T174205Z",
        "2025-02-30T00:00:00Z",
        "2025-03-14T24:00:00Z",
        "2025-03-14T17:60:00Z",
        "2025-03-14T17:42:61Z",
        "2025-03-14T17:42:05+24:00",
        "2025-03-14T17:42:05+0100",
        "2025-03-14T17:42:05.Z",
        "２０２５-03-14T17:42:05Z",  # non-ASCII digits
        "",
    ],
)
def test_parse_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_rfc3339_ms(text)


@pytest.mark.parametrize(
    ("ms", "expected"),
    [
        (0, "1970-01-01T00:00:00.000Z"),
        (1_741_974_125_250, "2025-03-14T17:42:05.250Z"),
        (1_741_974_125_007, "2025-03-14T17:42:05.007Z"),
        (-1, "1969-12-31T23:59:59.999Z"),
        (-62_135_596_800_000, "0001-01-01T00:00:00.000Z"),
    ],
)
def test_format(ms: int, expected: str) -> None:
    assert format_rfc3339_ms(ms) == expected
    assert parse_rfc3339_ms(expected) == ms


@pytest.mark.parametrize("ms", [-62_135_596_800_001, 253_402_300_800_000, 10**20])
def test_format_rejects_out_of_range(ms: int) -> None:
    with pytest.raises(ValueError):
        format_rfc3339_ms(ms)
