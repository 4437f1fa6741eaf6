"""Property: any sequence of valid customer events leaves a record valid against schemas/state.schema.json."""

from __future__ import annotations

import uuid
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from service.core.events import CUSTOMER_EVENT_TYPES
from service.core.state import CustomerState, apply_event
from service.core.timeutil import parse_rfc3339_ms
from tests.factories import DAY, MIN, T0, event
from tests.property.test_state_props import CFG, FIELDS
from tests.unit.test_state_schema import schema_errors, validator_for

# The per-type schemas event.schema.json dispatches to (its if/then dispatch is slow to evaluate).
EVENT_VALIDATORS = {t: validator_for(f"events/{t}.schema.json") for t in CUSTOMER_EVENT_TYPES}


def _uuid(name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, name))


def schema_valid(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The shared strategies use short names for notification and decision ids; the contract says UUID."""
    return [{**e, **{k: _uuid(e[k]) for k in ("notification_id", "decision_id") if k in e}} for e in events]


@st.composite
def valid_sequences(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Like test_state_props.customer_events (same FIELDS), but longer and over a drawn time span."""
    span_ms = draw(st.sampled_from([10 * MIN, 3 * DAY, 400 * DAY]))  # in grace / windows / late and expiry
    kinds = draw(st.lists(st.sampled_from(sorted(FIELDS)), min_size=20, max_size=80))
    events = []
    for i, kind in enumerate(kinds):
        fields = draw(FIELDS[kind])
        if kind == "order.placed":
            fields = {**fields, "order_id": f"o{i}"}
        events.append(event(kind, T0 + draw(st.integers(0, span_ms)), f"e{i}", **fields))
    return schema_valid(events)


@given(valid_sequences(), st.data())
def test_every_record_written_is_valid_against_the_state_schema(
    events: list[dict[str, Any]], data: st.DataObject
) -> None:
    state: CustomerState | None = None
    for ev in events:
        assert [e.message for e in EVENT_VALIDATORS[ev["type"]].iter_errors(ev)] == [], ev
        # received_at up to 10 min before occurred_at (a fast device clock: clamped) or after it
        received = parse_rfc3339_ms(ev["occurred_at"]) + data.draw(st.integers(-10 * MIN, 10 * MIN))
        result = apply_event(state, ev, received, CFG)
        state = result.state
        assert state is not None
        assert schema_errors(state) == [], (ev, result.outcome)
