"""Processes the benchmark starts (broker, Kairos workers, generators) and what it reads from them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.integration.harness import free_port, http, key_entry, wait_port, write_keys_file

# The benchmark's key: every scope and a rate limit far above anything the benchmark sends, so
# the per-key token bucket never throttles it (the bucket itself still runs on every request).
BENCH_KEY = "kairos_bench_B3nchm4rk-K3y-l0c4l-0nly-n0t-f0r-pr0duct10n-abcd"
BENCH_RATE_PER_S = 1_000_000_000
BENCH_BURST = 1_000_000_000


def bench_keys_file(path: Path) -> Path:
    return write_keys_file(path, [key_entry(BENCH_KEY, rate_per_s=BENCH_RATE_PER_S, burst=BENCH_BURST)])


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def metric_sum(text: str, name: str, **labels: str) -> float:
    """Sum of every sample of `name` (exactly; not its _bucket/_sum siblings) matching `labels`."""
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name) or line.startswith("#"):
            continue
        head, _, value = line.rpartition(" ")
        metric = head.split("{", 1)[0]
        if metric != name:
            continue
        if all(f'{k}="{v}"' in head for k, v in labels.items()):
            total += float(value)
    return total


@dataclass
class Worker:
    """One Kairos worker process (`python -m service serve`, or another module with the same CLI
    contract) against the shared broker, with its own topic prefix and consumer group."""

    name: str
    out_dir: Path
    broker: str
    keys_file: Path
    module: str = "service"
    args: tuple[str, ...] = ("serve",)
    extra_env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def prefix(self) -> str:
        return f"bench-{self.name}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    @property
    def log_path(self) -> Path:
        return self.out_dir / f"worker-{self.name}.log"

    def start(self, ready_timeout_s: float = 120.0) -> Worker:
        env = {k: v for k, v in os.environ.items() if not k.startswith("KAIROS_")}
        data_dir = self.out_dir / f"data-{self.name}"
        data_dir.mkdir(parents=True, exist_ok=True)
        env.update({
            "KAIROS_PORT": str(self.port), "KAIROS_DATA_DIR": str(data_dir), "KAIROS_KAFKA_BROKER": self.broker,
            "KAIROS_TOPIC_PREFIX": self.prefix, "KAIROS_GROUP_ID": self.prefix, "KAIROS_STORE": "memory",
            "KAIROS_API_KEYS_FILE": str(self.keys_file), "KAIROS_LOG_LEVEL": "WARNING",
        })
        env.update(self.extra_env)
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", self.module, *self.args], env=env, stdout=log,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + ready_timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker {self.name} exited with {self.proc.returncode}; see {self.log_path}")
            try:
                if http("GET", self.url + "/readyz", timeout_s=2, api_key=None).status == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"worker {self.name} not ready in {ready_timeout_s} s; see {self.log_path}")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)

    def metrics(self) -> str:
        return http("GET", self.url + "/metrics", api_key=BENCH_KEY).body.decode()

    def processed(self) -> float:
        """Customer events the stream has handled (any outcome: applied, duplicate, late, …)."""
        return metric_sum(self.metrics(), "kairos_state_apply_total")

    def post(self, path: str, body: Any) -> Any:
        res = http("POST", self.url + path, json.dumps(body).encode(), api_key=BENCH_KEY)
        if res.status >= 300:
            raise RuntimeError(f"{path}: {res.status} {res.body[:300]!r}")
        return res.json()


Sample = tuple[float, float, float]  # (perf_counter time, events processed, worker CPU seconds)


def wait_processed(worker: Worker, target: float, timeout_s: float, every_s: float = 0.2) -> list[Sample]:
    """Polls the worker's processed-events counter until it reaches `target`; returns the samples
    (perf_counter time, count, the worker's CPU seconds). Raises when the counter stops moving for
    30 s or time runs out."""
    samples: list[Sample] = []
    deadline = time.perf_counter() + timeout_s
    last_move = time.perf_counter()
    while time.perf_counter() < deadline:
        now, count = time.perf_counter(), worker.processed()
        if samples and count > samples[-1][1]:
            last_move = now
        samples.append((now, count, cpu_seconds(worker.pid)))
        if count >= target:
            return samples
        if now - last_move > 30:
            break
        time.sleep(every_s)
    raise RuntimeError(f"worker {worker.name}: {samples[-1][1] if samples else 0:.0f} of {target:.0f} events "
                       f"processed; see {worker.log_path}")


def _steady(samples: list[Sample], total: float, low: float, high: float) -> tuple[Sample, Sample]:
    first = next((s for s in samples if s[1] >= low * total), samples[0])
    last = next((s for s in samples if s[1] >= high * total), samples[-1])
    return first, last


def steady_rate(samples: list[Sample], total: float, low: float = 0.1, high: float = 0.9) -> float:
    """Events/s between the samples where the count first passed low·total and high·total
    (leaves out the start-up and the tail)."""
    first, last = _steady(samples, total, low, high)
    if last[0] <= first[0]:
        return 0.0
    return (last[1] - first[1]) / (last[0] - first[0])


def steady_cpu(samples: list[Sample], total: float, low: float = 0.1, high: float = 0.9) -> dict[str, float]:
    """The worker's CPU over the same window as steady_rate: cores busy, and µs per event."""
    first, last = _steady(samples, total, low, high)
    if last[0] <= first[0] or last[1] <= first[1]:
        return {"cores": 0.0, "us_per_event": 0.0}
    cpu = last[2] - first[2]
    return {"cores": round(cpu / (last[0] - first[0]), 2), "us_per_event": round(cpu / (last[1] - first[1]) * 1e6, 1)}


def run_json(cmd: list[str], timeout_s: float, log: Path) -> dict[str, Any]:
    """Runs a generator module to completion; returns the JSON object it printed last."""
    with log.open("ab") as err:
        res = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=err, timeout=timeout_s, check=False)
    if res.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:4])}… exited with {res.returncode}; see {log}")
    lines = [line for line in res.stdout.decode().splitlines() if line.startswith("{")]
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def start_json(cmd: list[str], log: Path) -> subprocess.Popen[bytes]:
    err = log.open("ab")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err)
    err.close()
    return proc


def finish_json(proc: subprocess.Popen[bytes], timeout_s: float) -> dict[str, Any]:
    out, _ = proc.communicate(timeout=timeout_s)
    if proc.returncode != 0:
        raise RuntimeError(f"generator exited with {proc.returncode}")
    lines = [line for line in out.decode().splitlines() if line.startswith("{")]
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def start_broker(out_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    log = (out_dir / "broker.log").open("ab")
    proc = subprocess.Popen([sys.executable, "-m", "service", "broker", "--port", str(port)], stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    log.close()
    wait_port(port, 20)
    return proc, f"127.0.0.1:{port}"


def stop_process(proc: subprocess.Popen[bytes] | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def kill_process(proc: subprocess.Popen[bytes]) -> None:
    """Ends a generator that is still running (after a failure), so it cannot load the next phase."""
    if proc.poll() is None:
        proc.kill()
        proc.wait(10)
