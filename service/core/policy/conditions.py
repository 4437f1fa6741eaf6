"""Core layer: policy conditions — compile `when` objects, test them against Context.facts, and
tell when an earlier rule shadows a later one.

A `when` maps situation names (service.core.situations.context.FACT_TYPES) to:
  true / false                 a bool situation
  "rain" or ["rain", "storm"]  a string situation is one of these
  {min: 2, max: 5}             a number situation within [min, max] (either bound optional);
                               an unknown number (null) never matches
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

from service.core.policy.model import Condition, When
from service.core.situations.context import FACT_TYPES, FACT_VALUES


def compile_when(raw: Mapping[str, Any] | None, pointer: str) -> When:
    """A When from a checked `when` object (see check_when)."""
    conditions: list[Condition] = []
    for name, value in sorted((raw or {}).items()):
        kind = FACT_TYPES[name]
        if kind == "bool":
            conditions.append((name, "eq", bool(value)))
        elif kind == "string":
            values = [value] if isinstance(value, str) else list(value)
            conditions.append((name, "in", frozenset(values)))
        else:
            conditions.append((name, "range", (value.get("min"), value.get("max"))))
    return When(tuple(conditions), pointer)


def holds(cond: Condition, facts: Mapping[str, Any]) -> bool:
    name, op, operand = cond
    value = facts.get(name)
    if op == "eq":
        return bool(value is operand)
    if op == "in":
        return value in operand
    if value is None:
        return False
    low, high = operand
    return (low is None or value >= low) and (high is None or value <= high)


def first_failure(when: When, facts: Mapping[str, Any]) -> Condition | None:
    """The first condition that does not hold, or None when all hold."""
    for cond in when.conditions:
        if not holds(cond, facts):
            return cond
    return None


# describe() per condition object, remembered by identity (the object is kept with its text, so
# an id is never reused while remembered): a decision describes ~12 conditions of its compiled
# policy (skipped screens, ineligible incentives), always the same objects. By identity, not by
# value: equal operands such as 1 and 1.0 are written differently.
_DESCRIBED: dict[int, tuple[Condition, str]] = {}
MAX_DESCRIBED = 4096


def describe(cond: Condition) -> str:
    found = _DESCRIBED.get(id(cond))
    if found is not None and found[0] is cond:
        return found[1]
    if len(_DESCRIBED) >= MAX_DESCRIBED:
        _DESCRIBED.clear()
    text = _describe(cond)
    _DESCRIBED[id(cond)] = (cond, text)
    return text


def _describe(cond: Condition) -> str:
    name, op, operand = cond
    if op == "eq":
        return f"{name}={str(operand).lower()}"
    if op == "in":
        return f"{name} in {sorted(operand)}"
    low, high = operand
    return f"{name} in [{'-inf' if low is None else low}, {'inf' if high is None else high}]"


def describe_when(when: When) -> str:
    return ", ".join(describe(c) for c in when.conditions) or "always"


def check_when(raw: Any, pointer: str) -> list[tuple[str, str]]:
    """(pointer, message) for every problem a schema cannot see: unknown situation names, values
    of the wrong type for the situation, values outside a closed set, empty ranges."""
    if not isinstance(raw, Mapping):
        return []
    problems: list[tuple[str, str]] = []
    for name, value in raw.items():
        at = f"{pointer}/{name}"
        kind = FACT_TYPES.get(name)
        if kind is None:
            close = difflib.get_close_matches(name, FACT_TYPES, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f"; known: {', '.join(sorted(FACT_TYPES))}"
            problems.append((at, f"unknown situation {name!r}{hint}"))
        elif kind == "bool" and not isinstance(value, bool):
            problems.append((at, f"{name} is true or false"))
        elif kind == "string":
            values = [value] if isinstance(value, str) else value
            if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
                problems.append((at, f"{name} is a string or a non-empty list of strings"))
                continue
            allowed = FACT_VALUES.get(name)
            for v in values:
                if allowed is not None and v not in allowed:
                    problems.append((at, f"{name} {v!r} is not one of {', '.join(allowed)}"))
        elif kind == "number":
            if not isinstance(value, Mapping) or not set(value) <= {"min", "max"} or not value:
                problems.append((at, f"{name} is a range: {{min: …, max: …}}"))
                continue
            low, high = value.get("min"), value.get("max")
            if any(b is not None and (isinstance(b, bool) or not isinstance(b, (int, float))) for b in (low, high)):
                problems.append((at, f"{name}: min and max are numbers"))
            elif low is not None and high is not None and low > high:
                problems.append((at, f"{name}: min {low} is above max {high}: it never matches"))
    return problems


def _implies(later: Condition, earlier: Condition) -> bool:
    """Every facts value satisfying `later` satisfies `earlier` (same situation)."""
    _n, op, a = later
    _m, op2, b = earlier
    if op != op2:
        return False
    if op == "eq":
        return bool(a is b)
    if op == "in":
        return bool(a <= b)
    (lo_a, hi_a), (lo_b, hi_b) = a, b
    low_ok = lo_b is None or (lo_a is not None and lo_a >= lo_b)
    high_ok = hi_b is None or (hi_a is not None and hi_a <= hi_b)
    return low_ok and high_ok


def shadows(earlier: When, later: When) -> bool:
    """True when whatever matches `later` also matches `earlier` (first match wins: `later` is
    unreachable). Conservative: only conditions on the same situations are compared."""
    by_name = {c[0]: c for c in later.conditions}
    for cond in earlier.conditions:
        mine = by_name.get(cond[0])
        if mine is None or not _implies(mine, cond):
            return False
    return True
