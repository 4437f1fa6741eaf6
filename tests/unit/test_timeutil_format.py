"""Unit tests: format_rfc3339_ms (remembered per second) agrees with datetime for every millisecond case."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from service.core.timeutil import format_rfc3339_ms

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def reference(ms: int) -> str:
    return (EPOCH + timedelta(milliseconds=ms)).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@pytest.mark.parametrize("ms", [0, -1, 1, 999, 1000, -1000, -1001, 1_764_835_200_123, 253_402_300_799_999,
                                -62_135_596_800_000])
def test_edges(ms: int) -> None:
    assert format_rfc3339_ms(ms) == reference(ms)


def test_many_milliseconds_within_and_across_seconds() -> None:
    rng = random.Random(7)
    base = 1_764_835_200_000
    for ms in [base + rng.randrange(-5_000, 5_000) for _ in range(2_000)] + [
            rng.randrange(-62_135_596_800_000, 253_402_300_799_999) for _ in range(2_000)]:
        assert format_rfc3339_ms(ms) == reference(ms)


@pytest.mark.parametrize("ms", [253_402_300_800_000, -62_135_596_800_001, 10**30])
def test_out_of_range_is_a_value_error_naming_the_ms(ms: int) -> None:
    with pytest.raises(ValueError, match=f"epoch ms out of range: {ms}"):
        format_rfc3339_ms(ms)
