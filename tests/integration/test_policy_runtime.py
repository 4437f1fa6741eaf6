"""The policy on a running Kairos: versions on decisions, reload on SIGHUP and file change (a bad file is
rejected and the previous one keeps serving), and preview — the same decide, with no side effects."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from service.core.policy import DEFAULT_POLICY_PATH
from tests.integration.conftest import kairos_env
from tests.integration.harness import TEST_API_KEY, BrokerProcess, Kairos, eventually, metric_value

DEFAULT = DEFAULT_POLICY_PATH.read_text()
JACKET = "a7fc7d65-a3c7-4793-8c60-8631d208f4a4"


@pytest.fixture(scope="module")
def policy_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("policy") / "policy.yaml"
    path.write_text(DEFAULT.replace("version: default-2026.12.2", "version: marketing-1"))
    return path


@pytest.fixture(scope="module")
def worker(broker: BrokerProcess, policy_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kairos]:
    ns = f"p{uuid.uuid4().hex[:10]}"
    env = kairos_env(broker, ns, KAIROS_POLICY_FILE=str(policy_file), KAIROS_POLICY_WATCH_S="0.2")
    proc = Kairos(data_dir=tmp_path_factory.mktemp("kairos"), env=env).start()
    yield proc
    proc.stop()


def total(text: str, name: str) -> float:
    """The sum of every sample of a metric."""
    return sum(float(line.rpartition(" ")[2]) for line in text.splitlines()
               if line.startswith(name + "{") or line.startswith(name + " "))


def reloads(worker: Kairos, result: str) -> float:
    return metric_value(worker.metrics(), "kairos_policy_reloads_total", result=result)


def test_sighup_rejects_a_bad_file_and_the_file_watch_loads_a_good_one(worker: Kairos, policy_file: Path) -> None:
    assert worker.decide("p-anna")["policy_version"] == "marketing-1"
    assert metric_value(worker.metrics(), "kairos_policy_info", version="marketing-1") == 1.0
    # A bad file: the watch sees it and rejects it; SIGHUP asks again and is rejected again.
    policy_file.write_text(DEFAULT.replace("version: default-2026.12.2", "version: marketing-2")
                           .replace("blocks: [scan_prompt, store_mode_picks]", "blocks: [scan_prompt, store_picks]"))
    eventually(lambda: reloads(worker, "rejected") == 1.0, timeout_s=10)
    assert worker.proc is not None
    worker.proc.send_signal(signal.SIGHUP)
    eventually(lambda: reloads(worker, "rejected") == 2.0, timeout_s=10)
    assert worker.decide("p-anna")["policy_version"] == "marketing-1"
    log = worker.log(tail=None)
    assert f"policy rejected: {policy_file}:" in log and "unknown block 'store_picks'" in log
    # A good file is picked up by the watch, with no signal.
    policy_file.write_text(DEFAULT.replace("version: default-2026.12.2", "version: marketing-3"))
    eventually(lambda: worker.decide("p-anna")["policy_version"] == "marketing-3", timeout_s=10)
    text = worker.metrics()
    assert metric_value(text, "kairos_policy_reloads_total", result="ok") == 1.0
    assert metric_value(text, "kairos_policy_info", version="marketing-3") == 1.0
    assert 'kairos_policy_info{version="marketing-1"}' not in text


def test_preview_shows_her_screen_under_a_new_policy_without_side_effects(worker: Kairos, tmp_path: Path) -> None:
    customer = f"prev-{uuid.uuid4().hex[:6]}"
    res = worker.post_events([{"event_id": uuid.uuid4().hex, "type": "product.viewed",
                               "occurred_at": "2026-12-03T18:00:00Z", "source": "app", "customer_id": customer,
                               "product_id": JACKET}])
    assert res.status == 202
    state = eventually(lambda: worker.state(customer))
    draft = tmp_path / "draft.yaml"
    home = "blocks: [resume_session, last_seen, wishlist, new_arrivals_for_you, themes, bestsellers]"
    assert home in DEFAULT
    draft.write_text(DEFAULT.replace("version: default-2026.12.2", "version: draft-7")
                     .replace(home, "blocks: [last_seen]"))
    before = total(worker.metrics(), "kairos_decisions_total")
    out = subprocess.run(
        [sys.executable, "-m", "service", "preview", "--customer", customer, "--policy", str(draft),
         "--url", worker.url, "--at", "2026-12-03T18:05:00Z", "--json"],
        env={"KAIROS_API_KEY": TEST_API_KEY, "PATH": "/usr/bin:/bin"}, capture_output=True, timeout=60, check=False)
    assert out.returncode == 0, out.stderr.decode()
    decision = json.loads(out.stdout)
    assert (decision["policy_version"], decision["screen"], decision["decided_at"]) == (
        "draft-7", "home", "2026-12-03T18:05:00.000Z")
    assert [(b["id"], [i["product_id"] for i in b["items"]]) for b in decision["blocks"]] == [("last_seen", [JACKET])]
    # nothing counted, nothing changed: the live policy still answers, her state is as it was
    assert total(worker.metrics(), "kairos_decisions_total") == before
    assert worker.state(customer) == state
    assert worker.decide(customer)["policy_version"] != "draft-7"


def test_check_policy_command_exit_codes(tmp_path: Path) -> None:
    good = subprocess.run([sys.executable, "-m", "service", "check-policy", str(DEFAULT_POLICY_PATH)],
                          capture_output=True, timeout=60, check=False)
    assert good.returncode == 0
    assert good.stdout.decode().strip() == (
        f"{DEFAULT_POLICY_PATH}: valid: policy default-2026.12.2, 8 screens, 17 blocks, 5 incentives, 5 triggers, "
        "locales de, en")
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: x\nblocks:\n  a: {source: last_seen}\nscreens:\n  - id: h\n    blocks: [a, b]\n"
                   "texts: {en: {}}\n")
    out = subprocess.run([sys.executable, "-m", "service", "check-policy", str(bad)], capture_output=True,
                         timeout=60, check=False)
    assert out.returncode == 1
    assert out.stderr.decode().splitlines() == [
        f"{bad}:6: error: /screens/0/blocks/1: unknown block 'b'; declared: a",
        f"{bad}: invalid: 1 error(s)",
    ]
