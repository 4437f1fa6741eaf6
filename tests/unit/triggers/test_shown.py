"""An incentive shown on a screen counts once against her budget, from the decision record; the
contacts cap keeps the budget's evidence before her clicks."""

from __future__ import annotations

from typing import Any

from service.core.decide import decide_with_context, decision_record
from service.core.state_merge import cap_contacts
from service.core.triggers.shown import count_incentive, shown_incentive
from tests.factories import request
from tests.unit.decide_fixtures import DECISION_ID, EVENING, POLICY, anna, ev, make_ref
from tests.unit.situations.builders import STORE

MIN = 60_000
IN_STORE = [ev("geofence.entered", EVENING - 10 * MIN, geofence_id="g-s1", store_id="S1", location=STORE),
            ev("geofence.dwelled", EVENING - 5 * MIN, geofence_id="g-s1", store_id="S1", dwell_s=300)]


def decided(state: Any, now: int = EVENING) -> tuple[dict[str, Any], dict[str, Any]]:
    decision, context = decide_with_context(state, request(location=STORE), make_ref(), POLICY, now, DECISION_ID)
    return decision, decision_record(request(location=STORE), decision, context)


def test_the_free_alteration_counts_once_then_its_cooldown_holds() -> None:
    state = anna(EVENING, *IN_STORE)
    decision, rec = decided(state)
    assert (decision["screen"], decision["incentive"]["id"]) == ("in_store", "free_alteration")
    assert shown_incentive(rec) == (DECISION_ID, "free_alteration", EVENING)
    counted = count_incentive(state, "c-anna", shown_incentive(rec), 50)  # type: ignore[arg-type]
    assert counted is not None
    assert counted["contacts"][0] == ["s", EVENING, DECISION_ID, "screen", "free_alteration", None]
    assert count_incentive(counted, "c-anna", shown_incentive(rec), 50) is None  # redelivered: once
    after, _ = decided(counted, EVENING + MIN)
    assert after["incentive"] is None
    assert [r["detail"] for r in after["reasons"] if r["code"] == "incentive.over_budget"] == [
        "free_alteration: blocked by free_alteration.cooldown; next allowed 2026-12-04T19:30:00.000Z"]


def test_a_decision_without_an_incentive_counts_nothing() -> None:
    _, rec = decided(anna(EVENING))
    assert rec["decision"]["incentive"] is None
    assert shown_incentive(rec) is None
    assert shown_incentive({"decision": "not an object"}) is None
    assert shown_incentive({"decision": {"incentive": {"id": "x"}, "decision_id": "d",
                                         "decided_at": "yesterday"}}) is None


def test_an_unknown_customer_gets_a_state_holding_the_contact() -> None:
    shown = ("0b7e7a8e-8d4c-4c4e-9a55-3f1d2c3b4a5f", "welcome", EVENING)
    counted = count_incentive(None, "c-new", shown, 50)
    assert counted is not None
    assert (counted["customer_id"], counted["contacts"]) == ("c-new", [["s", EVENING, shown[0], "screen", "welcome",
                                                                        None]])


def test_contacts_over_the_cap_lose_her_clicks_before_kairos_s_contacts() -> None:
    sends = [["s", 100 + i, f"n-{i}", "push", "t", f"k-{i}"] for i in range(3)]
    clicks = [["c", 200 + i, None, None, f"p-{i}"] for i in range(3)]
    kept = cap_contacts([*sends, *clicks], 4)
    assert kept == [["c", 202, None, None, "p-2"], ["s", 102, "n-2", "push", "t", "k-2"],
                    ["s", 101, "n-1", "push", "t", "k-1"], ["s", 100, "n-0", "push", "t", "k-0"]]
    assert cap_contacts(sends, 2) == [sends[2], sends[1]]  # then the oldest sends
    assert cap_contacts(clicks, 5) == clicks[::-1]
