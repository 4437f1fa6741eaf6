"""The contact budget: rolling and local-day caps, quiet hours in her zone (DST), de-duplication, next allowed time."""

from __future__ import annotations

import pytest

from service.core.budget import Budget, Cap, Contact, QuietHours, check, sent_contacts
from service.core.timeutil import format_rfc3339_ms, parse_rfc3339_ms

H = 3_600_000
BERLIN = "Europe/Berlin"
PUSH_PER_HOUR = Cap(1, "rolling", H, frozenset({"push"}), name="push_per_hour")
THREE_PER_DAY = Cap(3, "rolling", 24 * H, name="three_per_24h")
ONE_A_DAY = Cap(1, "local_day", channels=frozenset({"push", "email"}), name="one_per_local_day")
QUIET = QuietHours(21 * 60, 8 * 60)


def at(text: str) -> int:
    return parse_rfc3339_ms(text)


def push(text: str, source: str = "wishlist_nearby", key: str | None = None) -> Contact:
    return Contact(at(text), "push", source, key)


def verdict(contacts: list[Contact], now: str, budget: Budget, channel: str = "push", source: str = "t",
            key: str | None = None, extra: tuple[Cap, ...] = ()) -> tuple[bool, str, str | None]:
    v = check(contacts, channel, source, key, budget, BERLIN, at(now), extra)
    return v.allowed, v.reason, None if v.next_allowed_ms is None else format_rfc3339_ms(v.next_allowed_ms)


@pytest.mark.parametrize(
    ("contacts", "now", "channel", "budget", "expected"),
    [
        ([], "2026-12-03T12:00:00Z", "push", Budget((PUSH_PER_HOUR,)), (True, "ok", None)),
        ([push("2026-12-03T11:30:00Z")], "2026-12-03T12:00:00Z", "push", Budget((PUSH_PER_HOUR,)),
         (False, "cap", "2026-12-03T12:30:00.000Z")),
        # exactly one period later: out of the window
        ([push("2026-12-03T11:00:00Z")], "2026-12-03T12:00:00Z", "push", Budget((PUSH_PER_HOUR,)),
         (True, "ok", None)),
        # three in 24 h: the oldest of the three releases the cap
        ([push("2026-12-02T13:00:00Z"), push("2026-12-02T18:00:00Z"), push("2026-12-03T09:00:00Z")],
         "2026-12-03T12:00:00Z", "push", Budget((THREE_PER_DAY,)), (False, "cap", "2026-12-03T13:00:00.000Z")),
        # an email is not limited by a push-only cap, but by a cap over every channel
        ([push("2026-12-03T11:30:00Z")], "2026-12-03T12:00:00Z", "email", Budget((PUSH_PER_HOUR,)),
         (True, "ok", None)),
        ([push("2026-12-02T13:00:00Z"), push("2026-12-02T18:00:00Z"), push("2026-12-03T09:00:00Z")],
         "2026-12-03T12:00:00Z", "email", Budget((THREE_PER_DAY,)), (False, "cap", "2026-12-03T13:00:00.000Z")),
    ],
)
def test_rolling_caps(contacts: list[Contact], now: str, channel: str, budget: Budget,
                      expected: tuple[bool, str, str | None]) -> None:
    assert verdict(contacts, now, budget, channel) == expected


@pytest.mark.parametrize(
    ("contacts", "now", "expected"),
    [
        # 23:30 local in December (+01:00): blocked until her local midnight
        (["2026-12-03T08:00:00Z"], "2026-12-03T22:30:00Z", (False, "cap", "2026-12-03T23:00:00.000Z")),
        # a contact at 23:59 local; at local midnight the new day begins: allowed
        (["2026-12-03T22:59:00Z"], "2026-12-03T23:00:00Z", (True, "ok", None)),
        (["2026-12-03T22:59:00Z"], "2026-12-03T22:59:30Z", (False, "cap", "2026-12-03T23:00:00.000Z")),
        # her local day changed while the UTC day did not (23:50 -> 00:10 local, both on 3 Dec UTC)
        (["2026-12-03T22:50:00Z"], "2026-12-03T23:10:00Z", (True, "ok", None)),
        (["2026-12-03T23:10:00Z"], "2026-12-04T01:00:00Z", (False, "cap", "2026-12-04T23:00:00.000Z")),
        # DST: Sunday 2026-03-29 in Berlin is 23 hours long; its midnight is 22:00 UTC
        (["2026-03-29T09:00:00Z"], "2026-03-29T21:30:00Z", (False, "cap", "2026-03-29T22:00:00.000Z")),
        # the day before it started at 23:00 UTC (+01:00)
        (["2026-03-28T22:00:00Z"], "2026-03-28T22:30:00Z", (False, "cap", "2026-03-28T23:00:00.000Z")),
        # fall back: Sunday 2026-10-25 is 25 hours long: midnight after it is 23:00 UTC
        (["2026-10-25T06:00:00Z"], "2026-10-25T22:30:00Z", (False, "cap", "2026-10-25T23:00:00.000Z")),
    ],
)
def test_a_cap_per_local_day_resets_at_her_midnight(contacts: list[str], now: str,
                                                     expected: tuple[bool, str, str | None]) -> None:
    assert verdict([push(c) for c in contacts], now, Budget((ONE_A_DAY,))) == expected


@pytest.mark.parametrize(
    ("now", "channel", "expected"),
    [
        ("2026-12-03T19:59:00Z", "push", (True, "ok", None)),  # 20:59 local
        ("2026-12-03T20:00:00Z", "push", (False, "quiet_hours", "2026-12-04T07:00:00.000Z")),  # 21:00 local
        ("2026-12-04T06:59:00Z", "email", (False, "quiet_hours", "2026-12-04T07:00:00.000Z")),  # 07:59 local
        ("2026-12-04T07:00:00Z", "push", (True, "ok", None)),  # 08:00 local: over
        ("2026-12-03T22:00:00Z", "screen", (True, "ok", None)),  # the screen has no quiet hours
        # DST night: 01:30 CET on 2026-03-29; quiet hours end at 08:00 CEST = 06:00 UTC (not 07:00)
        ("2026-03-29T00:30:00Z", "push", (False, "quiet_hours", "2026-03-29T06:00:00.000Z")),
        # the night the clocks go back: 08:00 CET = 07:00 UTC
        ("2026-10-25T01:30:00Z", "push", (False, "quiet_hours", "2026-10-25T07:00:00.000Z")),
    ],
)
def test_quiet_hours_in_her_local_time(now: str, channel: str, expected: tuple[bool, str, str | None]) -> None:
    assert verdict([], now, Budget(quiet_hours=QUIET), channel) == expected


def test_a_quiet_window_inside_one_day() -> None:
    lunch = QuietHours(12 * 60, 13 * 60)
    assert verdict([], "2026-12-03T11:30:00Z", Budget(quiet_hours=lunch)) == (False, "quiet_hours",
                                                                              "2026-12-03T12:00:00.000Z")
    assert verdict([], "2026-12-03T12:00:00Z", Budget(quiet_hours=lunch))[0] is True


def test_next_allowed_time_satisfies_every_rule_at_once() -> None:
    # a cap released at 21:30 local falls into quiet hours: the next allowed time is 08:00 local
    contacts = [push("2026-12-03T19:30:00Z")]  # 20:30 local
    budget = Budget((PUSH_PER_HOUR,), QUIET)
    assert verdict(contacts, "2026-12-03T19:45:00Z", budget) == (False, "cap", "2026-12-04T07:00:00.000Z")
    # spent the local-day cap at 09:00 local; at 21:30 local the cap releases at midnight, which
    # is in quiet hours: the next allowed time is 08:00 local the next day
    budget = Budget((ONE_A_DAY,), QUIET)
    assert verdict([push("2026-12-03T08:00:00Z")], "2026-12-03T20:30:00Z", budget) == (
        False, "cap", "2026-12-04T07:00:00.000Z")


def test_dedup_keys_suppress_and_never_defer() -> None:
    contacts = [push("2026-12-01T10:00:00Z", key="wishlist:p1:S1")]
    assert verdict(contacts, "2026-12-03T12:00:00Z", Budget(), key="wishlist:p1:S1") == (False, "duplicate", None)
    assert verdict(contacts, "2026-12-03T12:00:00Z", Budget(), key="wishlist:p2:S1") == (True, "ok", None)
    short = Budget(dedup_window_ms=24 * H)
    assert verdict(contacts, "2026-12-03T12:00:00Z", short, key="wishlist:p1:S1") == (True, "ok", None)


def test_a_cool_down_is_a_cap_of_one_for_one_source() -> None:
    cool = Cap(1, "rolling", 24 * H, sources=frozenset({"wishlist_nearby"}), name="cooldown")
    contacts = [push("2026-12-03T09:00:00Z", source="wishlist_nearby")]
    assert verdict(contacts, "2026-12-03T12:00:00Z", Budget(), source="wishlist_nearby", extra=(cool,)) == (
        False, "cap", "2026-12-04T09:00:00.000Z")
    assert verdict(contacts, "2026-12-03T12:00:00Z", Budget(), source="back_in_stock", extra=(cool,)) == (
        True, "ok", None)


def test_sent_contacts_reads_the_state_rows_and_skips_reactions() -> None:
    state = {"contacts": [["s", 5, "n-1", "push", "wishlist_nearby", "k1"], ["n", 4, "n-0", None, None],
                          ["c", 3, None, "last_seen", "p1"], ["s", 2, "d-1", "screen", "exclusive_preview", None]]}
    assert sent_contacts(state) == [Contact(5, "push", "wishlist_nearby", "k1"),
                                    Contact(2, "screen", "exclusive_preview", None)]
    assert sent_contacts(None) == []
