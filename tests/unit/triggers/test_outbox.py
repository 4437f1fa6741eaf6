"""The outbox: each triggered message is sent, held until the next time her contact budget allows
it, or dropped with a reason — with the exact records, state rows and funnel counts."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from service.core.policy.model import Policy
from service.core.timeutil import format_rfc3339_ms, parse_rfc3339_ms
from service.core.triggers.model import Candidate, Count
from service.core.triggers.outbox import Env, Result, next_due_ms, plan, release, section
from service.core.triggers.render import notification_id
from tests.factories import response_validator
from tests.unit.decide_fixtures import POLICY, anna, ev
from tests.unit.triggers.helpers import after

MIN, HOUR, DAY = 60_000, 3_600_000, 86_400_000
T = parse_rfc3339_ms("2026-12-03T17:30:00Z")  # Thursday, London = UTC in winter
LATE = parse_rfc3339_ms("2026-12-03T21:30:00Z")
NOTIFICATION = response_validator("notification.schema.json")
FACTS = {"near_store": True, "consent_push": True, "consent_email": True, "loyalty_close": True,
         "channel_history": "online_only", "commuting": True, "days_since_order": 3.0, "daypart": "morning"}


def trigger(trigger_id: str, policy: Policy = POLICY) -> Any:
    return next(t for t in policy.triggers if t.id == trigger_id)


def cand(trigger_id: str, cause: str = "e-1", policy: Policy = POLICY, **params: Any) -> Candidate:
    defaults: dict[str, dict[str, Any]] = {
        "wishlist_nearby": {"product_id": "coat", "product_name": "Coat", "size": "M", "store_id": "S1",
                            "store_name": "London", "distance_m": 250},
        "loyalty_close": {"tier": "silver", "next_tier": "gold", "points": 920, "points_to_next": 80},
        "back_in_stock": {"product_id": "boots", "product_name": "Boots", "size": "38", "store_id": "online",
                          "store_name": "online"},
    }
    values = {"trigger": trigger_id, "customer_id": "c-anna", "local_date": "2026-12-03",
              **defaults.get(trigger_id, {}), **params}
    return Candidate(trigger(trigger_id, policy), values, cause)


def env(now_ms: int, policy: Policy = POLICY, zone: str = "Europe/London", **facts: Any) -> Env:
    return Env(policy, "c-anna", zone, "en-GB", now_ms, {**FACTS, **facts})


def her(*more: dict[str, Any], t: int = T) -> dict[str, Any]:
    return anna(t - DAY, *more)


def stages(result: Result) -> list[tuple[str, str, str | None]]:
    return [(c.kind, c.stage, c.reason) for c in result.counts]


def test_sent_now_with_the_exact_record_contact_ledger_and_log() -> None:
    state = her()
    result = plan(state, [cand("wishlist_nearby")], env(T))
    nid = notification_id("c-anna", "wishlist_nearby", "wishlist_nearby:coat:S1", "e-1")
    assert result.sent == [{
        "notification_id": nid, "customer_id": "c-anna", "trigger": "wishlist_nearby",
        "situation": "wishlist_item_near_store", "channel": "push", "dedup_key": "wishlist_nearby:coat:S1",
        "created_at": "2026-12-03T17:30:00.000Z", "sent_at": "2026-12-03T17:30:00.000Z",
        "expires_at": "2026-12-03T17:45:00.000Z", "locale": "en", "title": "Your wishlist item is here",
        "body": "Coat is in stock in your size at London, 250 m away.",
        "data": {"distance_m": 250, "product_id": "coat", "product_name": "Coat", "size": "M", "store_id": "S1",
                 "store_name": "London"},
        "policy_version": "default-2026.12.2"}]
    NOTIFICATION.validate(result.sent[0])
    assert stages(result) == [("wishlist_item_near_store", "detected", None),
                              ("wishlist_item_near_store", "eligible", None),
                              ("wishlist_item_near_store", "sent", None)]
    assert result.state["contacts"][0] == ["s", T, nid, "push", "wishlist_nearby", "wishlist_nearby:coat:S1"]
    notify = result.state["notify"]
    assert notify["pending"] == []
    assert notify["log"] == [[T, nid, "wishlist_nearby", "push", "sent", None]]
    assert [t for _d, t in notify["ledger"]] == [T]
    assert result.changed is True and state.get("notify") is None  # the input is not modified


def test_the_same_cause_makes_the_same_id_another_cause_another() -> None:
    a = plan(her(), [cand("wishlist_nearby")], env(T)).sent[0]["notification_id"]
    b = plan(her(ev("product.viewed", T - HOUR, product_id="x")), [cand("wishlist_nearby")],
             env(T + MIN)).sent[0]["notification_id"]
    c = plan(her(), [cand("wishlist_nearby", cause="e-2")], env(T)).sent[0]["notification_id"]
    assert a == b != c


def test_no_consent_is_suppressed_and_logged() -> None:
    state = her(ev("profile.updated", T - HOUR, consent={"push": False}))
    result = plan(state, [cand("wishlist_nearby")], env(T))
    assert result.sent == []
    assert stages(result) == [("wishlist_item_near_store", "detected", None),
                              ("wishlist_item_near_store", "suppressed", "no_consent")]
    assert [r[4:] for r in result.state["notify"]["log"]] == [["suppressed", "no_consent"]]


def test_a_trigger_whose_conditions_do_not_hold_is_not_eligible_and_changes_nothing() -> None:
    state = her()
    result = plan(state, [cand("wishlist_nearby")], env(T, near_store=False))
    assert (result.sent, result.changed, result.state) == ([], False, state)
    assert stages(result) == [("wishlist_item_near_store", "detected", None),
                              ("wishlist_item_near_store", "not_eligible", "condition")]


def test_a_dedup_key_goes_out_once() -> None:
    first = plan(her(), [cand("wishlist_nearby")], env(T))
    again = plan(first.state, [cand("wishlist_nearby", cause="e-9")], env(T + 2 * DAY))
    assert again.sent == []
    assert stages(again)[-1] == ("wishlist_item_near_store", "suppressed", "duplicate")


def test_quiet_hours_a_short_lived_push_expires_before_it_could_go() -> None:
    result = plan(her(t=LATE), [cand("wishlist_nearby")], env(LATE))
    assert result.sent == [] and section(result.state)["pending"] == []
    assert stages(result)[2:] == [("wishlist_item_near_store", "capped", "quiet_hours"),
                                  ("wishlist_item_near_store", "expired", "before_next_allowed")]


def test_quiet_hours_an_email_is_held_until_eight_then_sent_once() -> None:
    held = plan(her(t=LATE), [cand("loyalty_close")], env(LATE))
    eight = parse_rfc3339_ms("2026-12-04T08:00:00Z")
    assert stages(held)[2:] == [("loyalty_close", "capped", "quiet_hours"),
                                ("loyalty_close", "deferred", "quiet_hours")]
    [row] = held.state["notify"]["pending"]
    assert row[1:8] == ["loyalty_close", "loyalty_close", "email", LATE, eight, LATE + 3 * DAY, "loyalty_close:gold"]
    assert next_due_ms(held.state) == eight
    early = release(held.state, env(eight - 1))
    assert (early.sent, early.changed) == ([], False)
    out = release(held.state, env(eight))
    [email] = out.sent
    assert (email["created_at"], email["not_before"], email["sent_at"]) == (
        "2026-12-03T21:30:00.000Z", "2026-12-04T08:00:00.000Z", "2026-12-04T08:00:00.000Z")
    assert email["body"] == "Only 80 points to gold: previews and invitations await."
    NOTIFICATION.validate(email)
    assert stages(out) == [("loyalty_close", "sent", None)]
    assert out.state["notify"]["pending"] == [] and next_due_ms(out.state) is None
    assert release(out.state, env(eight + HOUR)).changed is False


def test_quiet_hours_follow_her_zone_across_the_dst_change() -> None:
    # 29 March 2026: London moves to BST. 21:30 local is 20:30 UTC; 08:00 next day is 07:00 UTC.
    evening = parse_rfc3339_ms("2026-03-29T20:30:00Z")
    held = plan(her(t=evening), [cand("loyalty_close")], env(evening))
    assert next_due_ms(held.state) == parse_rfc3339_ms("2026-03-30T07:00:00Z")
    # In Berlin (already CEST) 20:30 UTC is 22:30: quiet too, until 06:00 UTC.
    berlin = plan(her(t=evening), [cand("loyalty_close")], env(evening, zone="Europe/Berlin"))
    assert next_due_ms(berlin.state) == parse_rfc3339_ms("2026-03-30T06:00:00Z")


def test_the_push_cap_holds_the_second_push_for_an_hour() -> None:
    first = plan(her(), [cand("wishlist_nearby")], env(T))
    second = plan(first.state, [cand("back_in_stock")], env(T + 10 * MIN))
    assert stages(second)[2:] == [("back_in_stock", "capped", "cap"), ("back_in_stock", "deferred", "cap")]
    assert next_due_ms(second.state) == T + HOUR
    out = release(second.state, env(T + HOUR))
    assert [n["trigger"] for n in out.sent] == ["back_in_stock"]
    assert out.sent[0]["not_before"] == format_rfc3339_ms(T + HOUR)


def test_the_cooldown_never_sends_two_wishlist_pushes_within_a_day() -> None:
    first = plan(her(), [cand("wishlist_nearby")], env(T))
    other = cand("wishlist_nearby", cause="e-2", product_id="tee", product_name="Tee")
    second = plan(first.state, [other], env(T + 2 * HOUR))
    # the cool-down (24 h) outlasts the push's 15 minutes: expired, never sent
    assert stages(second)[2:] == [("wishlist_item_near_store", "capped", "cap"),
                                  ("wishlist_item_near_store", "expired", "before_next_allowed")]
    third = plan(first.state, [other], env(T + DAY + MIN))
    assert [n["dedup_key"] for n in third.sent] == ["wishlist_nearby:tee:S1"]


def test_a_withdrawn_consent_stops_a_held_message_before_it_is_due() -> None:
    held = plan(her(t=LATE), [cand("loyalty_close")], env(LATE)).state
    withdrawn = after(held, ev("profile.updated", LATE + MIN, consent={"email": False}))
    out = release(withdrawn, env(LATE + 2 * MIN))
    assert out.sent == [] and out.state["notify"]["pending"] == []
    assert stages(out) == [("loyalty_close", "suppressed", "consent_withdrawn")]


def test_a_held_message_expires_while_pending_and_is_counted() -> None:
    held = plan(her(t=LATE), [cand("loyalty_close")], env(LATE)).state
    out = release(held, env(LATE + 3 * DAY))
    assert (out.sent, stages(out)) == ([], [("loyalty_close", "expired", "while_pending")])


def test_held_again_when_the_day_cap_is_full_at_release() -> None:
    # Two messages went out at 08:00 on Friday: the held email waits for Saturday 08:00 (the day
    # cap releases at midnight, quiet hours then hold it until 08:00).
    held = plan(her(t=LATE), [cand("loyalty_close")], env(LATE)).state
    eight = parse_rfc3339_ms("2026-12-04T08:00:00Z")
    busy = {**held, "contacts": [["s", eight, f"n-{i}", "email", "x", f"k-{i}"] for i in range(2)]
            + held["contacts"]}
    out = release(busy, env(eight))
    assert out.sent == [] and out.changed is True
    assert next_due_ms(out.state) == parse_rfc3339_ms("2026-12-05T08:00:00Z")
    assert stages(out) == []  # held again: counted once, when it was first capped


def test_a_candidate_already_held_is_a_duplicate() -> None:
    held = plan(her(t=LATE), [cand("loyalty_close")], env(LATE)).state
    again = plan(held, [cand("loyalty_close", cause="e-2")], env(LATE + MIN))
    assert stages(again)[-1] == ("loyalty_close", "suppressed", "duplicate")
    assert len(again.state["notify"]["pending"]) == 1


def test_at_most_ten_held_messages() -> None:
    state = her(t=LATE)
    for n in range(10):
        state = plan(state, [cand("loyalty_close", next_tier=f"tier-{n}")], env(LATE)).state
    eleventh = plan(state, [cand("loyalty_close", next_tier="tier-10")], env(LATE))
    assert stages(eleventh)[-1] == ("loyalty_close", "suppressed", "pending_full")
    assert len(eleventh.state["notify"]["pending"]) == 10


def test_a_trigger_removed_from_the_policy_drops_its_held_messages() -> None:
    held = plan(her(t=LATE), [cand("loyalty_close")], env(LATE)).state
    reloaded = dataclasses.replace(POLICY, triggers=tuple(t for t in POLICY.triggers if t.id != "loyalty_close"))
    out = release(held, env(LATE + MIN, policy=reloaded))
    assert stages(out) == [("loyalty_close", "suppressed", "trigger_removed")]


def test_texts_follow_her_locale_chain() -> None:
    result = plan(her(), [cand("wishlist_nearby")], dataclasses.replace(env(T), locale="de-AT"))
    assert (result.sent[0]["locale"], result.sent[0]["title"], result.sent[0]["body"]) == (
        "de", "Dein Wunschartikel ist hier", "Coat gibt es in deiner Größe bei London, 250 m entfernt.")


@pytest.mark.parametrize("stage", ["detected", "eligible", "sent"])
def test_counts_use_the_trigger_situation_never_its_id(stage: str) -> None:
    result = plan(her(), [cand("wishlist_nearby")], env(T))
    assert Count("wishlist_item_near_store", stage) in result.counts  # type: ignore[arg-type]


def test_a_state_with_held_and_sent_messages_is_schema_valid() -> None:
    from tests.unit.test_state_schema import schema_errors

    state = plan(her(t=LATE), [cand("loyalty_close"), cand("wishlist_nearby")], env(LATE)).state
    sent = plan(state, [cand("back_in_stock")], env(LATE + 11 * HOUR)).state
    assert sent["notify"]["log"][0][4] == "sent"
    assert schema_errors(sent) == []


@pytest.mark.parametrize(("daypart", "eligible"), [("morning", True), ("evening", False)])
def test_the_outfit_tip_is_for_a_weekday_morning_commute(daypart: str, eligible: bool) -> None:
    tip = cand("post_order_outfit", order_id="o-1", product_id="coat", product_name="Coat")
    result = plan(her(), [tip], env(T, daypart=daypart))
    assert [n["trigger"] for n in result.sent] == (["post_order_outfit"] if eligible else [])
