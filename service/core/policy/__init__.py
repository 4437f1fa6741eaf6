"""Core layer: the decision policy — a file marketing owns (docs/POLICY.md), compiled to a Policy.

`load_policy(document)` runs the semantic checks and compiles; the document must already have
passed schemas/policy.schema.json (service.adapters.policy_file reads files, checks the schema,
maps problems to lines). `DEFAULT_POLICY` is the shipped default document
(service/data/default-policy.yaml), read on first use.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from service.core.policy.compile import compile_policy
from service.core.policy.model import Policy
from service.core.policy.semantics import Problem, check_policy

__all__ = ["DEFAULT_POLICY", "DEFAULT_POLICY_PATH", "Policy", "PolicyError", "Problem", "load_policy"]

DEFAULT_POLICY_PATH = Path(__file__).resolve().parents[2] / "data" / "default-policy.yaml"


class PolicyError(ValueError):
    """A policy document is invalid; `problems` lists every error (and warnings) found."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        errors = [p for p in problems if p.severity == "error"]
        super().__init__("invalid policy — fix and reload: " + "; ".join(f"{p.pointer or '/'}: {p.message}"
                                                                        for p in errors))


def load_policy(document: Mapping[str, Any] | Policy) -> Policy:
    """The compiled policy, or PolicyError naming every error. A Policy is returned as it is."""
    if isinstance(document, Policy):
        return document
    problems = check_policy(document)
    if any(p.severity == "error" for p in problems):
        raise PolicyError(problems)
    return compile_policy(document)


def __getattr__(name: str) -> Any:
    # The shipped default, parsed once on first use (package data, like zoneinfo's tzdata).
    if name == "DEFAULT_POLICY":
        import yaml

        document = yaml.safe_load(DEFAULT_POLICY_PATH.read_text(encoding="utf-8"))
        globals()["DEFAULT_POLICY"] = document
        return document
    raise AttributeError(name)
