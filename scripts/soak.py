"""Sustained mixed load against a running Kairos: ingest and decisions for several minutes.

Run by hand (not a CI test; figures go into BENCHMARKS.md). It talks only to the URL given
(loopback only), sends decisions and ingest batches each at its own fixed rate (open loop: a
request is due at its scheduled time whatever happened to earlier ones, and its latency counts
from that time, so queueing is included), counts every status, samples the server's resident
memory from /proc every --sample-s and ends by itself after --minutes with a summary: rates sent
and achieved, every status, the 5xx count, RSS at start / after warm-up / end and its slope after
warm-up (least squares, MiB/min), and client-side decision latency.

    python scripts/soak.py --pid "$(pgrep -f 'kairos serve')" --key "$(cat kairos-data/dev-api-key)" \\
        --decisions-per-s 300 --events-per-s 600 --minutes 5 --json-out soak.json --md-out soak.md
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import time
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp

PRODUCTS = [f"p-{n}" for n in range(500)]
EVENT_TYPES = ("product.viewed", "product.viewed", "product.viewed", "wishlist.added", "cart.added",
               "location.updated", "app.opened")


def rss_mib(pid: int | None) -> float | None:
    if pid is None:
        return None
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:  # the server is gone: reported as a missing sample
        return None
    return None


def cpu_s(pid: int | None) -> float | None:
    """User + system CPU seconds of a process, from /proc (None when unknown or gone)."""
    if pid is None:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 2)


def slope_per_min(points: list[tuple[float, float]]) -> float | None:
    """Least-squares slope of (seconds, MiB) points, in MiB per minute."""
    if len(points) < 3:
        return None
    n = len(points)
    mt = sum(t for t, _ in points) / n
    mv = sum(v for _, v in points) / n
    var = sum((t - mt) ** 2 for t, _ in points)
    if var == 0:
        return None
    return round(sum((t - mt) * (v - mv) for t, v in points) / var * 60, 3)


class Soak:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.headers = {"Authorization": f"Bearer {args.key}"} if args.key else {}
        self.statuses: Counter[str] = Counter()
        self.sent: Counter[str] = Counter()
        self.latencies: list[float] = []
        self.samples: list[tuple[float, float | None]] = []
        self.broker_samples: list[tuple[float, float | None]] = []
        self.customers = [f"soak-{n}" for n in range(args.customers)]
        self.seq = 0
        self.limit = asyncio.Semaphore(args.max_in_flight)
        self.in_flight: set[asyncio.Task[None]] = set()
        self.cpu_cores: list[float | None] = [None, None]
        self.lag: list[tuple[float, float | None]] = []  # consumer lag (records), from /metrics

    async def one(self, session: aiohttp.ClientSession, kind: str, due: float) -> None:
        async with self.limit:
            try:
                if kind == "events":
                    self.seq += 1
                    body: Any = [event(random.choice(self.customers), self.seq, time.time())  # noqa: TID251 (a client stamps wall time)
                                 for _ in range(self.args.batch)]
                    resp = await session.post(f"{self.args.url}/v1/events", json=body, headers=self.headers)
                else:
                    body = {"customer_id": random.choice(self.customers), "placement": "app.home",
                            "device": {"id": "d", "type": random.choice(["phone", "tablet", "web"])}}
                    resp = await session.post(f"{self.args.url}/v1/decisions", json=body, headers=self.headers)
                await resp.read()
                self.statuses[f"{kind} {resp.status}"] += 1
                if kind == "decisions":
                    self.latencies.append(time.perf_counter() - due)
            except (TimeoutError, aiohttp.ClientError) as exc:
                self.statuses[f"{kind} {type(exc).__name__}"] += 1

    async def schedule(self, session: aiohttp.ClientSession, kind: str, rate: float, start: float,
                       end: float) -> None:
        if rate <= 0:
            return
        i = 0
        while True:
            due = start + i / rate
            if due >= end:
                return
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            task = asyncio.create_task(self.one(session, kind, due))
            self.in_flight.add(task)
            task.add_done_callback(self.in_flight.discard)
            self.sent[kind] += 1
            i += 1

    async def consumer_lag(self, session: aiohttp.ClientSession) -> float | None:
        """Records the stream has not committed yet (sum of kairos_consumer_lag_records): if it keeps
        growing, the ingest rate is beyond what the worker applies and the run is not sustainable."""
        try:
            async with session.get(f"{self.args.url}/metrics", headers=self.headers) as resp:
                text = await resp.text()
        except (TimeoutError, aiohttp.ClientError):
            return None
        values = [float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                  if line.startswith("kairos_consumer_lag_records{")]
        return sum(values) if values else None

    async def sampler(self, session: aiohttp.ClientSession, start: float, end: float) -> None:
        while True:
            now = time.perf_counter()
            self.samples.append((now - start, rss_mib(self.args.pid)))
            self.broker_samples.append((now - start, rss_mib(self.args.broker_pid)))
            self.lag.append((now - start, await self.consumer_lag(session)))
            counts = dict(sorted(self.statuses.items()))
            print(f"{now - start:6.0f} s  rss {self.samples[-1][1] or 0:7.1f} MiB  lag {self.lag[-1][1]}  {counts}",
                  flush=True)
            if now >= end:
                return
            await asyncio.sleep(min(self.args.sample_s, max(0.0, end - now)))

    async def run(self) -> dict[str, Any]:
        a = self.args
        connector = aiohttp.TCPConnector(limit=a.max_in_flight)
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10), connector=connector) as session:
            start = time.perf_counter()
            cpu0 = cpu_s(a.pid), cpu_s(a.broker_pid)
            end = start + a.minutes * 60
            await asyncio.gather(self.schedule(session, "decisions", a.decisions_per_s, start, end),
                                 self.schedule(session, "events", a.events_per_s / a.batch, start, end),
                                 self.sampler(session, start, end))
            await asyncio.gather(*self.in_flight)
            elapsed = time.perf_counter() - start
            cpu1 = cpu_s(a.pid), cpu_s(a.broker_pid)
        self.cpu_cores = [None if b is None or e is None else round((e - b) / elapsed, 2)
                          for b, e in zip(cpu0, cpu1, strict=True)]
        return self.summary(elapsed)

    def summary(self, elapsed: float) -> dict[str, Any]:
        a = self.args
        done = Counter[str]()
        for key, count in self.statuses.items():
            done[key.split()[0]] += count
        ok = {k: sum(v for s, v in self.statuses.items() if s.startswith(k) and s.split()[1][:1] == "2")
              for k in ("decisions", "events")}
        return {
            "duration_s": round(elapsed, 1), "warmup_s": a.warmup_s, "url": a.url, "pid": a.pid,
            "target": {"decisions_per_s": a.decisions_per_s, "events_per_s": a.events_per_s,
                       "ingest_requests_per_s": round(a.events_per_s / a.batch, 2), "events_per_request": a.batch},
            "sent": dict(self.sent),
            "achieved_2xx_per_s": {"decisions": round(ok["decisions"] / elapsed, 1),
                                   "ingest_requests": round(ok["events"] / elapsed, 1),
                                   "events": round(ok["events"] * a.batch / elapsed, 1)},
            "statuses": dict(sorted(self.statuses.items())),
            "server_errors_5xx": sum(v for k, v in self.statuses.items() if k.split()[1][:1] == "5"),
            "client_errors": sum(v for k, v in self.statuses.items() if not k.split()[1].isdigit()),
            "decision_latency_ms_client": {"p50": pct(self.latencies, 0.5), "p99": pct(self.latencies, 0.99),
                                           "p99.9": pct(self.latencies, 0.999),
                                           "max": pct(self.latencies, 1.0)},
            "consumer_lag_records": lag_summary(self.lag, a.warmup_s),
            "cpu_cores_mean": {"kairos": self.cpu_cores[0], "broker": self.cpu_cores[1]},
            "rss_mib": rss_summary(self.samples, a.warmup_s, a.sample_s),
            "broker_rss_mib": rss_summary(self.broker_samples, a.warmup_s, a.sample_s) if a.broker_pid else None,
            "rss_series": [[round(t, 1), None if r is None else round(r, 1)] for t, r in self.samples],
        }


def lag_summary(lag: list[tuple[float, float | None]], warmup_s: float) -> dict[str, Any]:
    known = [(t, v) for t, v in lag if v is not None]
    after = [(t, v) for t, v in known if t >= warmup_s]
    return {"end": known[-1][1] if known else None, "max_after_warmup": max((v for _, v in after), default=None),
            "slope_after_warmup_per_min": slope_per_min(after),
            "series": [[round(t, 1), v] for t, v in lag]}


def rss_summary(samples: list[tuple[float, float | None]], warmup_s: float, every_s: float) -> dict[str, Any]:
    rss = [(t, r) for t, r in samples if r is not None]
    after = [(t, r) for t, r in rss if t >= warmup_s]
    return {"start": round(rss[0][1], 1) if rss else None, "after_warmup": round(after[0][1], 1) if after else None,
            "end": round(rss[-1][1], 1) if rss else None, "max": round(max(r for _, r in rss), 1) if rss else None,
            "slope_after_warmup_mib_per_min": slope_per_min(after),
            "slope_last_half_mib_per_min": slope_per_min([(t, r) for t, r in rss if rss and t >= rss[-1][0] / 2]),
            "samples": len(rss),
            "missing_samples": len(samples) - len(rss), "every_s": every_s}


def markdown(s: dict[str, Any]) -> str:
    t, r, lat = s["target"], s["rss_mib"], s["decision_latency_ms_client"]
    statuses = ", ".join(f"{k}: {v:,}" for k, v in s["statuses"].items())
    return "\n".join([
        f"Soak: {s['duration_s'] / 60:.1f} min against {s['url']} (open loop).",
        "",
        "| figure | value |", "|---|---|",
        f"| target | {t['decisions_per_s']:g} decisions/s + {t['events_per_s']:g} events/s "
        f"({t['ingest_requests_per_s']:g} ingest requests/s of {t['events_per_request']}) |",
        f"| requests sent | {', '.join(f'{k} {v:,}' for k, v in s['sent'].items())} "
        f"(ingest requests of {t['events_per_request']} events each) |",
        f"| achieved (2xx) | {s['achieved_2xx_per_s']['decisions']:g} decisions/s, "
        f"{s['achieved_2xx_per_s']['events']:g} events/s |",
        f"| statuses (requests) | {statuses} |",
        f"| 5xx | {s['server_errors_5xx']} |",
        f"| client errors (timeouts, resets) | {s['client_errors']} |",
        f"| decision latency, client-side from the scheduled time | p50 {lat['p50']} ms, p99 {lat['p99']} ms, "
        f"p99.9 {lat['p99.9']} ms, max {lat['max']} ms |",
        f"| RSS start / after {s['warmup_s']:g} s warm-up / end / max | {r['start']} / {r['after_warmup']} / "
        f"{r['end']} / {r['max']} MiB |",
        f"| RSS slope after warm-up / over the last half | {r['slope_after_warmup_mib_per_min']} / "
        f"{r['slope_last_half_mib_per_min']} MiB/min ({r['samples']} samples, every {r['every_s']:g} s) |",
        "| consumer lag (records not yet committed: high watermark − committed offset) "
        f"at end / max after warm-up / slope | "
        f"{s['consumer_lag_records']['end']} / {s['consumer_lag_records']['max_after_warmup']} / "
        f"{s['consumer_lag_records']['slope_after_warmup_per_min']} per min |",
        f"| mean CPU (cores) | Kairos {s['cpu_cores_mean']['kairos']}, broker {s['cpu_cores_mean']['broker']} |",
        *([f"| embedded broker RSS start / after warm-up / end (slope) | {b['start']} / {b['after_warmup']} / "
           f"{b['end']} MiB ({b['slope_after_warmup_mib_per_min']} MiB/min) |"] if (b := s.get("broker_rss_mib"))
          else []),
    ]) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:8080")
    parser.add_argument("--key", default="", help="API key (Bearer)")
    parser.add_argument("--pid", type=int, help="Kairos process id, to sample its resident memory")
    parser.add_argument("--broker-pid", type=int, help="the embedded broker's process id (its memory too)")
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--decisions-per-s", type=float, default=300.0)
    parser.add_argument("--events-per-s", type=float, default=600.0, help="events/s, sent in batches of --batch")
    parser.add_argument("--batch", type=int, default=10, help="events per ingest request")
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--max-in-flight", type=int, default=256)
    parser.add_argument("--sample-s", type=float, default=5.0)
    parser.add_argument("--warmup-s", type=float, default=60.0, help="RSS slope is taken after this")
    parser.add_argument("--json-out", type=Path)
    parser.add_argument("--md-out", type=Path)
    args = parser.parse_args()
    host = args.url.split("//", 1)[-1].split("/", 1)[0].rsplit(":", 1)[0]
    if host not in {"127.0.0.1", "localhost", "[::1]"}:
        parser.error("the soak test only targets this machine (127.0.0.1, localhost, [::1])")
    summary = asyncio.run(Soak(args).run())
    text = json.dumps(summary, indent=2)
    print(text)
    md = markdown(summary)
    print(md)
    if args.json_out:
        args.json_out.write_text(text + "\n")
    if args.md_out:
        args.md_out.write_text(md)


if __name__ == "__main__":
    main()
