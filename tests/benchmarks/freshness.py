"""Freshness prober, run as its own process: how long after POST /v1/events accepted an event does
a decision reflect it?

    python -m tests.benchmarks.freshness --url URL --key KEY --probes 200

Each probe sends one product.viewed event (a demo-catalog product) for a customer nobody has
seen yet (`<prefix>-fresh-…`, outside the background load's population), then asks for her
`app.home` decision every `--poll-ms` until the decision is built on that event: not a cold
start, and `state_as_of` (the event time of the newest fact used) equal to the probe's
`occurred_at`. A block's items are ranked and filtered by stock, so "the product appears in a
block" would measure the policy, not freshness. Reported: from the 202 (accepted) to the first
decision reflecting it, and from the moment the POST was sent. Probes are sequential and spaced
`--every-ms` apart; the background load runs in other processes.

Bounded: a probe gives up after `--timeout-s` (counted as "not seen within N s", never dropped),
every HTTP call has that timeout too, and no probe starts after `--budget-s`, so the prober
always exits with its JSON in about budget + timeout seconds, however slow the worker is.
"""

from __future__ import annotations

import argparse
import http.client
import json
import sys
import time
import uuid
from collections import Counter
from typing import Any

import orjson

from service.core.timeutil import format_rfc3339_ms
from tests.benchmarks import mix
from tests.benchmarks.loadgen import percentiles


class Client:
    def __init__(self, host: str, port: int, key: str, timeout_s: float) -> None:
        self.host, self.port, self.timeout_s = host, port, timeout_s
        self.conn = http.client.HTTPConnection(host, port, timeout=timeout_s)
        self.headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}

    def post(self, path: str, body: bytes) -> tuple[int, Any]:
        """(status, parsed body); (0, error name) when the call fails or times out (then reconnects)."""
        try:
            self.conn.request("POST", path, body=body, headers=self.headers)
            resp = self.conn.getresponse()
            return resp.status, orjson.loads(resp.read())
        except (OSError, http.client.HTTPException, orjson.JSONDecodeError) as exc:
            self.conn.close()
            self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout_s)
            return 0, type(exc).__name__


def reflects(decision: Any, occurred_at: str) -> bool:
    """The decision is built on the probe's event (her only one)."""
    return (isinstance(decision, dict) and decision.get("cold_start") is False
            and decision.get("state_as_of") == occurred_at)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--probes", type=int, default=100)
    parser.add_argument("--prefix", default="c")
    parser.add_argument("--every-ms", type=float, default=100.0)
    parser.add_argument("--poll-ms", type=float, default=1.0)
    parser.add_argument("--timeout-s", type=float, default=5.0, help="a probe gives up after this")
    parser.add_argument("--budget-s", type=float, default=120.0, help="no probe starts after this")
    args = parser.parse_args(argv)
    host, _, port = args.url.split("//", 1)[-1].rstrip("/").rpartition(":")
    client = Client(host, int(port), args.key, args.timeout_s)
    # A new tag per run: the probe customers and event ids must be new to the worker every time.
    stamp = mix.Stamp(f"fresh{uuid.uuid4().hex[:8]}")
    products = mix.catalog()[0]
    from_accept: list[float] = []
    from_send: list[float] = []
    polls: list[int] = []
    not_seen = 0
    failures: Counter[str] = Counter()  # probe events not accepted, by status or error
    poll_errors: Counter[str] = Counter()
    begun = time.perf_counter()
    sent = 0
    for i in range(args.probes):
        if time.perf_counter() - begun > args.budget_s:
            break
        sent += 1
        started = time.perf_counter()
        cid = f"{args.prefix}-fresh-{stamp.tag}-{i}"
        occurred_at = format_rfc3339_ms(mix.wall_ms())
        event = {"event_id": stamp.next(), "type": "product.viewed", "occurred_at": occurred_at, "source": "bench",
                 "customer_id": cid, "product_id": products[i % len(products)]}
        status, body = client.post("/v1/events", orjson.dumps([event]))
        accepted = time.perf_counter()
        if status != 202 or not isinstance(body, dict) or body.get("accepted") != 1:
            failures[str(status or body)] += 1
            continue
        request = orjson.dumps({"customer_id": cid, "placement": "app.home", "device": {"id": "probe", "type": "web"}})
        n = 0
        while True:
            n += 1
            status, decision = client.post("/v1/decisions", request)
            if status == 200 and reflects(decision, occurred_at):
                seen = time.perf_counter()
                from_accept.append((seen - accepted) * 1000)
                from_send.append((seen - started) * 1000)
                polls.append(n)
                break
            if status != 200:
                poll_errors[str(status or decision)] += 1
            if time.perf_counter() - accepted > args.timeout_s:
                not_seen += 1
                break
            time.sleep(args.poll_ms / 1000)
        time.sleep(max(0.0, args.every_ms / 1000 - (time.perf_counter() - started)))
    json.dump({"probes_planned": args.probes, "probes": sent, "seen": len(from_accept), "not_seen": not_seen,
               "not_seen_within_s": args.timeout_s, "not_accepted": dict(failures),
               "decision_poll_errors": dict(poll_errors), "budget_s": args.budget_s,
               # Percentiles over the probes that were seen; not_seen says how many never were.
               "from_accepted_ms": percentiles(from_accept, (0.5, 0.9, 0.99)),
               "from_sent_ms": percentiles(from_send, (0.5, 0.9, 0.99)),
               "decisions_polled_mean": round(sum(polls) / max(len(polls), 1), 1),
               "over_250ms": sum(1 for v in from_accept if v > 250) + not_seen,
               "slowest_ms": sorted(round(v, 1) for v in from_accept)[-5:]}, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
