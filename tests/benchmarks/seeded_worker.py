"""`kairos serve` with its table seeded directly in memory: for the state-size runs (1,000,000
customers would take many minutes through the topic on this machine).

    KAIROS_...=... BENCH_SEED_CUSTOMERS=1000000 python -m tests.benchmarks.seeded_worker

The same process as `kairos serve` (settings from the environment, uvloop, `bootstrap.serve`),
with one addition: once the table's first recovery is complete, BENCH_SEED_CUSTOMERS state
records are written straight into the memory store (no changelog). They are built by the stream's
own apply function: the seed mix (tests/benchmarks/mix.py) of BENCH_SEED_TEMPLATES customers is
validated and applied with `service.core.state.apply_event` and encoded with `encode_state`; customer
n gets template n mod T with her own customer id, so every record is a distinct bytes object of
the size a real one has. The log line "bench seed complete" and the
`kairos_customers_in_state` gauge tell the benchmark when it is done.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from typing import Any

import orjson

from service import bootstrap
from service.api.validation import EventValidator
from service.cli import run_bounded
from service.core.state import apply_event, encode_state
from service.settings import load_settings
from service.stream.processor import StreamRuntime
from service.telemetry.logging import configure_logging
from tests.benchmarks import mix

log = logging.getLogger("kairos.bench")


def templates(count: int, now_ms: int) -> list[dict[str, Any]]:
    validator = EventValidator.from_directory(bootstrap.schema_dir())
    out = []
    for n in range(count):
        state: dict[str, Any] | None = None
        for event in mix.customer_events(n, now_ms):
            errors = validator.validate(event, now_ms, 300_000)
            if errors:
                raise RuntimeError(f"seed event is invalid: {errors[0]}")
            state = apply_event(state, event, now_ms).state
        assert state is not None
        out.append(state)
    return out


async def seed(runtime: StreamRuntime, customers: int, template_count: int) -> None:
    recovery: Any = runtime.app.tables.recovery  # type: ignore[attr-defined]
    while not recovery.completed.is_set():
        await asyncio.sleep(0.1)
    started = time.perf_counter()
    shapes = templates(template_count, mix.wall_ms())
    store: Any = runtime.table.data
    data = store.data  # the memory store's dict: key bytes -> value bytes
    total_bytes = 0
    for n in range(customers):
        cid = mix.customer_id(n)
        value = encode_state({**shapes[n % template_count], "customer_id": cid})
        data[cid.encode()] = value
        total_bytes += len(value)
        if n % 50_000 == 49_999:
            await asyncio.sleep(0)  # let the loop breathe (readiness probes)
    seconds = round(time.perf_counter() - started, 1)
    log.warning("bench seed complete", extra={"customers": customers, "seconds": seconds,
                                              "mean_bytes": round(total_bytes / max(customers, 1), 1)})
    print(orjson.dumps({"bench_seed_complete": customers, "mean_bytes": total_bytes / max(customers, 1)}).decode(),
          flush=True)


def main() -> int:
    customers = int(os.environ.get("BENCH_SEED_CUSTOMERS", "0"))
    template_count = int(os.environ.get("BENCH_SEED_TEMPLATES", "2000"))
    original = bootstrap.build_stream  # type: ignore[attr-defined]
    tasks: list[asyncio.Task[None]] = []

    def build_and_seed(*args: Any, **kwargs: Any) -> StreamRuntime:
        runtime = original(*args, **kwargs)
        if customers:
            tasks.append(asyncio.get_running_loop().create_task(seed(runtime, customers, template_count)))
        return runtime

    bootstrap.build_stream = build_and_seed  # type: ignore[attr-defined]
    settings = load_settings()
    configure_logging(settings.log_level)
    return run_bounded(bootstrap.serve(settings, announce=lambda line: print(line, flush=True)))


if __name__ == "__main__":
    raise SystemExit(main())
