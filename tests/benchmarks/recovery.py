"""Benchmark phase (harness layer): how long a worker takes to come back after it is killed.

A worker on the rocksdb store (the store a worker on a real broker uses) gets N customers' events
through the customer topic, seeded as the latency phase seeds them. Then, one after the other:

- SIGKILL, restart on the same data dir (the local store survives; the changelog tops it up);
- SIGTERM (graceful), restart on the same data dir;
- SIGKILL, data dir deleted: the whole table is rebuilt from the changelog.

Measured from the restart (process spawned): seconds to /readyz 200, and seconds until every one
of a sample of customers is served her full state, i.e. the owner-only state read shows the
events_applied she had before the stop. A customer whose count comes back *higher* was applied
twice (reported as over_applied, never hidden).
"""

from __future__ import annotations

import shutil
import time
from typing import TYPE_CHECKING, Any

from tests.benchmarks import mix
from tests.benchmarks.procs import BENCH_KEY, Worker, rss_mib, wait_processed
from tests.integration.harness import http

if TYPE_CHECKING:
    from tests.benchmarks.run import Bench

SAMPLE = 200
SERVED_TIMEOUT_S = 900.0
SETTLE_S = 3.0  # after the last event is applied: the commit and changelog flush timers run


def applied(w: Worker, cid: str) -> int | None:
    """events_applied in her state as this worker holds it; None while not served (404/503/down)."""
    try:
        res = http("GET", f"{w.url}/admin/customers/{cid}/state", api_key=BENCH_KEY,
                   headers={"X-Kairos-Forwarded-By": "bench"}, timeout_s=5)
    except OSError:
        return None
    if res.status != 200:
        return None
    body: dict[str, Any] = res.json()
    state = body.get("state", body)
    value = state.get("events_applied") if isinstance(state, dict) else None
    return int(value) if value is not None else None


def restart_and_measure(w: Worker, expected: dict[str, int]) -> dict[str, Any]:
    t0 = time.perf_counter()
    w.start(ready_timeout_s=SERVED_TIMEOUT_S)
    ready_s = time.perf_counter() - t0
    pending = dict(expected)
    over: dict[str, int] = {}
    served_at_ready = sum(1 for cid, n in expected.items() if applied(w, cid) == n)
    served_s = None
    while time.perf_counter() - t0 < SERVED_TIMEOUT_S:
        for cid, n in list(pending.items()):
            got = applied(w, cid)
            if got is not None and got > n:
                over[cid] = got
            if got is not None and got >= n:
                del pending[cid]
        if not pending:
            served_s = time.perf_counter() - t0
            break
        time.sleep(0.2)
    return {"ready_s": round(ready_s, 2), "served_s": None if served_s is None else round(served_s, 2),
            "sample": len(expected), "served_sample": len(expected) - len(pending),
            "served_at_ready": served_at_ready, "over_applied": len(over),
            "over_applied_examples": dict(list(over.items())[:5]),
            "events_reprocessed": round(w.processed()), "rss_mib": round(rss_mib(w.pid), 1)}


def phase_recovery(bench: Bench) -> None:
    n = bench.sizes.customers
    w = bench.worker("recovery", extra_env={"KAIROS_STORE": "rocksdb"})
    bench.say(f"recovery: seeding {n:,} customers (array layout) into a rocksdb worker")
    produced = bench.produce(w.prefix, "array", n)
    w.start()
    samples = wait_processed(w, produced["events"], 3600)
    time.sleep(SETTLE_S)
    step = max(1, n // SAMPLE)
    expected: dict[str, int] = {}
    for i in range(0, n, step):
        cid = mix.customer_id(i)
        got = applied(w, cid)
        if got is None:
            raise RuntimeError(f"recovery: seeded customer {cid} is not served before the stop; see {w.log_path}")
        expected[cid] = got
        if len(expected) == SAMPLE:
            break
    rec: dict[str, Any] = {"customers": n, "events": produced["events"], "records": produced["records"],
                           "store": "rocksdb", "sample": len(expected),
                           "seed_seconds": round(samples[-1][0] - samples[0][0], 1), "cases": {}}
    bench.results["recovery"] = rec
    data_dir = w.out_dir / f"data-{w.name}"
    cases = (("SIGKILL, data dir kept", "SIGKILL", "kept"), ("SIGTERM, data dir kept", "SIGTERM", "kept"),
             ("SIGKILL, data dir deleted", "SIGKILL", "deleted (rebuilt from the changelog)"))
    for case, sig, data in cases:
        bench.say(f"recovery: {case}")
        if sig == "SIGKILL":
            assert w.proc is not None
            w.proc.kill()
            w.proc.wait(30)
        else:
            w.stop()
        if data.startswith("deleted"):
            shutil.rmtree(data_dir, ignore_errors=True)
        result = restart_and_measure(w, expected)
        result |= {"signal": sig, "data_dir": data}
        rec["cases"][case] = result
        bench.say(f"  -> ready {result['ready_s']} s, all {result['served_sample']}/{result['sample']} served "
                  f"{result['served_s']} s, over-applied {result['over_applied']}")
        bench.save()
    w.stop()
