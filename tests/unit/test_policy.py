"""Unit tests for the policy validator and the built-in default policy."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from service.core.policy import DEFAULT_POLICY, PolicyError, load_policy, validate_policy


def test_default_policy_is_valid() -> None:
    assert validate_policy(DEFAULT_POLICY) == []
    assert load_policy(DEFAULT_POLICY) == DEFAULT_POLICY


def broken(path: str, value: Any) -> dict[str, Any]:
    """The default policy with one value replaced (path like 'screens.0.blocks.1.limit')."""
    policy = copy.deepcopy(DEFAULT_POLICY)
    *parents, last = path.split(".")
    node: Any = policy
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node[key]
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return policy


@pytest.mark.parametrize(
    ("policy", "problems"),
    [
        ("nope", ["policy: must be an object"]),
        (broken("version", ""), ["version: must be a string of 1..64 characters"]),
        (broken("in_store_max_age_ms", 0), ["in_store_max_age_ms: must be a positive integer (milliseconds)"]),
        (broken("located_max_age_ms", True), ["located_max_age_ms: must be a positive integer (milliseconds)"]),
        (broken("screens", []), ["screens: must be a non-empty list"]),
        (broken("colour", "red"), ["policy: unknown key 'colour'"]),
        (broken("screens.0.when.in_store", "yes"), ["screens[0].when.in_store: must be a bool"]),
        (broken("screens.0.when.placements", ["app.home", 3]), ["screens[0].when.placements: must be a list"]),
        (
            broken("screens.1.when.weather", "rain"),
            [
                "screens[1].when: unknown condition 'weather'; known: "
                "['cold_start', 'device_types', 'in_store', 'located', 'placements']"
            ],
        ),
        (
            broken("screens.2.blocks.0.source", "magic"),
            [
                "screens[2].blocks[0].source: must be one of ['bestsellers', 'last_seen', 'recently_scanned', "
                "'scan_prompt', 'store_picks', 'wishlist']"
            ],
        ),
        (
            broken("screens.2.blocks.1.id", "last_seen"),
            ["screens[2].blocks[1].id: 'last_seen' appears twice on the screen"],
        ),
        (broken("screens.2.blocks.2.limit", 101), ["screens[2].blocks[2].limit: must be an integer 1..100"]),
        (broken("screens.2.blocks.2.kind", None), ["screens[2].blocks[2].kind: must be a string of 1..64 characters"]),
        (broken("screens.2.blocks", "all"), ["screens[2].blocks: must be a list of at most 50 blocks"]),
        (broken("screens.2.blocks.0", 7), ["screens[2].blocks[0]: must be an object"]),
    ],
)
def test_validate_policy_names_every_problem(policy: Any, problems: list[str]) -> None:
    assert validate_policy(policy) == problems
    with pytest.raises(PolicyError, match="invalid policy"):
        load_policy(policy)
