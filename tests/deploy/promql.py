"""The PromQL of deploy/: every expression of the alert rules and the Grafana dashboard, and the
Kairos metric families they read (shared by the static deploy tests and the live-scrape test)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
RULES = DEPLOY / "prometheus" / "kairos-alerts.yaml"
DASHBOARD = DEPLOY / "grafana" / "dashboards" / "kairos.json"

# A Kairos metric name in an expression (recording rules are named kairos:… and are not matched).
_NAME = re.compile(r"\bkairos_[a-z0-9_]+\b")
# Sample suffixes of a histogram or counter family in the exposition format.
_SUFFIXES = ("_bucket", "_count", "_sum")


def rules() -> list[dict[str, Any]]:
    document = yaml.safe_load(RULES.read_text())
    return [rule for group in document["groups"] for rule in group["rules"]]


def alerts() -> list[dict[str, Any]]:
    return [rule for rule in rules() if "alert" in rule]


def _panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels", []))


def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return loaded


def dashboard_panels() -> list[dict[str, Any]]:
    return list(_panels(dashboard()["panels"]))


def expressions() -> list[str]:
    """Every PromQL expression: alert and recording rules, dashboard targets and variables."""
    exprs = [str(rule["expr"]) for rule in rules()]
    exprs += [str(t["expr"]) for panel in dashboard_panels() for t in panel.get("targets", [])]
    exprs += [str(v["definition"]) for v in dashboard()["templating"]["list"] if v.get("type") == "query"]
    return exprs


def family(name: str) -> str:
    """kairos_decision_latency_seconds_bucket → kairos_decision_latency_seconds."""
    for suffix in _SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def metric_families(exprs: list[str] | None = None) -> set[str]:
    """The Kairos metric families the expressions read (histogram sample names folded)."""
    return {family(name) for expr in (exprs if exprs is not None else expressions()) for name in _NAME.findall(expr)}
