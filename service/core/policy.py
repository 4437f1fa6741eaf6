"""Core layer: the decision policy as plain data — the built-in default and its validator.

A policy is a JSON-able dict:

  version              str, shown in every decision (policy_version)
  in_store_max_age_ms  a store geofence counts as "inside" while its last enter/dwell is at
                       most this old at decision time
  located_max_age_ms   a location fix this recent (or one in the request) means "out and about"
  screens              ordered rules; the first whose `when` matches gives the screen:
    id      screen name returned to the app
    when    all given conditions must hold: placements [str], device_types [str],
            in_store bool, located bool, cold_start bool ({} matches always)
    blocks  ordered: id (unique on the screen), source (what fills it, see SOURCES),
            kind (how the app renders it), limit (items, 1..100, default 10)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

MINUTE_MS: Final = 60_000

SOURCES: Final[frozenset[str]] = frozenset(
    {"last_seen", "wishlist", "bestsellers", "recently_scanned", "store_picks", "scan_prompt"}
)
"""Block sources decide knows how to fill; scan_prompt is an item-less prompt block."""

CONDITIONS: Final[Mapping[str, type]] = {
    "placements": list,
    "device_types": list,
    "in_store": bool,
    "located": bool,
    "cold_start": bool,
}

DEFAULT_LIMIT: Final = 10

DEFAULT_POLICY: Final[dict[str, Any]] = {
    "version": "default-2026.12.1",
    "in_store_max_age_ms": 30 * MINUTE_MS,
    "located_max_age_ms": 30 * MINUTE_MS,
    "screens": [
        {
            "id": "in_store",
            "when": {"placements": ["app.home", "app.store"], "in_store": True},
            "blocks": [
                {"id": "store_mode_picks", "source": "store_picks", "kind": "carousel", "limit": 8},
                {"id": "scan_prompt", "source": "scan_prompt", "kind": "scan_prompt"},
            ],
        },
        {
            "id": "street",
            "when": {
                "placements": ["app.home"],
                "device_types": ["phone"],
                "located": True,
                "cold_start": False,
            },
            "blocks": [
                {"id": "wishlist", "source": "wishlist", "kind": "carousel", "limit": 6},
                {"id": "last_seen", "source": "last_seen", "kind": "carousel", "limit": 6},
            ],
        },
        {
            "id": "home",
            "when": {},
            "blocks": [
                {"id": "last_seen", "source": "last_seen", "kind": "carousel", "limit": 10},
                {"id": "wishlist", "source": "wishlist", "kind": "carousel", "limit": 10},
                {"id": "bestsellers", "source": "bestsellers", "kind": "grid", "limit": 10},
            ],
        },
    ],
}


class PolicyError(ValueError):
    """A policy document is invalid; the message lists every problem found."""


def _is_label(value: Any) -> bool:
    return isinstance(value, str) and 0 < len(value) <= 64


def _check_block(where: str, block: Any, seen: set[str]) -> list[str]:
    if not isinstance(block, Mapping):
        return [f"{where}: must be an object"]
    problems = [f"{where}: unknown key {k!r}" for k in block if k not in {"id", "source", "kind", "limit"}]
    if not _is_label(block.get("id")):
        problems.append(f"{where}.id: must be a string of 1..64 characters")
    elif block["id"] in seen:
        problems.append(f"{where}.id: {block['id']!r} appears twice on the screen")
    else:
        seen.add(block["id"])
    if block.get("source") not in SOURCES:
        problems.append(f"{where}.source: must be one of {sorted(SOURCES)}")
    if not _is_label(block.get("kind")):
        problems.append(f"{where}.kind: must be a string of 1..64 characters")
    limit = block.get("limit", DEFAULT_LIMIT)
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= 100:
        problems.append(f"{where}.limit: must be an integer 1..100")
    return problems


def _check_screen(where: str, screen: Any) -> list[str]:
    if not isinstance(screen, Mapping):
        return [f"{where}: must be an object"]
    problems = [f"{where}: unknown key {k!r}" for k in screen if k not in {"id", "when", "blocks"}]
    if not _is_label(screen.get("id")):
        problems.append(f"{where}.id: must be a string of 1..64 characters")
    when = screen.get("when", {})
    if not isinstance(when, Mapping):
        problems.append(f"{where}.when: must be an object")
        when = {}
    for key, value in when.items():
        expected = CONDITIONS.get(key)
        if expected is None:
            problems.append(f"{where}.when: unknown condition {key!r}; known: {sorted(CONDITIONS)}")
        elif not isinstance(value, expected) or (
            isinstance(value, list) and not all(isinstance(v, str) for v in value)
        ):
            problems.append(f"{where}.when.{key}: must be a {expected.__name__}")
    blocks = screen.get("blocks")
    if not isinstance(blocks, list) or len(blocks) > 50:
        return [*problems, f"{where}.blocks: must be a list of at most 50 blocks"]
    seen: set[str] = set()
    for i, block in enumerate(blocks):
        problems.extend(_check_block(f"{where}.blocks[{i}]", block, seen))
    return problems


def validate_policy(policy: Any) -> list[str]:
    """Every problem in a policy document, as 'path: what is wrong' lines; [] when valid."""
    if not isinstance(policy, Mapping):
        return ["policy: must be an object"]
    allowed = {"version", "in_store_max_age_ms", "located_max_age_ms", "screens"}
    problems = [f"policy: unknown key {k!r}" for k in policy if k not in allowed]
    if not _is_label(policy.get("version")):
        problems.append("version: must be a string of 1..64 characters")
    for key in ("in_store_max_age_ms", "located_max_age_ms"):
        value = policy.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            problems.append(f"{key}: must be a positive integer (milliseconds)")
    screens = policy.get("screens")
    if not isinstance(screens, list) or not screens:
        return [*problems, "screens: must be a non-empty list"]
    for i, screen in enumerate(screens):
        problems.extend(_check_screen(f"screens[{i}]", screen))
    return problems


def load_policy(document: Any) -> dict[str, Any]:
    """Return a validated policy (a copy) or raise PolicyError naming every problem."""
    problems = validate_policy(document)
    if problems:
        raise PolicyError("invalid policy — fix and reload: " + "; ".join(problems))
    return dict(document)
