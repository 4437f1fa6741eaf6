"""The embedded mode's per-run folders: a killed run's folder goes at the next start, nothing else."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from service.bootstrap import prepare_data_dir
from service.settings import Settings


def dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_a_killed_runs_folder_is_removed_and_the_rest_kept(tmp_path: Path) -> None:
    runs = tmp_path / "embedded-runs"
    killed = runs / f"20261204T031500-{dead_pid()}"
    living = runs / f"20261204T031600-{os.getpid()}"
    foreign = runs / "notes"
    for folder in (killed, living, foreign):
        (folder / "faust").mkdir(parents=True)
    run_dir, owned = prepare_data_dir(Settings(data_dir=tmp_path))
    assert owned and run_dir.parent == runs and run_dir.name.endswith(f"-{os.getpid()}")
    assert sorted(p.name for p in runs.iterdir()) == sorted([living.name, foreign.name, run_dir.name])


def test_a_cluster_state_dir_is_never_touched(tmp_path: Path) -> None:
    (tmp_path / "embedded-runs" / f"20261204T031500-{dead_pid()}").mkdir(parents=True)
    state, owned = prepare_data_dir(Settings(data_dir=tmp_path, kafka_broker="127.0.0.1:9092"))
    assert (state, owned) == (tmp_path / "state", False)
    assert len(list((tmp_path / "embedded-runs").iterdir())) == 1
