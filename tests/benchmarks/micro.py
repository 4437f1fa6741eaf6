"""What one event and one decision cost in the pure core and the stream's record applier,
in-process (no broker, no HTTP), over the benchmark's event mix.

    python -m tests.benchmarks.micro [--customers 2000] [--pyinstrument OUT.txt]

Prints one JSON object of microseconds per operation. With --pyinstrument, also profiles the
record applier (array and single-event records) and decide, and writes pyinstrument's text report.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from service.api.validation import EventValidator
from service.bootstrap import DEMO_CATALOG, schema_dir
from service.core.decide import decide_with_context
from service.core.policy import DEFAULT_POLICY, load_policy
from service.core.reference import ReferenceData, apply_reference_event
from service.core.state import StateConfig, apply_event, decode_state, encode_state
from service.stream.processor import RecordApplier
from service.telemetry.metrics import build_metrics
from tests.benchmarks import mix


@dataclass
class Message:
    value: bytes
    key: bytes
    offset: int
    partition: int = 0
    topic: str = "customer.events.v1"
    timestamp: float = 0.0
    headers: list[tuple[str, bytes]] = field(default_factory=list)


@dataclass
class Event:
    message: Message


def per_call_us(fn: Callable[[], object], n: int) -> float:
    started = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - started) / n * 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--pyinstrument", type=Path)
    args = parser.parse_args(argv)
    now = mix.wall_ms()
    validator = EventValidator.from_directory(schema_dir())
    seeds = [mix.customer_events(n, now, "m") for n in range(args.customers)]
    events = [e for evs in seeds for e in evs]

    started = time.perf_counter()
    for e in events:
        validator.validate(e, now, 300_000)
    validate_us = (time.perf_counter() - started) / len(events) * 1e6

    states: list[dict[str, Any]] = []
    started = time.perf_counter()
    for evs in seeds:
        state = None
        for e in evs:
            state = apply_event(state, e, now).state
        assert state is not None
        states.append(state)
    apply_us = (time.perf_counter() - started) / len(events) * 1e6
    encoded = [encode_state(s) for s in states]
    rng = random.Random(3)
    pick = [rng.randrange(len(states)) for _ in range(20_000)]
    it = iter(pick * 10)
    encode_us = per_call_us(lambda: encode_state(states[next(it)]), 20_000)
    decode_us = per_call_us(lambda: decode_state(encoded[next(it)]), 20_000)

    ref = ReferenceData()
    for line in DEMO_CATALOG.read_bytes().splitlines():
        if line.strip():
            apply_reference_event(ref, orjson.loads(line))
    policy = load_policy(DEFAULT_POLICY)
    requests = [orjson.loads(mix.decision_body(rng, args.customers, "m")) for _ in range(5_000)]
    by_id = {s["customer_id"]: s for s in states}
    rit = iter(requests * 10)

    def one_decision() -> None:
        req = next(rit)
        decide_with_context(by_id.get(req["customer_id"]), req, ref, policy, now, "d", [])

    decide_us = per_call_us(one_decision, 20_000)

    def applier() -> tuple[RecordApplier, dict[bytes, bytes]]:
        table: dict[bytes, bytes] = {}
        return RecordApplier(table, build_metrics(), validator, lambda: now, StateConfig(), 300, {}), table

    def apply_records(layout: str) -> float:
        app, _table = applier()
        offset = 0
        records: list[Any] = []  # stand-ins for faust events: only .message is read
        for evs in seeds:
            key = evs[0]["customer_id"].encode()
            values = [orjson.dumps(evs)] if layout == "array" else [orjson.dumps(e) for e in evs]
            for value in values:
                offset += 1
                records.append(Event(Message(value, key, offset, timestamp=now / 1000)))
        started = time.perf_counter()
        for record in records:
            app.apply_record(record)
        return (time.perf_counter() - started) / len(events) * 1e6

    array_us = apply_records("array")
    single_us = apply_records("single")
    result = {"events": len(events), "customers": args.customers,
              "validate_us_per_event": round(validate_us, 1), "apply_event_us_per_event": round(apply_us, 1),
              "encode_state_us": round(encode_us, 1), "decode_state_us": round(decode_us, 1),
              "state_bytes_mean": round(sum(map(len, encoded)) / len(encoded), 1),
              "decide_us": round(decide_us, 1),
              "record_applier_us_per_event_array": round(array_us, 1),
              "record_applier_us_per_event_single": round(single_us, 1)}
    if args.pyinstrument:
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.0002)
        profiler.start()
        apply_records("single")
        apply_records("array")
        for _ in range(20_000):
            one_decision()
        profiler.stop()
        args.pyinstrument.write_text(profiler.output_text(unicode=False, color=False, show_all=False))
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
