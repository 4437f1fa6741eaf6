"""Core layer: inside/outside one store fence with hysteresis, replayed from time-ordered evidence.

Why a replay: the state keeps the latest enter, dwell and exit per geofence plus the recent
fixes, not a presence flag, so "inside" is recomputed from that evidence at every decision —
the same answer whatever order the events arrived in. The rules (issue: near vs in store):

- enter: a provider enter/dwell event, or `enter_confirm_fixes` consecutive good fixes inside
  the fence (a dwell event also says since when: its time minus its dwell_s);
- leave: an explicit exit event, or `exit_confirm_fixes` consecutive good fixes more than
  `exit_margin_m` beyond the edge. A fix in the margin band is neither in nor out: it breaks
  a run of "out" fixes as well as a run of "in" fixes, so GPS jitter at the edge cannot flap
  her in and out;
- poor fixes (accuracy_m > max_fix_accuracy_m) change nothing;
- expiry: inside, but no event or inside fix confirmed it for presence_expiry_ms: out — also
  between two pieces of evidence, so a stay after a long silence starts afresh.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from service.core.situations.config import SituationConfig
from service.core.situations.geo import FenceSide

EvidenceKind = Literal["enter", "dwell", "fix", "exit"]

# At equal times an exit wins (state_read's rule: inside while last enter/dwell > exit).
_ORDER: dict[str, int] = {"enter": 0, "dwell": 1, "fix": 2, "exit": 3}


@dataclass(frozen=True, slots=True)
class Evidence:
    """One observation about one fence: a provider event or a fix (with where it fell)."""

    t_ms: int
    kind: EvidenceKind
    side: FenceSide | None = None  # fixes only
    good: bool = True  # fixes only: accurate enough to cause a transition
    dwell_ms: int | None = None  # dwell events only: how long the provider says she was in


@dataclass(frozen=True, slots=True)
class Track:
    """Where the replay left her at now_ms."""

    inside: bool
    since_ms: int | None  # when the current stay began (None when outside)
    last_confirmed_ms: int | None  # latest event or inside fix confirming it (None when outside)
    how: str | None  # the last transition: entered_by_event|entered_by_fixes|exited_by_event|
    #                  exited_by_fixes|presence_expired, None if she was never inside
    poor_fixes: int  # fixes ignored for poor accuracy


def replay(evidence: Iterable[Evidence], cfg: SituationConfig, now_ms: int) -> Track:
    """Replay the evidence up to now_ms (later items are ignored) in event-time order."""
    inside = False
    since = confirmed = run_start = last_exit = None
    ins = outs = poor = 0
    how: str | None = None
    for e in sorted(evidence, key=lambda e: (e.t_ms, _ORDER[e.kind])):
        if e.t_ms > now_ms:
            break
        if inside and confirmed is not None and e.t_ms - confirmed > cfg.presence_expiry_ms:
            inside, since, confirmed, how = False, None, None, "presence_expired"
        if e.kind == "fix":
            if not e.good:
                poor += 1
            elif e.side == "in":
                outs = 0
                if inside:
                    confirmed = e.t_ms
                    continue
                run_start = e.t_ms if ins == 0 else run_start
                ins += 1
                if ins >= cfg.enter_confirm_fixes:
                    inside, since, confirmed, how, ins = True, run_start, e.t_ms, "entered_by_fixes", 0
            elif e.side == "out":
                ins = 0
                if inside:
                    outs += 1
                    if outs >= cfg.exit_confirm_fixes:
                        inside, since, confirmed, how, outs = False, None, None, "exited_by_fixes", 0
                        last_exit = e.t_ms
            else:  # margin band: breaks both runs, causes no transition
                ins = outs = 0
        elif e.kind == "exit":
            ins = outs = 0
            last_exit = e.t_ms
            if inside:
                inside, since, confirmed, how = False, None, None, "exited_by_event"
        else:
            ins = outs = 0
            if not inside:
                start = e.t_ms - (e.dwell_ms or 0)
                # A dwell's duration may span an earlier visit (providers report the longest);
                # the stay cannot have begun before she was last seen leaving.
                since = start if last_exit is None else max(start, last_exit)
                inside, how = True, "entered_by_event"
            confirmed = e.t_ms
    if inside and confirmed is not None and now_ms - confirmed > cfg.presence_expiry_ms:
        inside, since, confirmed, how = False, None, None, "presence_expired"
    return Track(inside, since, confirmed, how, poor)
