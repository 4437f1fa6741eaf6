"""The Prometheus side of the live-metrics test: exposition samples compared before and after
traffic, and a real Prometheus server (loopback, temp dir, bounded) with its HTTP API."""

from __future__ import annotations

import json
import subprocess
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.deploy import promql
from tests.integration.harness import free_port, http, wait_port


def samples(text: str) -> dict[tuple[str, str], float]:
    """(sample name, name with labels) → value; `_created` samples left out (they never move)."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        head, _, value = line.rpartition(" ")
        name = head.split("{", 1)[0]
        if name.endswith("_created"):
            continue
        out[(name, head)] = float(value)
    return out


def families_present(text: str) -> set[str]:
    """Families with a HELP line (declared, perhaps without series yet) or a sample."""
    return {line.split()[2] for line in text.splitlines() if line.startswith("# HELP ")} | {
        promql.family(name) for name, _ in samples(text)}


def moved(before: str, after: str) -> set[str]:
    """Families with a sample that appeared or changed value."""
    old, new = samples(before), samples(after)
    return {promql.family(name) for (name, head), value in new.items() if old.get((name, head)) != value}


def metric_total(text: str, name: str) -> float:
    return sum(value for (sample, _), value in samples(text).items() if sample == name)


@contextmanager
def prometheus_server(binary: str, targets: list[str], api_key: str, rules: Path, tmp_path: Path) -> Iterator[str]:
    """Runs Prometheus scraping `targets` every second with `api_key` and evaluating `rules`;
    yields its API base URL and stops it (terminate, then kill) on exit."""
    port = free_port()
    (tmp_path / "key").write_text(api_key + "\n")
    (tmp_path / "rules.yaml").write_text(rules.read_text())
    (tmp_path / "prometheus.yml").write_text(json.dumps({
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(tmp_path / "rules.yaml")],
        "scrape_configs": [{"job_name": "kairos", "metrics_path": "/metrics",
                            "authorization": {"type": "Bearer", "credentials_file": str(tmp_path / "key")},
                            "static_configs": [{"targets": targets}]}]}))
    with open(tmp_path / "prometheus.log", "wb") as log:
        proc = subprocess.Popen([binary, f"--config.file={tmp_path / 'prometheus.yml'}",
                                 f"--storage.tsdb.path={tmp_path / 'tsdb'}", f"--web.listen-address=127.0.0.1:{port}"],
                                stdout=subprocess.DEVNULL, stderr=log)
    try:
        wait_port(port, 30)
        yield f"http://127.0.0.1:{port}/api/v1"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def query(base: str, expr: str) -> list[dict[str, Any]]:
    """An instant query's result vector ([] while Prometheus cannot answer)."""
    res = http("GET", f"{base}/query?query={urllib.parse.quote(expr)}", api_key=None)
    if res.status != 200:
        return []
    data: list[dict[str, Any]] = json.loads(res.body)["data"]["result"]
    return data


def rules(base: str) -> list[dict[str, Any]]:
    groups = json.loads(http("GET", base + "/rules", api_key=None).body)["data"]["groups"]
    return [rule for group in groups for rule in group["rules"]]
