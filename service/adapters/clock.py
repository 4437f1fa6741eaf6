"""The one injected clock: decisions and everything time-driven on the stream read it.

`SystemClock` is the default. `ManualClock` is switched on by the test-clock setting (never by
default) so tests can cross days, cool-downs and quiet hours through an admin endpoint.
"""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    def now_ms(self) -> int: ...


class SystemClock:
    """Wall-clock time in epoch milliseconds."""

    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000


class MonotonicClock:
    """Milliseconds from an arbitrary start that never steps back (durations, rate limits)."""

    def now_ms(self) -> int:
        return time.monotonic_ns() // 1_000_000


class ManualClock:
    """A clock that only moves when told to; starts at the given time (or wall-clock now)."""

    def __init__(self, start_ms: int | None = None) -> None:
        self._now_ms = SystemClock().now_ms() if start_ms is None else start_ms

    def now_ms(self) -> int:
        return self._now_ms

    def set_ms(self, value_ms: int) -> None:
        self._now_ms = value_ms

    def advance_ms(self, delta_ms: int) -> None:
        if delta_ms < 0:
            raise ValueError("a clock does not go backwards: advance by a non-negative amount")
        self._now_ms += delta_ms
