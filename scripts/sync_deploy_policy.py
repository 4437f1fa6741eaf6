"""Copies the built-in default policy (service/data/default-policy.yaml) into deploy/policy.yaml
(mounted by the compose file) and deploy/k8s/configmap-policy.yaml, byte for byte.

Run it after changing the default policy; tests/deploy/test_deploy_files.py fails until the three
files agree.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "service" / "data" / "default-policy.yaml"
COMPOSE_COPY = ROOT / "deploy" / "policy.yaml"
CONFIGMAP = ROOT / "deploy" / "k8s" / "configmap-policy.yaml"

CONFIGMAP_HEAD = """\
# The decision policy (KAIROS_POLICY_FILE=/etc/kairos/policy/policy.yaml): a copy of the built-in
# default (service/data/default-policy.yaml; scripts/sync_deploy_policy.py writes it). Marketing
# edits the YAML; Kairos reloads it on SIGHUP or with KAIROS_POLICY_WATCH_S (docs/POLICY.md).
apiVersion: v1
kind: ConfigMap
metadata:
  name: kairos-policy
  namespace: kairos
  labels:
    app.kubernetes.io/name: kairos
data:
  policy.yaml: |
"""


def main() -> None:
    text = SOURCE.read_text(encoding="utf-8")
    COMPOSE_COPY.write_text(text, encoding="utf-8")
    indented = "".join(f"    {line}" if line.strip() else line for line in text.splitlines(keepends=True))
    CONFIGMAP.write_text(CONFIGMAP_HEAD + indented, encoding="utf-8")
    print(f"wrote {COMPOSE_COPY.relative_to(ROOT)} and {CONFIGMAP.relative_to(ROOT)} from {SOURCE.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
