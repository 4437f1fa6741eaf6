"""Real processes for integration tests: the broker on its own, Kairos as `python -m service serve`.

Everything binds to 127.0.0.1; every wait is bounded (a functional bound, not a speed test).
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

READY_TIMEOUT_S = 90.0

# Every Kairos the tests start trusts this key (all scopes, default rates) unless a test brings its
# own keys file (KAIROS_API_KEYS_FILE in `env`; "" = none, so Kairos makes a development key).
TEST_API_KEY = "kairos_tests_T3st-K3y-0nly-f0r-the-1ntegrati0n-tests-xyzw"
ALL_SCOPES = ("admin", "decide", "ingest", "metrics", "reference")


def key_entry(key: str, scopes: tuple[str, ...] | list[str] = ALL_SCOPES, **rates: float) -> dict[str, Any]:
    """One entry of a keys file: the key's id, its SHA-256 and scopes (rate_per_s / burst optional)."""
    key_id = key.removeprefix("kairos_").partition("_")[0]
    return {"id": key_id, "hash": "sha256:" + hashlib.sha256(key.encode()).hexdigest(), "scopes": list(scopes),
            **rates}


def write_keys_file(path: Path, entries: list[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"keys": entries}))
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port} after {timeout_s} s")


def socket_inodes(pid: int) -> set[str]:
    """The inodes of the sockets process `pid` holds open (from /proc), to find them in /proc/net/*."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = fd.readlink().as_posix()
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    return inodes


def eventually(check: Callable[[], Any], timeout_s: float = 5.0, interval_s: float = 0.05) -> Any:
    """Polls `check` until it returns a truthy value; raises with the last value after the bound."""
    deadline = time.monotonic() + timeout_s
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval_s)
    raise AssertionError(f"condition not met within {timeout_s} s; last value: {last!r}")


@dataclass
class HttpResult:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def http(method: str, url: str, body: bytes | None = None, content_type: str | None = "application/json",
         timeout_s: float = 10.0, api_key: str | None = TEST_API_KEY,
         headers: dict[str, str] | None = None) -> HttpResult:
    """One request; sends `Authorization: Bearer <api_key>` (the test key by default; None: no
    header). `headers` are added last, so they can replace Authorization too."""
    req = urllib.request.Request(url, data=body, method=method)
    if content_type and body is not None:
        req.add_header("Content-Type", content_type)
    if api_key is not None:
        req.add_header("Authorization", f"Bearer {api_key}")
    for name, value in (headers or {}).items():
        req.add_header(name, value)
    try:
        with urllib.request.urlopen(req, timeout=timeout_s) as resp:
            return HttpResult(resp.status, dict(resp.headers), resp.read())
    except urllib.error.HTTPError as err:
        return HttpResult(err.code, dict(err.headers), err.read())


class BrokerProcess:
    """`kairos broker` as its own process, so Kairos restarts and crashes are real ones."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "service", "broker", "--port", str(self.port)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )
        wait_port(self.port, 20)

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        if self.proc.stdout:
            self.proc.stdout.close()


@dataclass
class Kairos:
    """One Kairos worker process. `env` adds/overrides KAIROS_* settings."""

    data_dir: Path
    env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None
    # The key this worker's helpers send (post_events, decide, state, metrics).
    api_key: str | None = TEST_API_KEY

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, wait_ready: bool = True, ready_timeout_s: float = READY_TIMEOUT_S) -> Kairos:
        env = {k: v for k, v in os.environ.items() if not k.startswith("KAIROS_")}
        env.update({"KAIROS_PORT": str(self.port), "KAIROS_DATA_DIR": str(self.data_dir),
                    "KAIROS_LOG_LEVEL": "INFO"})
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if "KAIROS_API_KEYS_FILE" not in self.env:
            keys_file = write_keys_file(self.data_dir / "test-api-keys.json", [key_entry(TEST_API_KEY)])
            env["KAIROS_API_KEYS_FILE"] = str(keys_file)
        env.update(self.env)
        self.log_path = self.data_dir / f"kairos-{self.port}-{uuid.uuid4().hex[:6]}.log"
        log = self.log_path.open("wb")
        # A session of its own, as a terminal would give it, so a test can Ctrl-C the group.
        self.proc = subprocess.Popen([sys.executable, "-m", "service", "serve"], env=env,
                                     stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        if wait_ready:
            self.wait_ready(ready_timeout_s)
        return self

    def wait_ready(self, timeout_s: float = READY_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise AssertionError(f"Kairos exited with {self.proc.returncode} before ready:\n{self.log()}")
            try:
                if http("GET", self.url + "/readyz", timeout_s=2).status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"Kairos not ready within {timeout_s} s:\n{self.log()}")

    def log(self, tail: int | None = 6000) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path else ""
        return text if tail is None else text[-tail:]

    def stop(self, sig: int = signal.SIGTERM, timeout_s: float = 60.0) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
            raise AssertionError(f"Kairos did not stop {timeout_s} s after signal {sig}:\n{self.log()}") from None

    def post_events(self, events: list[dict[str, Any]]) -> HttpResult:
        return http("POST", self.url + "/v1/events", json.dumps(events).encode(), api_key=self.api_key)

    def decide(self, customer_id: str, placement: str = "app.home", device_type: str = "phone") -> dict[str, Any]:
        body = {"customer_id": customer_id, "placement": placement, "device": {"id": "dev-1", "type": device_type}}
        res = http("POST", self.url + "/v1/decisions", json.dumps(body).encode(), api_key=self.api_key)
        assert res.status == 200, (res.status, res.body)
        result: dict[str, Any] = res.json()
        return result

    def state(self, customer_id: str) -> dict[str, Any] | None:
        res = http("GET", f"{self.url}/admin/customers/{customer_id}/state", api_key=self.api_key)
        if res.status == 404:
            return None
        assert res.status == 200, (res.status, res.body)
        result: dict[str, Any] = res.json()
        return result

    def local_state(self, customer_id: str) -> dict[str, Any] | None:
        """Her state as this worker holds it: sent as an already-forwarded request, so it is never
        asked of the worker that owns her (None: not held here)."""
        res = http("GET", f"{self.url}/admin/customers/{customer_id}/state", api_key=self.api_key,
                   headers={"X-Kairos-Forwarded-By": "tests"})
        if res.status in (404, 503):
            return None
        assert res.status == 200, (res.status, res.body)
        result: dict[str, Any] = res.json()
        return result

    def metrics(self) -> str:
        return http("GET", self.url + "/metrics", api_key=self.api_key).body.decode()


def child_pids(pid: int) -> list[int]:
    """Direct children of `pid`, from /proc (Linux)."""
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            if ppid == pid:
                out.append(int(entry.name))
    return out


def pid_alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def metric_value(text: str, name: str, **labels: str) -> float:
    """The value of one sample in Prometheus text format (0.0 when absent)."""
    for line in text.splitlines():
        if line.startswith("#") or not line.startswith(name):
            continue
        head, _, value = line.rpartition(" ")
        if head == name and not labels:
            return float(value)
        if head.startswith(name + "{") and all(f'{k}="{v}"' in head for k, v in labels.items()):
            return float(value)
    return 0.0


_SCHEMAS: dict[str, Any] = {}


def assert_schema(name: str, document: Any) -> None:
    """Asserts `document` is valid against schemas/<name> (JSON Schema 2020-12, formats checked)."""
    import jsonschema
    from referencing import Registry, Resource

    root = Path(__file__).resolve().parents[2] / "schemas"
    if not _SCHEMAS:
        for path in root.rglob("*.schema.json"):
            doc = json.loads(path.read_text())
            _SCHEMAS[doc["$id"]] = doc
            _SCHEMAS[str(path.relative_to(root))] = doc
    registry: Registry[Any] = Registry().with_resources(
        (sid, Resource.from_contents(doc)) for sid, doc in _SCHEMAS.items() if sid.startswith("http"))
    validator = jsonschema.Draft202012Validator(
        _SCHEMAS[name], registry=registry, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    errors = sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
    assert not errors, [f"{list(e.absolute_path)}: {e.message}" for e in errors]
