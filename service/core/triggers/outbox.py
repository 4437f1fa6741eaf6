"""Core layer: what happens to a triggered message — sent now, held (deferred) until the next
time her contact budget allows it, or dropped with a reason — and the record of it in her state.

State layout (top-level key "notify" of the state record, service/core/state.py):
  pending  [[notification_id, trigger_id, situation, channel, created_ms, due_ms, expires_ms,
             dedup_key, cause, params, data]]  held messages, due first; at most MAX_PENDING
  ledger   [[key_digest, t_ms]]  de-duplication keys sent, newest first, within the policy's
           dedup_window_s, at most MAX_LEDGER (the contacts' "s" rows also keep the key)
  log      [[t_ms, notification_id, trigger_id, channel, stage, reason|null]]  what became of her
           recent messages (sent, deferred, expired, suppressed), newest first, at most MAX_LOG
Times here are processing time (the injected clock's now_ms), like the contacts they gate.

Invariants (tests/property/test_outbox_props.py): a dedup key is sent at most once within the
dedup window, whatever is planned or released and however often; nothing is sent in quiet hours
or over a cap; a held message is sent by its expiry or counted expired; a plan or a release
repeated on its own result at the same now_ms changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from service.core.budget import Contact, check, sent_contacts
from service.core.policy.conditions import first_failure
from service.core.policy.model import Policy, Trigger
from service.core.situations.customer import consent
from service.core.situations.facts import record
from service.core.state_merge import cap_contacts
from service.core.triggers.model import Candidate, Count, ParamValue, Stage
from service.core.triggers.render import dedup_key, key_digest, notification_id, notification_record

NOTIFY = "notify"
MAX_PENDING = 10
MAX_LEDGER = 64
MAX_LOG = 20
# pending row slots
P_ID, P_TRIGGER, P_KIND, P_CHANNEL, P_CREATED, P_DUE, P_EXPIRES, P_KEY, P_CAUSE, P_PARAMS, P_DATA = range(11)


@dataclass(frozen=True, slots=True)
class Env:
    """Everything a plan or release needs besides the state: policy, her zone and locale, now."""

    policy: Policy
    customer_id: str
    zone: str
    locale: str | None
    now_ms: int
    facts: Mapping[str, Any] = field(default_factory=dict)  # the situations a trigger's `when` tests
    max_contacts: int = 50


@dataclass
class Result:
    state: dict[str, Any]
    sent: list[dict[str, Any]] = field(default_factory=list)  # notification records, in order
    counts: list[Count] = field(default_factory=list)
    changed: bool = False


def section(state: Mapping[str, Any] | None) -> dict[str, list[Any]]:
    raw = None if state is None else state.get(NOTIFY)
    if not isinstance(raw, Mapping):
        return {"pending": [], "ledger": [], "log": []}
    return {"pending": list(raw.get("pending", ())), "ledger": list(raw.get("ledger", ())),
            "log": list(raw.get("log", ()))}


def next_due_ms(state: Mapping[str, Any] | None) -> int | None:
    """When her earliest held message is due (None: nothing held)."""
    pending = section(state)["pending"]
    return min((r[P_DUE] for r in pending), default=None)


def needs_release(state: Mapping[str, Any] | None, now_ms: int) -> bool:
    """A held message is due, or its channel lost her consent (cheap: no situations derived)."""
    pending = section(state)["pending"]
    rec = record(state)
    return any(r[P_DUE] <= now_ms or not consent(rec, r[P_CHANNEL]) for r in pending)


def already_sent(state: Mapping[str, Any] | None, key: str, policy: Policy, now_ms: int) -> bool:
    """She had a message with this de-duplication key within the policy's dedup window."""
    since = now_ms - policy.budget.dedup_window_ms
    digest = key_digest(key)
    if any(d == digest and since < t <= now_ms for d, t in section(state)["ledger"]):
        return True
    return any(c.dedup_key == key and since < c.t_ms <= now_ms for c in sent_contacts(state))


class _Plan:
    """One pass over her messages: the state it builds and what it counts."""

    def __init__(self, state: Mapping[str, Any] | None, env: Env) -> None:
        self.env = env
        self.base: dict[str, Any] = dict(record(state)) if state is None else dict(state)
        self.notify = section(state)
        self.contacts: list[Any] = list(self.base.get("contacts", ()))
        self.result = Result(self.base)

    def count(self, kind: str, stage: Stage, reason: str | None = None) -> None:
        self.result.counts.append(Count(kind, stage, reason))

    def log(self, nid: str, trigger_id: str, channel: str, stage: str, reason: str | None) -> None:
        self.notify["log"] = [[self.env.now_ms, nid, trigger_id, channel, stage, reason], *self.notify["log"]][:MAX_LOG]
        self.result.changed = True

    def duplicate(self, key: str) -> bool:
        state = {**self.base, "contacts": self.contacts, NOTIFY: self.notify}
        return already_sent(state, key, self.env.policy, self.env.now_ms)

    def verdict(self, trigger_id: str, channel: str, caps: Sequence[Any]) -> Any:
        contacts = [Contact(r[1], r[3], r[4], r[5]) for r in self.contacts if r[0] == "s" and len(r) >= 6]
        env = self.env
        return check(contacts, channel, trigger_id, None, env.policy.budget, env.zone, env.now_ms, caps)

    def send(self, row: list[Any], not_before_ms: int | None) -> None:
        env = self.env
        nid, trigger_id, kind, channel, key = row[P_ID], row[P_TRIGGER], row[P_KIND], row[P_CHANNEL], row[P_KEY]
        trigger = _trigger(env.policy, trigger_id)
        title, body = (trigger.title, trigger.body) if trigger is not None else (trigger_id, trigger_id)
        values = {**row[P_PARAMS], "trigger": trigger_id, "customer_id": env.customer_id}
        self.result.sent.append(notification_record(
            env.policy, env.locale, env.customer_id, nid, trigger_id, kind, channel, key, title, body,
            values, row[P_DATA], row[P_CREATED], row[P_EXPIRES], env.now_ms, not_before_ms))
        self.contacts = cap_contacts([["s", env.now_ms, nid, channel, trigger_id, key], *self.contacts],
                                     env.max_contacts)
        since = env.now_ms - env.policy.budget.dedup_window_ms
        ledger = [r for r in self.notify["ledger"] if r[1] > since]
        self.notify["ledger"] = [[key_digest(key), env.now_ms], *ledger][:MAX_LEDGER]
        self.count(kind, "sent")
        self.log(nid, trigger_id, channel, "sent", None)

    def hold_or_expire(self, row: list[Any], verdict: Any, first: bool) -> list[Any] | None:
        """The row held until the next allowed time, or None when that is too late (expired)."""
        kind = row[P_KIND]
        nxt = verdict.next_allowed_ms
        if first:
            self.count(kind, "capped", verdict.reason)
        if nxt is None or nxt >= row[P_EXPIRES]:
            self.count(kind, "expired", "before_next_allowed")
            self.log(row[P_ID], row[P_TRIGGER], row[P_CHANNEL], "expired", "before_next_allowed")
            return None
        held = [*row]
        held[P_DUE] = nxt
        if first:
            self.count(kind, "deferred", verdict.reason)
            self.log(row[P_ID], row[P_TRIGGER], row[P_CHANNEL], "deferred", verdict.reason)
        self.result.changed = self.result.changed or held != row
        return held

    def finish(self) -> Result:
        if self.result.changed or self.result.sent:
            self.notify["pending"] = sorted(self.notify["pending"], key=lambda r: (r[P_DUE], r[P_ID]))
            self.result.state = {**self.base, "contacts": self.contacts, NOTIFY: self.notify}
            self.result.changed = True
        return self.result


def _trigger(policy: Policy, trigger_id: str) -> Trigger | None:
    return next((t for t in policy.triggers if t.id == trigger_id), None)


def plan(state: Mapping[str, Any] | None, candidates: Sequence[Candidate], env: Env) -> Result:
    """Send, hold or drop each candidate, in order (a message sent counts against the next)."""
    p = _Plan(state, env)
    rec = record(p.base)
    for cand in candidates:
        t = cand.trigger
        kind = t.situation
        key = dedup_key(t.dedup_key, cand.params)
        nid = notification_id(env.customer_id, t.id, key, cand.cause)
        p.count(kind, "detected")
        if not consent(rec, t.channel):
            p.count(kind, "suppressed", "no_consent")
            p.log(nid, t.id, t.channel, "suppressed", "no_consent")
            continue
        if first_failure(t.when, env.facts) is not None:
            p.count(kind, "not_eligible", "condition")
            continue
        if p.duplicate(key) or any(r[P_KEY] == key for r in p.notify["pending"]):
            p.count(kind, "suppressed", "duplicate")
            p.log(nid, t.id, t.channel, "suppressed", "duplicate")
            continue
        p.count(kind, "eligible")
        # Kept in a held row without what the row says already (trigger id, her id).
        params: dict[str, ParamValue] = {k: v for k, v in cand.params.items() if k not in ("trigger", "customer_id")}
        row = [nid, t.id, kind, t.channel, env.now_ms, env.now_ms, env.now_ms + t.expiry_ms, key, cand.cause,
               params, dict(cand.data)]
        verdict = p.verdict(t.id, t.channel, t.caps)
        if verdict.allowed:
            p.send(row, None)
            continue
        held = p.hold_or_expire(row, verdict, first=True)
        if held is None:
            continue
        if len(p.notify["pending"]) >= MAX_PENDING:
            p.count(kind, "suppressed", "pending_full")
            p.log(nid, t.id, t.channel, "suppressed", "pending_full")
            continue
        p.notify["pending"] = [*p.notify["pending"], held]
    return p.finish()


def release(state: Mapping[str, Any] | None, env: Env) -> Result:
    """Held messages at now_ms: sent when due and allowed, held again until the next allowed time,
    or dropped (expired, consent withdrawn, duplicate, trigger removed from the policy)."""
    p = _Plan(state, env)
    rec = record(p.base)
    keep: list[Any] = []
    for row in sorted(p.notify["pending"], key=lambda r: (r[P_DUE], r[P_ID])):
        kind, channel = row[P_KIND], row[P_CHANNEL]
        trigger = _trigger(env.policy, row[P_TRIGGER])
        reason: str | None = None
        if row[P_EXPIRES] <= env.now_ms:
            p.count(kind, "expired", "while_pending")
            p.log(row[P_ID], row[P_TRIGGER], channel, "expired", "while_pending")
            continue
        if not consent(rec, channel):
            reason = "consent_withdrawn"
        elif trigger is None:
            reason = "trigger_removed"
        if reason is not None:
            p.count(kind, "suppressed", reason)
            p.log(row[P_ID], row[P_TRIGGER], channel, "suppressed", reason)
            continue
        if row[P_DUE] > env.now_ms:
            keep.append(row)
            continue
        assert trigger is not None
        if p.duplicate(row[P_KEY]):
            p.count(kind, "suppressed", "duplicate")
            p.log(row[P_ID], row[P_TRIGGER], channel, "suppressed", "duplicate")
            continue
        verdict = p.verdict(trigger.id, channel, trigger.caps)
        if verdict.allowed:
            p.send(row, row[P_DUE])
            continue
        held = p.hold_or_expire(row, verdict, first=False)
        if held is not None:
            keep.append(held)
    if len(keep) != len(p.notify["pending"]):
        p.result.changed = True
    p.notify["pending"] = keep
    return p.finish()


def cancel_all(state: Mapping[str, Any] | None, reason: str) -> list[Count]:
    """Counts for every held message dropped at once (her erasure)."""
    return [Count(r[P_KIND], "suppressed", reason) for r in section(state)["pending"]]
