"""Core layer: what a trigger detector looks at — her state before and after one stream record,
the events it applied, reference data, the policy and the clock, with the situations derived
once and only when a detector asks (most records need none). The cheap parts — her motion, which
stores she is at, whether a new position is anywhere near a store — come first: a location fix
costs a full set of situations only when a message may follow.

Situations are derived for a request-less moment: placement `stream.trigger`, her most recently
used device (a phone when none is known), no request location — so "where she is" comes from
her state alone, as on a screen open without a location.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cached_property
from typing import Any

from service.core.policy.model import Policy
from service.core.reference import ReferenceData
from service.core.situations.context import Context, derive_context
from service.core.situations.facts import fixes, home_area, profile_value, record
from service.core.situations.localtime import LocalTime, local_time, resolve_zone
from service.core.situations.motion import Motion, detect_motion
from service.core.situations.presence import StoreSituation, detect_stores

PLACEMENT = "stream.trigger"


def stream_request(state: Mapping[str, Any] | None, customer_id: str) -> dict[str, Any]:
    """The decision-shaped request a trigger's situations are derived for."""
    devices = record(state)["devices"]
    newest = max(devices.items(), key=lambda kv: (kv[1][1], kv[0]), default=None)
    kind = newest[1][0] if newest is not None and newest[1][0] in ("phone", "tablet", "web") else "phone"
    device_id = newest[0] if newest is not None else "stream"
    return {"customer_id": customer_id, "placement": PLACEMENT, "device": {"id": device_id, "type": kind}}


class Moment:
    """One record's worth of change for one customer, at now_ms (epoch ms, processing time)."""

    def __init__(self, customer_id: str, before: Mapping[str, Any] | None, after: Mapping[str, Any] | None,
                 events: Sequence[Mapping[str, Any]], ref: ReferenceData, policy: Policy, now_ms: int,
                 restock: Mapping[str, Any] | None = None) -> None:
        self.customer_id = customer_id
        self.before = before
        self.after = after
        self.events = events
        self.ref = ref
        self.policy = policy
        self.now_ms = now_ms
        self.restock = restock  # a stock change routed to her (service.stream.fanout), or None
        self.types = frozenset(str(e.get("type")) for e in events)

    @property
    def state(self) -> Mapping[str, Any]:
        """The state after the record, every key present."""
        return record(self.after)

    @cached_property
    def ctx(self) -> Context:
        return derive_context(self.after, stream_request(self.after, self.customer_id), self.ref,
                              self.policy.situations, self.now_ms)

    @cached_property
    def stores_before(self) -> StoreSituation | None:
        """Where she was on the state before the record, at the same now_ms: what the record changed."""
        if self.before is None:
            return None
        return detect_stores(self.before, None, self.ref, self.policy.situations, self.now_ms)

    @cached_property
    def local(self) -> LocalTime:
        """Her local time now (the zone as derive_context resolves it, without a store's zone)."""
        rec = self.state
        all_fixes = fixes(rec, None, self.now_ms)
        name, source = resolve_zone(profile_value(rec, "time_zone"), all_fixes[-1].point if all_fixes else None,
                                    home_area(rec), None, self.policy.situations)
        return local_time(self.now_ms, name, source, self.policy.situations)

    @cached_property
    def motion(self) -> Motion:
        return detect_motion(fixes(self.state, None, self.now_ms), self.local, self.policy.situations, self.now_ms)

    @cached_property
    def motion_before(self) -> Motion | None:
        """Her motion as it was at her previous newest fix (None: no fix before the record within
        position_max_age_s).

        Not at now_ms: a move that turns into a commute when the commute window opens is a
        change of time, not of her state, and must count as the commute arising."""
        earlier = fixes(record(self.before), None, self.now_ms)
        if not earlier or earlier[-1].t_ms < self.now_ms - self.policy.situations.position_max_age_ms:
            return None  # nothing recent: moving yesterday says nothing about now
        at = earlier[-1].t_ms
        local = local_time(at, self.local.time_zone, self.local.source, self.policy.situations)
        return detect_motion(earlier, local, self.policy.situations, at)

    def last_event_id(self) -> str:
        """The newest applied event's id: the cause of a message this record set off."""
        return str(self.events[-1]["event_id"]) if self.events else "none"
