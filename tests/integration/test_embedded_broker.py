"""`kairos serve` with no broker configured owns an embedded Tansu broker: it starts it, stops it,
never leaves it behind, and exits non-zero if it dies."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from tests.integration.harness import Kairos, child_pids, eventually, pid_alive


def broker_child(worker: Kairos) -> int:
    assert worker.proc is not None
    for pid in child_pids(worker.proc.pid):
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        if any(b"tansu" in part for part in cmdline):
            return pid
    raise AssertionError("no embedded broker child process found")


def test_sigterm_stops_the_embedded_broker_and_cleans_the_run_dir(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    worker = Kairos(data_dir=data_dir, env={"KAIROS_DEMO_CATALOG": "false"}).start()
    broker_pid = broker_child(worker)
    run_dirs = list((data_dir / "embedded-runs").iterdir())
    assert len(run_dirs) == 1
    assert "MEMORY ONLY" in worker.log()
    assert worker.stop(signal.SIGTERM) == 0
    assert not pid_alive(broker_pid)
    assert list((data_dir / "embedded-runs").iterdir()) == []
    assert data_dir.is_dir()  # the user's directory itself is never deleted


def test_ctrl_c_to_the_process_group_stops_cleanly(tmp_path: Path) -> None:
    """A terminal's Ctrl-C signals every process in the foreground group; the broker must not die
    before the clients that need it have stopped (it runs in a session of its own)."""
    worker = Kairos(data_dir=tmp_path / "data", env={"KAIROS_DEMO_CATALOG": "false"}).start()
    broker_pid = broker_child(worker)
    assert worker.proc is not None
    os.killpg(worker.proc.pid, signal.SIGINT)
    assert worker.proc.wait(30) == 0
    assert not pid_alive(broker_pid)
    assert "embedded broker stopped" in worker.log(tail=None)
    assert "did not stop" not in worker.log(tail=None)


def test_second_run_does_not_trip_over_the_first(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    leftover = data_dir / "embedded-runs" / "20260101T000000-1"
    leftover.mkdir(parents=True)
    (leftover / "junk").write_text("left by a crashed run")
    worker = Kairos(data_dir=data_dir, env={"KAIROS_DEMO_CATALOG": "false"}).start()
    assert worker.stop() == 0
    assert (leftover / "junk").exists()  # not ours to delete


def test_kill_9_leaves_no_broker_behind(tmp_path: Path) -> None:
    worker = Kairos(data_dir=tmp_path / "data", env={"KAIROS_DEMO_CATALOG": "false"}).start()
    broker_pid = broker_child(worker)
    assert worker.proc is not None
    os.kill(worker.proc.pid, signal.SIGKILL)
    worker.proc.wait(10)
    eventually(lambda: not pid_alive(broker_pid), timeout_s=10)


def test_broker_death_makes_kairos_exit_non_zero(tmp_path: Path) -> None:
    worker = Kairos(data_dir=tmp_path / "data", env={"KAIROS_DEMO_CATALOG": "false"}).start()
    os.kill(broker_child(worker), signal.SIGKILL)
    assert worker.proc is not None
    started = time.monotonic()
    code = worker.proc.wait(30)
    assert code == 1, worker.log()
    assert time.monotonic() - started < 30
    assert "embedded broker exited unexpectedly" in worker.log(tail=None)
