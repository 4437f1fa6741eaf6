"""Freshness prober, run as its own process: how long after POST /v1/events accepted an event does
a decision reflect it?

    python -m tests.benchmarks.freshness --url URL --key KEY --probes 200 --population 100000

Each probe sends one product.viewed event of a never-seen product id for a known customer, then
asks for her `app.home` decision on a web device (the `home` screen, whose first block is
`last_seen`) every `--poll-ms` until that block starts with the new product. Reported: from the
202 (accepted) to the first decision showing it, and from the moment the POST was sent. Probes
are sequential and spaced `--every-ms` apart; the background load runs in other processes.

Bounded: a probe gives up after `--timeout-s` (counted as "not seen within N s", never dropped),
every HTTP call has that timeout too, and no probe starts after `--budget-s`, so the prober
always exits with its JSON in about budget + timeout seconds, however slow the worker is.
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import sys
import time
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


def first_last_seen(decision: dict[str, Any]) -> str | None:
    for block in decision.get("blocks", []):
        if block["id"] == "last_seen":
            return str(block["items"][0]["product_id"]) if block["items"] else None
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--probes", type=int, default=100)
    parser.add_argument("--population", type=int, default=100_000)
    parser.add_argument("--prefix", default="c")
    parser.add_argument("--every-ms", type=float, default=100.0)
    parser.add_argument("--poll-ms", type=float, default=1.0)
    parser.add_argument("--timeout-s", type=float, default=5.0, help="a probe gives up after this")
    parser.add_argument("--budget-s", type=float, default=120.0, help="no probe starts after this")
    args = parser.parse_args(argv)
    host, _, port = args.url.split("//", 1)[-1].rstrip("/").rpartition(":")
    client = Client(host, int(port), args.key, args.timeout_s)
    rng = random.Random(7)
    stamp = mix.Stamp(f"fresh{rng.getrandbits(32)}")
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
        cid = mix.customer_id(rng.randrange(args.population), args.prefix)
        pid = f"fresh-{stamp.tag}-{i}"
        event = {"event_id": stamp.next(), "type": "product.viewed",
                 "occurred_at": format_rfc3339_ms(mix.wall_ms()), "source": "bench", "customer_id": cid,
                 "product_id": pid}
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
            if status == 200 and first_last_seen(decision) == pid:
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
