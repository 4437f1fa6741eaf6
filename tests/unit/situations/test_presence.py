"""Near a store vs in a store: dwell, hysteresis at the fence edge, stale and replayed entries, accuracy."""

from __future__ import annotations

from typing import Any

import pytest

from service.core.situations.fence_track import Evidence, replay
from service.core.situations.presence import detect_stores
from service.core.state import CustomerState
from tests.factories import HOUR, MIN, T0, request
from tests.unit.situations.builders import (
    CFG,
    STORE,
    apply_all,
    fence_event,
    fix,
    make_ref,
    offset,
    timely,
)

REF = make_ref()


def where(state: CustomerState | None, now: int, req: dict[str, Any] | None = None) -> tuple[str | None, list[str]]:
    found = detect_stores(state, req or request(), REF, CFG, now)
    near = [s.store_id for s in found.near]
    return (None if found.in_store is None else found.in_store.store_id), near


@pytest.mark.parametrize(
    ("now", "in_store", "near"),
    [
        (T0 + 119_999, None, ["S1"]),  # dwell 1 ms below the 120 s threshold: near, not in
        (T0 + 120_000, "S1", []),  # exactly the threshold: in
        (T0 + 30 * MIN, "S1", []),  # last confirmation exactly presence_expiry_ms ago
        (T0 + 30 * MIN + 1, None, []),  # nothing confirmed it for longer: out
    ],
)
def test_dwell_threshold_and_expiry_after_a_provider_entry(now: int, in_store: str | None, near: list[str]) -> None:
    assert where(timely(fence_event("entered", T0)), now) == (in_store, near)


def test_a_dwell_event_says_since_when_she_is_inside() -> None:
    # the provider's dwell event at T0+60 s says she has been in for 90 s: in since T0-30 s
    state = timely(fence_event("dwelled", T0 + 60_000, dwell_s=90))
    found = detect_stores(state, request(), REF, CFG, T0 + 90_000)
    assert found.in_store is not None
    assert (found.in_store.since_ms, found.in_store.dwell_ms) == (T0 - 30_000, 120_000)


def test_an_exit_event_ends_the_stay() -> None:
    state = timely(fence_event("entered", T0), fence_event("exited", T0 + 5 * MIN))
    found = detect_stores(state, request(), REF, CFG, T0 + 6 * MIN)
    assert (found.in_store, found.near) == (None, ())
    assert "exited_by_event:S1" in found.reasons


def test_an_entry_arriving_after_the_exit_does_not_put_her_back_inside() -> None:
    # exit (T0+5 min) arrives first, the earlier entry (T0) after it, still within the stale bound
    state = apply_all([(fence_event("exited", T0 + 5 * MIN), T0 + 5 * MIN + 500),
                       (fence_event("entered", T0), T0 + 6 * MIN)])
    found = detect_stores(state, request(), REF, CFG, T0 + 7 * MIN)
    assert found.in_store is None
    assert "entry_before_exit:g-s1" in found.reasons


def test_a_replayed_old_entry_never_puts_her_in_the_store() -> None:
    # occurred T0, arrived two hours later (a provider replaying its backlog)
    state = apply_all([(fence_event("entered", T0), T0 + 2 * HOUR)])
    found = detect_stores(state, request(), REF, CFG, T0 + 2 * HOUR + MIN)
    assert (found.in_store, found.near) == (None, ())
    assert "stale_entry:g-s1" in found.reasons


def test_an_entry_arriving_just_within_the_stale_bound_counts() -> None:
    state = apply_all([(fence_event("entered", T0), T0 + CFG.stale_entry_ms)])
    assert where(state, T0 + CFG.stale_entry_ms, None)[0] == "S1"
    state = apply_all([(fence_event("entered", T0), T0 + CFG.stale_entry_ms + 1)])
    assert where(state, T0 + CFG.stale_entry_ms + 1, None)[0] is None


def test_a_six_slot_row_from_an_older_build_counts_as_timely() -> None:
    state = timely(fence_event("entered", T0))
    state["geofences"] = {"g-s1": state["geofences"]["g-s1"][:6]}
    assert where(state, T0 + 3 * MIN)[0] == "S1"


INSIDE = offset(STORE, 10, 0)  # 10 m north of the point, 40 m inside the 50 m circle
EDGE_IN = offset(STORE, 45, 0)  # 5 m inside the edge
BAND = offset(STORE, 70, 0)  # 20 m beyond the edge: inside the 30 m exit margin
OUT = offset(STORE, 100, 0)  # 50 m beyond the edge


@pytest.mark.parametrize(
    ("points", "inside_after"),
    [
        ([INSIDE], False),  # one fix is not enough to enter
        ([INSIDE, INSIDE], True),  # two consecutive good fixes inside: entered by fixes
        ([INSIDE, BAND, INSIDE], False),  # a band fix breaks the entry run
        ([INSIDE, INSIDE, OUT], True),  # one fix out: not yet left
        ([INSIDE, INSIDE, OUT, OUT], False),  # two consecutive fixes out: left
        # jitter at the edge: in, band, in, band, out, band... never two consecutive out fixes
        ([INSIDE, INSIDE, BAND, EDGE_IN, BAND, OUT, BAND, OUT, EDGE_IN, BAND], True),
        ([INSIDE, INSIDE, BAND, BAND, BAND, BAND], True),  # the margin band never exits
    ],
)
def test_fixes_enter_and_leave_with_hysteresis(points: list[dict[str, float]], inside_after: bool) -> None:
    events = [fix(T0 + i * 10_000, p) for i, p in enumerate(points)]
    found = detect_stores(timely(*events), request(), REF, CFG, T0 + (len(points) - 1) * 10_000)
    # "inside the fence" right after the last fix, whatever the dwell
    statuses = ([found.in_store] if found.in_store else []) + list(found.near)
    assert any(s.store_id == "S1" and s.inside_fence for s in statuses) is inside_after


def test_poor_accuracy_fixes_cause_no_transition() -> None:
    poor_in = [fix(T0 + i * 10_000, INSIDE, accuracy_m=150.0) for i in range(3)]
    found = detect_stores(timely(*poor_in), request(), REF, CFG, T0 + 30_000)
    assert found.in_store is None and all(not s.inside_fence for s in found.near)
    assert "poor_accuracy_fixes_ignored:3" in found.reasons
    # inside by event, then poor fixes far out: still inside
    state = timely(fence_event("entered", T0), *[fix(T0 + 60_000 + i * 10_000, OUT, accuracy_m=500.0)
                                               for i in range(3)])
    assert where(state, T0 + 3 * MIN)[0] == "S1"


def test_no_location_and_no_geofence_means_no_store() -> None:
    found = detect_stores(None, request(), REF, CFG, T0)
    assert (found.in_store, found.near, found.position, found.reasons) == (None, (), None, ("no_location",))


def test_near_by_approach_radius_with_the_distance() -> None:
    here = offset(STORE, 250, 0)
    found = detect_stores(None, request(location=here), REF, CFG, T0)
    assert found.in_store is None
    assert [(s.store_id, s.status, round(s.distance_m or 0)) for s in found.near] == [("S1", "near", 250)]
    far = detect_stores(None, request(location=offset(STORE, 301, 0)), REF, CFG, T0)
    assert far.near == ()


def test_mid_replay_expiry_starts_a_new_stay_afresh() -> None:
    # entered at T0, silence for 40 min, then one fix inside: the first stay expired and one fix
    # does not start a new one
    track = replay([Evidence(T0, "enter"), Evidence(T0 + 40 * MIN, "fix", side="in")], CFG, T0 + 40 * MIN)
    assert (track.inside, track.how) == (False, "presence_expired")


def test_a_dwell_duration_never_reaches_back_before_the_last_exit() -> None:
    track = replay([Evidence(T0, "exit"), Evidence(T0 + MIN, "dwell", dwell_ms=HOUR)], CFG, T0 + 2 * MIN)
    assert (track.inside, track.since_ms) == (True, T0)


def test_overlapping_store_fences_give_the_nearest_as_in_store_and_the_other_near() -> None:
    ref = make_ref({"S1": {"name": "A", "location": STORE, "radius_m": 50},
                    "S3": {"name": "B", "location": offset(STORE, 30, 0), "radius_m": 50}})
    state = timely(*[fix(T0 + i * 60_000, INSIDE) for i in range(4)])
    found = detect_stores(state, request(), ref, CFG, T0 + 3 * 60_000)
    assert found.in_store is not None and found.in_store.store_id == "S1"
    assert [(s.store_id, s.status) for s in found.near] == [("S3", "near")]
    assert found.near[0].reasons[-1] == "inside_another_store:S3"
