"""Unit tests: condition texts remembered per condition object are the texts worked out afresh."""

from __future__ import annotations

from service.core.policy import conditions
from service.core.policy.conditions import describe


def test_equal_conditions_written_differently_keep_their_own_text() -> None:
    whole = ("days_since_order", "range", (1, None))
    decimal = ("days_since_order", "range", (1.0, None))
    assert whole == decimal
    assert describe(whole) == "days_since_order in [1, inf]"
    assert describe(decimal) == "days_since_order in [1.0, inf]"
    assert describe(whole) == "days_since_order in [1, inf]"


def test_texts_are_bounded_and_stay_right_after_clearing() -> None:
    kept = [("placement", "in", frozenset({f"app.s{n}"})) for n in range(conditions.MAX_DESCRIBED + 5)]
    texts = [describe(c) for c in kept]
    assert len(conditions._DESCRIBED) <= conditions.MAX_DESCRIBED
    assert texts[0] == "placement in ['app.s0']"
    assert describe(kept[0]) == "placement in ['app.s0']"
    assert describe(("in_store", "eq", False)) == "in_store=false"
