"""Core layer: one contact budget per customer across push, email and screen incentives.

Rules (docs/POLICY.md, "Contact budget"):
- caps count her contacts over a rolling window (`period_ms`, a contact at t counts while
  now < t + period_ms) or her local calendar day (midnight to midnight in her zone, so a day
  is 23 or 25 hours on a DST change); a cap may be limited to channels and to sources (the
  trigger or incentive that made the contact) — a cool-down is a cap of 1 for one source;
- quiet hours [start, end) in her local wall time, for the channels they name (never the
  screen: she opened the app herself);
- a contact whose de-duplication key she already had within dedup_window_ms is suppressed,
  never deferred.
`check` says whether a contact may be made at now_ms and, when blocked by a cap or quiet
hours, the next allowed time: the earliest moment at which every rule allows it (computed by
moving forward to each blocking rule's release, at most 16 steps).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any, Literal

from service.core.situations.localtime import local_datetime, zone

MINUTE_MS = 60_000
DAY_MS = 24 * 60 * MINUTE_MS
_STEPS = 16


@dataclass(frozen=True, slots=True)
class Contact:
    """One contact she got: a push or email sent, or an incentive shown on a screen."""

    t_ms: int
    channel: str  # push, email or screen
    source: str  # id of the trigger or incentive that made it
    dedup_key: str | None = None


@dataclass(frozen=True, slots=True)
class Cap:
    max: int
    window: Literal["rolling", "local_day"]
    period_ms: int = 0  # rolling only
    channels: frozenset[str] = frozenset()  # empty: every channel
    sources: frozenset[str] = frozenset()  # empty: every source
    name: str = "cap"

    def counts(self, c: Contact) -> bool:
        return (not self.channels or c.channel in self.channels) and (not self.sources or c.source in self.sources)


@dataclass(frozen=True, slots=True)
class QuietHours:
    start_minute: int  # local wall clock, minutes after midnight
    end_minute: int  # exclusive; end < start wraps over midnight
    channels: frozenset[str] = frozenset({"push", "email"})

    def covers(self, minute: int) -> bool:
        if self.start_minute <= self.end_minute:
            return self.start_minute <= minute < self.end_minute
        return minute >= self.start_minute or minute < self.end_minute


@dataclass(frozen=True, slots=True)
class Budget:
    caps: tuple[Cap, ...] = ()
    quiet_hours: QuietHours | None = None
    dedup_window_ms: int = 90 * DAY_MS


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    reason: Literal["ok", "duplicate", "cap", "quiet_hours"]
    detail: str
    next_allowed_ms: int | None = None  # when blocked by caps/quiet hours; None: allowed now or never
    blocking: tuple[str, ...] = field(default=())


def sent_contacts(state: Mapping[str, Any] | None) -> list[Contact]:
    """Contacts from the state's "s" rows: ["s", t, ref, channel, source, dedup_key|null]."""
    if state is None:
        return []
    return [Contact(r[1], r[3], r[4], r[5]) for r in state.get("contacts", ()) if r[0] == "s" and len(r) >= 6]


def _next_local_midnight_ms(t_ms: int, zone_name: str) -> int:
    local = local_datetime(t_ms, zone_name)
    tz = zone(zone_name)
    nxt = datetime.combine(local.date() + timedelta(days=1), time(0, 0), tzinfo=tz or local.tzinfo)
    return int(nxt.timestamp() * 1000)


def _quiet_end_ms(t_ms: int, quiet: QuietHours, zone_name: str) -> int:
    local = local_datetime(t_ms, zone_name)
    minute = local.hour * 60 + local.minute
    day = local.date()
    if quiet.start_minute > quiet.end_minute and minute >= quiet.start_minute:
        day += timedelta(days=1)
    end = datetime.combine(day, time(quiet.end_minute // 60, quiet.end_minute % 60), tzinfo=zone(zone_name)
                           or local.tzinfo)
    # A wall time in a spring-forward gap maps past the gap (fold=0 takes the old offset).
    return max(int(end.timestamp() * 1000), t_ms + 1)


def _cap_release_ms(cap: Cap, counted: Sequence[Contact], t_ms: int, zone_name: str) -> int | None:
    """When the cap stops blocking at t_ms, or None when it does not block."""
    if cap.window == "rolling":
        live = sorted(c.t_ms for c in counted if t_ms - cap.period_ms < c.t_ms <= t_ms)
        if len(live) < cap.max:
            return None
        return live[len(live) - cap.max] + cap.period_ms
    today = local_datetime(t_ms, zone_name).date()
    n = sum(1 for c in counted if c.t_ms <= t_ms and local_datetime(c.t_ms, zone_name).date() == today)
    return None if n < cap.max else _next_local_midnight_ms(t_ms, zone_name)


def _blockers(contacts: Sequence[Contact], channel: str, source: str, caps: Iterable[Cap], budget: Budget,
              zone_name: str, t_ms: int) -> list[tuple[str, int]]:
    found: list[tuple[str, int]] = []
    probe = Contact(t_ms, channel, source)
    for cap in caps:
        if not cap.counts(probe):
            continue
        release = _cap_release_ms(cap, [c for c in contacts if cap.counts(c)], t_ms, zone_name)
        if release is not None:
            found.append((cap.name, release))
    quiet = budget.quiet_hours
    if quiet is not None and channel in quiet.channels:
        local = local_datetime(t_ms, zone_name)
        if quiet.covers(local.hour * 60 + local.minute):
            found.append(("quiet_hours", _quiet_end_ms(t_ms, quiet, zone_name)))
    return found


def check(
    contacts: Sequence[Contact],
    channel: str,
    source: str,
    dedup_key: str | None,
    budget: Budget,
    zone_name: str,
    now_ms: int,
    extra_caps: Sequence[Cap] = (),
) -> Verdict:
    """May `source` contact her on `channel` at now_ms? extra_caps are the source's own caps
    (an incentive's or trigger's caps and cool-down), checked with the budget's caps."""
    if dedup_key is not None:
        for c in contacts:
            if c.dedup_key == dedup_key and now_ms - budget.dedup_window_ms < c.t_ms <= now_ms:
                return Verdict(False, "duplicate", f"already sent {dedup_key!r} at {c.t_ms}")
    caps = (*budget.caps, *extra_caps)
    first = _blockers(contacts, channel, source, caps, budget, zone_name, now_ms)
    if not first:
        return Verdict(True, "ok", "within every cap, outside quiet hours")
    t = now_ms
    blockers = first
    for _ in range(_STEPS):
        t = max(release for _name, release in blockers)
        blockers = _blockers(contacts, channel, source, caps, budget, zone_name, t)
        if not blockers:
            break
    names = tuple(sorted({name for name, _ in first}))
    reason: Literal["cap", "quiet_hours"] = "quiet_hours" if names == ("quiet_hours",) else "cap"
    return Verdict(False, reason, "blocked by " + ", ".join(names), None if blockers else t, names)
