"""Policy parsing under arbitrary input: the checker never raises, every problem says where it is,
and whatever the checks let through compiles and decides (issue 7: hypothesis for policy parsing)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import yaml
from hypothesis import given
from hypothesis import strategies as st

from service.adapters.policy_file import read_policy
from service.bootstrap import policy_schema_check
from service.core.decide import decide
from service.core.policy import DEFAULT_POLICY, load_policy
from tests.factories import request
from tests.unit.decide_fixtures import LUNCH, make_ref

CHECK = policy_schema_check()
SCALARS = st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(allow_nan=False, allow_infinity=False) \
    | st.text(max_size=12)
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=8)


def paths(node: Any, at: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a node of the document (the root excluded)."""
    out: list[tuple[Any, ...]] = []
    children = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, child in children:
        out.append((*at, key))
        out.extend(paths(child, (*at, key)))
    return out


DEFAULT_PATHS = paths(DEFAULT_POLICY)


def resolves(document: Any, pointer: str) -> bool:
    """The pointer names a node of the document, or a missing member of an object that is there."""
    node = document
    parts = [p.replace("~1", "/").replace("~0", "~") for p in pointer.split("/")[1:]] if pointer else []
    for i, part in enumerate(parts):
        if isinstance(node, dict):
            if part not in node:
                return i == len(parts) - 1
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return False
    return True


def set_at(document: Any, path: tuple[Any, ...], value: Any) -> Any:
    out = copy.deepcopy(document)
    node = out
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return out


def check(tmp_path: Path, text: str, suffix: str = ".yaml") -> Any:
    path = tmp_path / f"policy{suffix}"
    path.write_text(text, encoding="utf-8")
    return read_policy(path, CHECK)


@given(st.sampled_from(DEFAULT_PATHS), VALUES)
def test_a_changed_node_is_either_refused_with_a_pointer_or_compiles_and_decides(
        tmp_path_factory: Any, path: tuple[Any, ...], value: Any) -> None:
    document = set_at(DEFAULT_POLICY, path, value)
    loaded = check(tmp_path_factory.mktemp("p"), json.dumps(document), ".json")
    if loaded.errors:
        assert loaded.policy is None
        for problem in loaded.errors:
            assert problem.message
            assert resolves(document, problem.pointer), (problem.pointer, path)
        return
    # Everything the checks let through compiles and answers a decision per contract.
    assert loaded.policy is not None
    policy = load_policy(document)
    answer = decide(None, request(), make_ref(), policy, LUNCH, "d-1")
    assert answer["policy_version"] == policy.version


@given(st.text(max_size=200))
def test_any_text_gets_problems_not_an_exception(tmp_path_factory: Any, text: str) -> None:
    loaded = check(tmp_path_factory.mktemp("p"), text)
    assert (loaded.policy is None) == bool(loaded.errors)
    assert all(p.message for p in loaded.problems)


@given(VALUES)
def test_any_document_gets_problems_not_an_exception(tmp_path_factory: Any, document: Any) -> None:
    loaded = check(tmp_path_factory.mktemp("p"), yaml.safe_dump(document))
    assert loaded.errors and loaded.policy is None  # nothing random is a whole policy
    assert all(resolves(document, p.pointer) for p in loaded.errors)
