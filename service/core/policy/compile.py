"""Core layer: a schema-valid, semantically checked policy document -> the compiled Policy."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from service.core.budget import Budget, Cap, QuietHours
from service.core.policy.conditions import compile_when
from service.core.policy.model import (
    BlockSpec,
    Incentive,
    IncentiveFilter,
    Policy,
    Ranking,
    Screen,
    Theme,
    Trigger,
    Variant,
)
from service.core.policy.vocabulary import DEFAULT_WEIGHTS, PLAIN_FIELDS, SECONDS_FIELDS
from service.core.situations.config import SituationConfig
from service.core.state_merge import AFFINITY_KINDS

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_S = 86_400


def minutes(hhmm: str) -> int:
    """'07:30' -> 450 (minutes after midnight); '24:00' -> 1440."""
    hours, _, mins = hhmm.partition(":")
    return int(hours) * 60 + int(mins)


def situation_config(raw: Mapping[str, Any] | None) -> SituationConfig:
    """SituationConfig from the policy's `situations` object (raises ValueError when the values
    contradict each other, e.g. dayparts out of order)."""
    raw = raw or {}
    values: dict[str, Any] = {}
    for name in SECONDS_FIELDS:
        if f"{name}_s" in raw:
            values[f"{name}_ms"] = round(float(raw[f"{name}_s"]) * 1000)
    for name in PLAIN_FIELDS:
        if name in raw:
            values[name] = raw[name]
    if "dayparts" in raw:
        values["dayparts"] = tuple((minutes(p["start"]), p["name"]) for p in raw["dayparts"])
    if "commute_weekdays" in raw:
        values["commute_weekdays"] = tuple(WEEKDAYS.index(d) for d in raw["commute_weekdays"])
    if "commute_windows" in raw:
        values["commute_windows"] = tuple(
            (minutes(w.split("-")[0]), minutes(w.split("-")[1])) for w in raw["commute_windows"]
        )
    if "price_bands" in raw:
        values["price_bands"] = tuple((float(b["from"]), b["band"]) for b in raw["price_bands"])
    if "affinity_weights" in raw:
        defaults = dict(zip(AFFINITY_KINDS, SituationConfig().affinity_weights, strict=True))
        values["affinity_weights"] = tuple(float(raw["affinity_weights"].get(k, defaults[k])) for k in AFFINITY_KINDS)
    return dataclasses.replace(SituationConfig(), **values)


def cap(raw: Mapping[str, Any], default_name: str, sources: frozenset[str] = frozenset()) -> Cap:
    return Cap(
        max=int(raw["max"]),
        window=raw["window"],
        period_ms=int(raw.get("period_s", 0) * 1000),
        channels=frozenset(raw.get("channels", ())),
        sources=sources,
        name=raw.get("name", default_name),
    )


def _budget(raw: Mapping[str, Any] | None) -> Budget:
    raw = raw or {}
    caps = tuple(cap(c, f"budget.caps[{i}]") for i, c in enumerate(raw.get("caps", ())))
    quiet = raw.get("quiet_hours")
    qh = None
    if quiet is not None:
        qh = QuietHours(minutes(quiet["start"]), minutes(quiet["end"]),
                        frozenset(quiet.get("channels", ("push", "email"))))
    return Budget(caps, qh, int(raw.get("dedup_window_s", 90 * DAY_S) * 1000))


def _block(block_id: str, raw: Mapping[str, Any]) -> BlockSpec:
    variants = tuple(
        Variant(
            when=compile_when(v.get("when"), f"/blocks/{block_id}/variants/{i}/when"),
            title=v.get("title"),
            themes=tuple(v["themes"]) if "themes" in v else None,
            limit=v.get("limit"),
            kind=v.get("kind"),
        )
        for i, v in enumerate(raw.get("variants", ()))
    )
    return BlockSpec(block_id, raw["source"], raw.get("kind", "carousel"), int(raw.get("limit", 10)),
                     raw.get("title"), tuple(raw.get("themes", ())), variants)


def _own_caps(raw: Mapping[str, Any], owner: str) -> tuple[Cap, ...]:
    sources = frozenset({owner})
    caps = [cap(c, f"{owner}.caps[{i}]", sources) for i, c in enumerate(raw.get("caps", ()))]
    if raw.get("cooldown_s"):
        caps.append(Cap(1, "rolling", int(raw["cooldown_s"] * 1000), sources=sources, name=f"{owner}.cooldown"))
    return tuple(caps)


def compile_policy(doc: Mapping[str, Any]) -> Policy:
    """Build the Policy; `doc` must have passed the schema and service.core.policy.semantics."""
    locales = doc.get("locales", {})
    ranking = doc.get("ranking", {})
    screens = tuple(
        Screen(
            id=s["id"],
            layout=s.get("layout", s["id"]),
            when=compile_when(s.get("when"), f"/screens/{i}/when"),
            blocks=tuple(s["blocks"]),
            incentives=IncentiveFilter(
                offer=s.get("incentives", {}).get("offer", True),
                kinds=frozenset(s["incentives"]["kinds"]) if "kinds" in s.get("incentives", {}) else None,
                exclude_kinds=frozenset(s.get("incentives", {}).get("exclude_kinds", ())),
            ),
        )
        for i, s in enumerate(doc["screens"])
    )
    incentives = tuple(
        Incentive(
            id=x["id"], kind=x["kind"], value=x.get("value"), priority=int(x.get("priority", 0)),
            channels=frozenset(x.get("channels", ("screen",))),
            when=compile_when(x.get("when"), f"/incentives/{i}/when"), caps=_own_caps(x, x["id"]),
            title=x.get("title"), text=x.get("text"),
        )
        for i, x in enumerate(doc.get("incentives", ()))
    )
    triggers = tuple(
        Trigger(
            id=t["id"], situation=t["situation"], when=compile_when(t.get("when"), f"/triggers/{i}/when"),
            channel=t["channel"], title=t["title"], body=t["body"], expiry_ms=int(t["expiry_s"] * 1000),
            dedup_key=t.get("dedup_key", "{trigger}"), caps=_own_caps(t, t["id"]), params=dict(t.get("params", {})),
        )
        for i, t in enumerate(doc.get("triggers", ()))
    )
    themes = {
        tid: Theme(tid, t.get("title"), frozenset(t.get("categories", ())), frozenset(t.get("styles", ())),
                   t.get("on_sale"))
        for tid, t in sorted(doc.get("themes", {}).items())
    }
    return Policy(
        version=doc["version"],
        default_locale=locales.get("default", "en"),
        fallbacks={k: tuple(v) for k, v in locales.get("fallbacks", {}).items()},
        situations=situation_config(doc.get("situations")),
        ranking=Ranking(
            weights={**DEFAULT_WEIGHTS, **ranking.get("weights", {})},
            new_arrival_ms=int(ranking.get("new_arrival_days", 30) * DAY_S * 1000),
            back_in_stock_ms=int(ranking.get("back_in_stock_days", 14) * DAY_S * 1000),
        ),
        budget=_budget(doc.get("budget")),
        themes=themes,
        blocks={bid: _block(bid, b) for bid, b in sorted(doc["blocks"].items())},
        screens=screens,
        incentives=tuple(sorted(incentives, key=lambda x: (-x.priority, x.id))),
        triggers=triggers,
        texts={loc: dict(t) for loc, t in sorted(doc.get("texts", {}).items())},
        placements=frozenset(p for s in screens for c in s.when.conditions if c[0] == "placement" for p in c[2]),
    )
