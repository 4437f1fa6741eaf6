"""Core layer: what a trigger detector finds (a Candidate) and what happens to it (Count rows).

The funnel a message goes through (docs/POLICY.md, "Triggers"): detected -> eligible (consent,
the trigger's `when`, not a duplicate) -> sent, or capped (a cap or quiet hours) -> deferred to
the next allowed time or expired; suppressed when she gave no consent, withdrew it while the
message was held, or already had its de-duplication key. Every candidate ends in exactly one
of sent, expired, suppressed, not eligible — or is still deferred.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final, Literal

from service.core.policy.model import Trigger
from service.core.policy.vocabulary import TRIGGER_KINDS

KINDS: Final[tuple[str, ...]] = tuple(sorted(TRIGGER_KINDS))
"""The bounded `kind` label: a trigger's situation (never its id, which marketing names)."""

STAGES: Final[tuple[str, ...]] = ("detected", "eligible", "capped", "deferred", "sent", "expired", "suppressed")
"""The funnel stages of kairos_trigger_funnel_total."""

Stage = Literal["detected", "eligible", "capped", "deferred", "sent", "expired", "suppressed", "not_eligible"]

REASONS: Final[Mapping[str, tuple[str, ...]]] = {
    "suppressed": ("no_consent", "consent_withdrawn", "duplicate", "erased", "pending_full", "trigger_removed"),
    "capped": ("cap", "quiet_hours"),
    "expired": ("before_next_allowed", "while_pending"),
    "not_eligible": ("condition",),
    "deferred": ("cap", "quiet_hours"),
}
"""Why a message was held or dropped (kairos_trigger_outcomes_total{kind, stage, reason})."""

ParamValue = str | int | float | bool | None


@dataclass(frozen=True, slots=True)
class Candidate:
    """A message a detector wants to send: the policy trigger, its placeholder values and the id
    of what caused it (an event or a stock change), which makes its notification id
    deterministic when the same record is processed again."""

    trigger: Trigger
    params: Mapping[str, ParamValue]
    cause: str
    data: Mapping[str, ParamValue] = field(default_factory=dict)  # extra deep-link data, not placeholders


@dataclass(frozen=True, slots=True)
class Count:
    """One step of one message through the funnel (metrics; never a customer id)."""

    kind: str
    stage: Stage
    reason: str | None = None
