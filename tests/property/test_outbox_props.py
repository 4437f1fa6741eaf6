"""Property tests of the contact budget and held messages, over random runs of triggered messages,
releases, consent changes and clock moves (docs/POLICY.md, "Triggers"):

- never two sends for one de-duplication key (within the dedup window: every run is shorter);
- never a push or email in quiet hours (21:00-08:00 her local time), never over a cap;
- a held message is sent by its expiry or counted expired (or dropped with a reason): every
  eligible message is accounted for exactly once, and nothing is left once all have expired;
- planning or releasing again at the same now_ms, on its own result, changes nothing.
"""

from __future__ import annotations

import itertools
from collections import Counter
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from service.core.situations.localtime import local_datetime
from service.core.state import apply_event
from service.core.timeutil import format_rfc3339_ms, parse_rfc3339_ms
from service.core.triggers.model import Candidate
from service.core.triggers.outbox import Env, plan, release, section
from tests.unit.decide_fixtures import POLICY, anna

MIN, HOUR, DAY = 60_000, 3_600_000, 86_400_000
START = parse_rfc3339_ms("2026-03-23T00:00:00Z")  # a Monday; the week holds London's DST change
ZONE = "Europe/London"
TRIGGERS = {t.id: t for t in POLICY.triggers}
FACTS = {"near_store": True, "consent_push": True, "consent_email": True, "loyalty_close": True,
         "channel_history": "online_only", "commuting": True, "days_since_order": 3.0, "daypart": "morning"}
PARAMS: dict[str, dict[str, Any]] = {
    "wishlist_nearby": {"product_name": "Coat", "size": "M", "store_id": "S1", "store_name": "London",
                        "distance_m": 250},
    "post_order_outfit": {"product_id": "coat", "product_name": "Coat"},
    "loyalty_close": {"tier": "silver", "points": 920, "points_to_next": 80},
    "back_in_stock": {"product_name": "Coat", "size": "M", "store_id": "online", "store_name": "online"},
    "store_recommendation": {"store_name": "London", "distance_m": 900},
}
KEY_FIELD = {"wishlist_nearby": "product_id", "post_order_outfit": "order_id", "loyalty_close": "next_tier",
             "back_in_stock": "product_id", "store_recommendation": "store_id"}

step = st.one_of(
    st.tuples(st.just("plan"), st.lists(st.tuples(st.sampled_from(sorted(TRIGGERS)), st.integers(0, 2)),
                                        min_size=1, max_size=3), st.integers(0, 8 * HOUR)),
    st.tuples(st.just("release"), st.just([]), st.integers(0, 12 * HOUR)),
    st.tuples(st.sampled_from(["push", "email"]), st.booleans(), st.integers(0, 3 * HOUR)),
)


def candidate(trigger_id: str, variant: int, n: int) -> Candidate:
    values = {"trigger": trigger_id, "customer_id": "c-anna", "local_date": "2026-03-23",
              **PARAMS[trigger_id], KEY_FIELD[trigger_id]: f"v{variant}"}
    return Candidate(TRIGGERS[trigger_id], values, f"cause-{n}")


def quiet(t_ms: int) -> bool:
    local = local_datetime(t_ms, ZONE)
    return local.hour >= 21 or local.hour < 8


@given(st.integers(0, 6 * 24 * 60), st.lists(step, min_size=8, max_size=30))
def test_budget_invariants_hold_over_any_run(start_minute: int, steps: list[Any]) -> None:
    now = START + start_minute * MIN
    state: dict[str, Any] = anna(now - DAY)
    sent: list[dict[str, Any]] = []
    eligible = outcomes = 0

    def run(kind: str, state: dict[str, Any], items: list[Candidate], at: int) -> dict[str, Any]:
        nonlocal eligible, outcomes
        env = Env(POLICY, "c-anna", ZONE, "en-GB", at, FACTS)
        result = plan(state, items, env) if kind == "plan" else release(state, env)
        again = plan(result.state, [], env) if kind == "plan" else release(result.state, env)
        assert (again.changed, again.sent) == (False, []), "not idempotent at the same now_ms"
        sent.extend(result.sent)
        counts = Counter((c.stage, c.reason) for c in result.counts)
        eligible += counts[("eligible", None)]
        after_eligible = [c for c in result.counts if c.stage in ("sent", "expired")
                          or (c.stage == "suppressed" and (kind == "release" or c.reason == "pending_full"))]
        outcomes += len(after_eligible)
        return result.state

    n = 0
    for kind, payload, advance in steps:
        now += advance
        if kind == "plan":
            items = []
            for trigger_id, variant in payload:
                n += 1
                items.append(candidate(trigger_id, variant, n))
            state = run("release", state, [], now)
            state = run("plan", state, items, now)
        elif kind == "release":
            state = run("release", state, [], now)
        else:
            profile = {"event_id": f"consent-{now}-{kind}", "type": "profile.updated", "source": "test",
                       "occurred_at": format_rfc3339_ms(now), "customer_id": "c-anna", "consent": {kind: payload}}
            applied = apply_event(state, profile, now).state
            assert applied is not None
            state = run("release", applied, [], now)
    # Every eligible message is sent, dropped with a reason, or still held (with time to go).
    pending = section(state)["pending"]
    assert all(row[6] > now for row in pending)
    assert eligible == outcomes + len(pending)
    state = run("release", state, [], now + 4 * DAY)  # past every expiry
    assert section(state)["pending"] == []
    assert eligible == outcomes

    keys = [s["dedup_key"] for s in sent]
    assert len(keys) == len(set(keys)), "a dedup key was sent twice"
    times = [parse_rfc3339_ms(s["sent_at"]) for s in sent]
    assert not [t for t in times if quiet(t)], "sent in quiet hours"
    for s in sent:
        created, at, expires = (parse_rfc3339_ms(s[k]) for k in ("created_at", "sent_at", "expires_at"))
        assert created <= at < expires, "sent after its expiry"
    pushes = sorted(t for s, t in zip(sent, times, strict=True) if s["channel"] == "push")
    assert all(b - a >= HOUR for a, b in itertools.pairwise(pushes)), "two pushes within an hour"
    per_day = Counter(local_datetime(t, ZONE).date() for t in times)
    assert max(per_day.values(), default=0) <= 2, "more than two messages on one local day"
