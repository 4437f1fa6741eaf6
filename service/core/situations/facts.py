"""Core layer: the raw facts detectors share — a defaulted state record, location fixes, her position.

Detectors accept the decoded state record as it is stored (service.core.state layout), None
for an unknown customer, or a partial dict (tests, a record from an older build): missing
collections read as empty.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from service.core.situations.config import SituationConfig
from service.core.state import new_state

State = Mapping[str, Any]

_EMPTY: Mapping[str, Any] = new_state("")


def record(state: State | None) -> State:
    """The state with every top-level key present (empty defaults for missing ones)."""
    if state is None:
        return _EMPTY
    if _EMPTY.keys() <= state.keys():  # every key present (a set comparison, not a loop: asked 3 times a decision)
        return state
    return {**_EMPTY, **state}


@dataclass(frozen=True, slots=True)
class Fix:
    """One location fix; accuracy_m / speed_mps None when the source did not say."""

    t_ms: int
    lat: float
    lon: float
    accuracy_m: float | None
    speed_mps: float | None
    source: Literal["state", "request"] = "state"

    @property
    def point(self) -> tuple[float, float]:
        return (self.lat, self.lon)


def good(fix: Fix, cfg: SituationConfig) -> bool:
    """Accurate enough to move her in or out of a fence. An unstated accuracy counts as good:
    the decision request's location has no accuracy field, and hysteresis absorbs its noise."""
    return fix.accuracy_m is None or fix.accuracy_m <= cfg.max_fix_accuracy_m


def request_location(request: Mapping[str, Any] | None) -> tuple[float, float] | None:
    loc = None if request is None else request.get("location")
    return None if loc is None else (loc["lat"], loc["lon"])


def fixes(state: State, request: Mapping[str, Any] | None, now_ms: int) -> list[Fix]:
    """Fixes up to now_ms, oldest first: the state's, plus the request's location at now_ms.

    Fixes later than now_ms are left out, so a detector evaluated "as of" a past moment sees
    only what was known then.
    """
    out = [Fix(r[0], r[1], r[2], r[3], r[4]) for r in state["locations"] if r[0] <= now_ms]
    out.sort(key=lambda f: f.t_ms)
    here = request_location(request)
    if here is not None:
        out.append(Fix(now_ms, here[0], here[1], None, None, "request"))
    return out


def position(all_fixes: list[Fix], cfg: SituationConfig, now_ms: int) -> Fix | None:
    """Where she is now: the newest good fix no older than position_max_age_ms, else None."""
    for fix in reversed(all_fixes):
        if fix.t_ms < now_ms - cfg.position_max_age_ms:
            return None
        if good(fix, cfg):
            return fix
    return None


def home_area(state: State) -> tuple[float, float] | None:
    """The home area she gave in her profile, as (lat, lon)."""
    row = state["profile"].get("home_area")
    return None if row is None else (row[0][0], row[0][1])


def profile_value(state: State, key: str) -> Any:
    """A profile fact's value (latest by event time), or None."""
    row = state["profile"].get(key)
    return None if row is None else row[0]
