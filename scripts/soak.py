"""Sustained mixed load against a running Kairos: ingest and decisions for several minutes.

Run by hand (not a CI test). It talks only to the URL given (loopback by default), sends at a
fixed rate (open loop: requests are scheduled, not paced by responses), counts every status,
samples the server's resident memory from /proc and prints a summary that goes into
BENCHMARKS.md. It stops by itself after --minutes.

    python scripts/soak.py --pid $(pgrep -f 'kairos serve') --key "$(cat kairos-data/dev-api-key)"
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time
from collections import Counter
from pathlib import Path

import aiohttp

PRODUCTS = [f"p-{n}" for n in range(500)]
EVENT_TYPES = ("product.viewed", "product.viewed", "product.viewed", "wishlist.added", "cart.added",
               "location.updated", "app.opened")


def rss_mib(pid: int | None) -> float | None:
    if pid is None:
        return None
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return None


def event(customer: str, seq: int, now: float) -> dict[str, object]:
    etype = random.choice(EVENT_TYPES)
    at = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now - random.uniform(0, 30))) + "Z"
    base: dict[str, object] = {"event_id": f"{customer}-{seq}-{random.getrandbits(32)}", "type": etype,
                               "occurred_at": at, "source": "soak", "customer_id": customer}
    if etype == "location.updated":
        base |= {"location": {"lat": 51.5 + random.uniform(-0.05, 0.05), "lon": -0.1 + random.uniform(-0.05, 0.05)},
                 "accuracy_m": 15}
    elif etype == "app.opened":
        base |= {"device": {"id": f"{customer}-phone", "type": "phone"}}
    else:
        base |= {"product_id": random.choice(PRODUCTS)}
    return base


async def run(args: argparse.Namespace) -> None:
    headers = {"Authorization": f"Bearer {args.key}"} if args.key else {}
    statuses: Counter[str] = Counter()
    latencies: list[float] = []
    samples: list[tuple[float, float | None]] = []
    customers = [f"soak-{n}" for n in range(args.customers)]
    seq = 0
    in_flight: set[asyncio.Task[None]] = set()
    limit = asyncio.Semaphore(args.max_in_flight)

    async def one(session: aiohttp.ClientSession, kind: str) -> None:
        nonlocal seq
        async with limit:
            started = time.perf_counter()
            try:
                if kind == "events":
                    seq += 1
                    body = [event(random.choice(customers), seq, time.time())  # noqa: TID251 (a client stamps wall time)
                            for _ in range(args.batch)]
                    resp = await session.post(f"{args.url}/v1/events", json=body, headers=headers)
                else:
                    body = {"customer_id": random.choice(customers), "placement": "app.home",
                            "device": {"id": "d", "type": random.choice(["phone", "tablet", "web"])}}
                    resp = await session.post(f"{args.url}/v1/decisions", json=body, headers=headers)
                await resp.read()
                statuses[f"{kind} {resp.status}"] += 1
                if kind == "decisions":
                    latencies.append(time.perf_counter() - started)
            except (TimeoutError, aiohttp.ClientError) as exc:
                statuses[f"{kind} {type(exc).__name__}"] += 1

    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        start = time.monotonic()
        end = start + args.minutes * 60
        interval = 1.0 / args.rate
        next_at = start
        next_sample = start
        n = 0
        while time.monotonic() < end:
            now = time.monotonic()
            if now >= next_sample:
                samples.append((now - start, rss_mib(args.pid)))
                print(f"{now - start:6.0f} s  rss {samples[-1][1] or 0:7.1f} MiB  {dict(statuses)}", flush=True)
                next_sample += args.sample_s
            kind = "events" if n % (args.decisions_per_batch + 1) == 0 else "decisions"
            task = asyncio.create_task(one(session, kind))
            in_flight.add(task)
            task.add_done_callback(in_flight.discard)
            n += 1
            next_at += interval
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
        await asyncio.gather(*in_flight)
    latencies.sort()
    pct = {q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000 for q in (0.5, 0.99, 0.999)}
    rss = [r for _, r in samples if r is not None]
    summary = {
        "minutes": args.minutes, "request_rate_per_s": args.rate, "events_per_batch": args.batch,
        "statuses": dict(statuses), "server_errors": sum(v for k, v in statuses.items() if k.split()[1][0] == "5"),
        "decision_latency_ms_client": {"p50": round(pct[0.5], 2), "p99": round(pct[0.99], 2),
                                       "p99.9": round(pct[0.999], 2)},
        "rss_mib_first_last_max": [round(rss[0], 1), round(rss[-1], 1), round(max(rss), 1)] if rss else None,
        "rss_mib_after_first_minute_min_max": ([round(min(r for t, r in samples if t >= 60 and r), 1),
                                               round(max(r for t, r in samples if t >= 60 and r), 1)]
                                              if len(samples) > 2 and args.pid else None),
    }
    print(json.dumps(summary, indent=2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:8080")
    parser.add_argument("--key", default="", help="API key (Bearer)")
    parser.add_argument("--pid", type=int, help="Kairos process id, to sample its resident memory")
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--rate", type=float, default=400.0, help="requests per second (events + decisions)")
    parser.add_argument("--batch", type=int, default=10, help="events per ingest request")
    parser.add_argument("--decisions-per-batch", type=int, default=3, help="decision requests per ingest request")
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--max-in-flight", type=int, default=256)
    parser.add_argument("--sample-s", type=float, default=15.0)
    args = parser.parse_args()
    url = args.url.split("//", 1)[-1].split("/", 1)[0].rsplit(":", 1)[0]
    if url not in {"127.0.0.1", "localhost", "[::1]"}:
        parser.error("the soak test only targets this machine (127.0.0.1, localhost, [::1])")
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
