"""Core layer: what schemas/policy.schema.json cannot check — references between parts of the
policy, situation names and values, text keys per locale, placeholders, unreachable screens.

Each Problem has a JSON pointer into the document (the file adapter turns it into a line).
Severity "error" rejects the policy; "warning" is printed and the policy still loads.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from service.core.policy.compile import situation_config
from service.core.policy.conditions import check_when, compile_when, describe_when, shadows
from service.core.policy.texts import placeholders
from service.core.policy.vocabulary import COMMON_PLACEHOLDERS, TRIGGER_KINDS


@dataclass(frozen=True, slots=True)
class Problem:
    pointer: str  # RFC 6901 pointer into the policy document ("" = the whole document)
    message: str
    severity: Literal["error", "warning"] = "error"


def _whens(doc: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    for i, s in enumerate(doc.get("screens", ())):
        yield f"/screens/{i}/when", s.get("when")
    for bid, b in doc.get("blocks", {}).items():
        for i, v in enumerate(b.get("variants", ())):
            yield f"/blocks/{bid}/variants/{i}/when", v.get("when")
    for i, x in enumerate(doc.get("incentives", ())):
        yield f"/incentives/{i}/when", x.get("when")
    for i, t in enumerate(doc.get("triggers", ())):
        yield f"/triggers/{i}/when", t.get("when")


def _text_refs(doc: Mapping[str, Any]) -> Iterator[tuple[str, str, frozenset[str]]]:
    """(pointer, text key, placeholders allowed) for every text the policy refers to."""
    none: frozenset[str] = frozenset({"store_name", "distance_m", "tier", "next_tier", "points_to_next"})
    for tid, t in doc.get("themes", {}).items():
        if "title" in t:
            yield f"/themes/{tid}/title", t["title"], none
    for bid, b in doc.get("blocks", {}).items():
        if "title" in b:
            yield f"/blocks/{bid}/title", b["title"], none
        for i, v in enumerate(b.get("variants", ())):
            if "title" in v:
                yield f"/blocks/{bid}/variants/{i}/title", v["title"], none
    for i, x in enumerate(doc.get("incentives", ())):
        for field in ("title", "text"):
            if field in x:
                yield f"/incentives/{i}/{field}", x[field], none
    for i, t in enumerate(doc.get("triggers", ())):
        allowed = COMMON_PLACEHOLDERS | TRIGGER_KINDS.get(t.get("situation", ""), frozenset())
        for field in ("title", "body"):
            if field in t:
                yield f"/triggers/{i}/{field}", t[field], allowed


def _check_refs(doc: Mapping[str, Any]) -> list[Problem]:
    problems: list[Problem] = []
    blocks, themes = doc.get("blocks", {}), doc.get("themes", {})
    seen: dict[str, int] = {}
    for i, s in enumerate(doc.get("screens", ())):
        if s["id"] in seen:
            problems.append(Problem(f"/screens/{i}/id", f"screen id {s['id']!r} is used by screen {seen[s['id']]} too"))
        seen.setdefault(s["id"], i)
        if len(set(s["blocks"])) != len(s["blocks"]):
            problems.append(Problem(f"/screens/{i}/blocks", "a block appears twice on the screen"))
        for j, bid in enumerate(s["blocks"]):
            if bid not in blocks:
                problems.append(Problem(f"/screens/{i}/blocks/{j}", f"unknown block {bid!r}; declared: "
                                        f"{', '.join(sorted(blocks)) or 'none'}"))
    for bid, b in blocks.items():
        refs = [(f"/blocks/{bid}/themes", b.get("themes", ()))]
        refs += [(f"/blocks/{bid}/variants/{i}/themes", v.get("themes", ()))
                 for i, v in enumerate(b.get("variants", ()))]
        for at, named in refs:
            for k, tid in enumerate(named):
                if tid not in themes:
                    problems.append(Problem(f"{at}/{k}", f"unknown theme {tid!r}"))
        if b["source"] == "themes" and not b.get("themes"):
            problems.append(Problem(f"/blocks/{bid}", "a themes block names at least one theme"))
    ids: dict[str, str] = {}
    for kind, items in (("incentive", doc.get("incentives", ())), ("trigger", doc.get("triggers", ()))):
        for i, x in enumerate(items):
            if x["id"] in ids:
                problems.append(Problem(f"/{kind}s/{i}/id", f"id {x['id']!r} is already used by a {ids[x['id']]}"))
            ids.setdefault(x["id"], kind)
    for i, t in enumerate(doc.get("triggers", ())):
        allowed = COMMON_PLACEHOLDERS | TRIGGER_KINDS.get(t["situation"], frozenset())
        for name in sorted(placeholders(t.get("dedup_key", "")) - allowed):
            problems.append(Problem(f"/triggers/{i}/dedup_key", f"unknown placeholder {{{name}}} for {t['situation']}"))
    return problems


def _check_texts(doc: Mapping[str, Any]) -> list[Problem]:
    texts: Mapping[str, Mapping[str, str]] = doc.get("texts", {})
    default = doc.get("locales", {}).get("default", "en")
    problems: list[Problem] = []
    if default not in texts:
        problems.append(Problem("/locales/default", f"the default locale {default!r} has no texts"))
    for tag, chain in doc.get("locales", {}).get("fallbacks", {}).items():
        for k, loc in enumerate(chain):
            if loc not in texts:
                problems.append(Problem(f"/locales/fallbacks/{tag}/{k}", f"locale {loc!r} has no texts"))
    for at, key, allowed in _text_refs(doc):
        if default in texts and key not in texts[default]:
            problems.append(Problem(at, f"text {key!r} is missing in the default locale {default!r}"))
        for loc in sorted(texts):
            if loc != default and key not in texts[loc]:
                problems.append(Problem(at, f"text {key!r} is missing in {loc!r} (falls back)", "warning"))
        for loc in sorted(texts):
            found = texts[loc].get(key)
            for name in sorted(placeholders(found or "") - allowed):
                problems.append(Problem(f"/texts/{loc}/{key}", f"unknown placeholder {{{name}}}"))
    return problems


def _check_screens_reachable(doc: Mapping[str, Any]) -> list[Problem]:
    problems: list[Problem] = []
    screens = doc.get("screens", ())
    whens = [compile_when(s.get("when"), f"/screens/{i}/when") for i, s in enumerate(screens)]
    for j, later in enumerate(whens):
        for i in range(j):
            if shadows(whens[i], later):
                problems.append(Problem(f"/screens/{j}", f"screen {screens[j]['id']!r} can never be chosen: screen "
                                        f"{screens[i]['id']!r} before it matches whenever it would "
                                        f"({describe_when(whens[i])})", "warning"))
                break
    if whens and whens[-1].conditions:
        problems.append(Problem(f"/screens/{len(whens) - 1}/when", "the last screen has conditions: requests "
                                "matching no screen get the built-in fallback (bestsellers)", "warning"))
    return problems


def check_policy(doc: Mapping[str, Any]) -> list[Problem]:
    """Every semantic problem of a schema-valid policy document, errors first, in document order."""
    problems = [Problem(at, msg) for at, raw in _whens(doc) for at, msg in check_when(raw, at)]
    problems += _check_refs(doc)
    problems += _check_texts(doc)
    try:
        situation_config(doc.get("situations"))
    except (ValueError, TypeError) as exc:
        problems.append(Problem("/situations", str(exc)))
    if not any(p.severity == "error" and "/when" in p.pointer for p in problems):
        problems += _check_screens_reachable(doc)
    return sorted(problems, key=lambda p: p.severity != "error")
