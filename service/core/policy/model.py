"""Core layer: the compiled decision policy — frozen dataclasses built from a validated document."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from service.core.budget import Budget, Cap
from service.core.situations.config import SituationConfig

Condition = tuple[str, str, Any]
"""(situation, op, operand): op "eq" (bool/str), "in" (frozenset of str), "range" ((min, max), inclusive)."""


@dataclass(frozen=True, slots=True)
class When:
    """All conditions must hold ({} always holds); `pointer` locates it in the policy file."""

    conditions: tuple[Condition, ...] = ()
    pointer: str = ""


@dataclass(frozen=True, slots=True)
class Theme:
    id: str
    title: str | None  # text key
    categories: frozenset[str] = frozenset()
    styles: frozenset[str] = frozenset()
    on_sale: bool | None = None


@dataclass(frozen=True, slots=True)
class Variant:
    when: When
    title: str | None = None
    themes: tuple[str, ...] | None = None
    limit: int | None = None
    kind: str | None = None


@dataclass(frozen=True, slots=True)
class BlockSpec:
    id: str
    source: str
    kind: str
    limit: int
    title: str | None = None
    themes: tuple[str, ...] = ()
    variants: tuple[Variant, ...] = ()


@dataclass(frozen=True, slots=True)
class IncentiveFilter:
    offer: bool = True
    kinds: frozenset[str] | None = None  # None: any kind
    exclude_kinds: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Screen:
    id: str
    layout: str
    when: When
    blocks: tuple[str, ...]
    incentives: IncentiveFilter = IncentiveFilter()


@dataclass(frozen=True, slots=True)
class Incentive:
    id: str
    kind: str
    value: float | str | None
    priority: int
    channels: frozenset[str]
    when: When
    caps: tuple[Cap, ...] = ()
    title: str | None = None
    text: str | None = None


@dataclass(frozen=True, slots=True)
class Trigger:
    """A message to send when a situation arises on the stream (executed by the notifications part)."""

    id: str
    situation: str  # the stream detector that fires it, one of TRIGGER_KINDS
    when: When
    channel: str  # push or email
    title: str  # text key
    body: str  # text key
    expiry_ms: int
    dedup_key: str  # template over the trigger's placeholders
    caps: tuple[Cap, ...] = ()
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Ranking:
    weights: Mapping[str, float]
    new_arrival_ms: int
    back_in_stock_ms: int


@dataclass(frozen=True, slots=True)
class Policy:
    version: str
    default_locale: str
    fallbacks: Mapping[str, tuple[str, ...]]
    situations: SituationConfig
    ranking: Ranking
    budget: Budget
    themes: Mapping[str, Theme]
    blocks: Mapping[str, BlockSpec]
    screens: tuple[Screen, ...]
    incentives: tuple[Incentive, ...]
    triggers: tuple[Trigger, ...]
    texts: Mapping[str, Mapping[str, str]]
    placements: frozenset[str]  # every placement a screen names (bounded metric labels)

    def __getitem__(self, key: str) -> Any:
        # Older callers read policy["version"]; the compiled policy answers the same.
        if key == "version":
            return self.version
        raise KeyError(key)
