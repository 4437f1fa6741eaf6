"""HTTP load generator, run as its own process: open loop at a fixed rate, or closed loop.

    python -m tests.benchmarks.loadgen --url URL --key KEY --kind decisions --rate 1000 --seconds 20

Open loop: request i is due at start + i / rate whatever happened to earlier ones; its latency is
measured from that *scheduled* time to the last byte of the response, so time spent waiting for
a free connection or for the server (queueing) is included (no coordinated omission). Closed loop
(`--concurrency N --count M`): N requests in flight, each sent when one finishes (throughput).

Why not asyncio + uvloop: libuv timers have a 1 ms resolution (a 0.4 ms sleep returns at once,
so a scheduler either spins or sends up to 1 ms late, which alone would eat half of a 2 ms p99
budget). This generator is a plain `select()` loop over keep-alive sockets: `select` takes a
microsecond timeout (measured wake-up lag ~0.1 ms) and the loop costs ~20 µs of CPU per request,
so it stays far from the server's core. The actual send lag behind the schedule is reported
(`send_lag_ms`) so the generator's own share of the latency is visible.

Prints one JSON object (latency percentiles in ms, statuses, achieved rate) on stdout.
"""

from __future__ import annotations

import argparse
import json
import random
import select
import socket
import sys
import time
from collections import Counter, deque
from collections.abc import Iterator
from dataclasses import dataclass, field

from tests.benchmarks import mix


def percentiles(values: list[float], qs: tuple[float, ...] = (0.5, 0.9, 0.99, 0.999)) -> dict[str, float]:
    """Nearest-rank percentiles (ms rounded to 3 decimals) plus max; empty → {}."""
    if not values:
        return {}
    ordered = sorted(values)
    out = {f"p{q * 100:g}": round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3) for q in qs}
    out["max"] = round(ordered[-1], 3)
    return out


def request_bytes(host: str, path: str, key: str, body: bytes) -> bytes:
    head = (f"POST {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {key}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n")
    return head.encode() + body


@dataclass
class Conn:
    sock: socket.socket
    buf: bytearray = field(default_factory=bytearray)
    scheduled: float = 0.0
    sent: float = 0.0
    need: int = -1  # total bytes of the response once the head is parsed
    status: int = 0


class Engine:
    def __init__(self, host: str, port: int, max_conns: int) -> None:
        self.addr = (host, port)
        self.max_conns = max_conns
        self.idle: list[Conn] = []
        self.busy: dict[int, Conn] = {}
        self.opened = 0
        self.statuses: Counter[str] = Counter()
        self.latency: list[float] = []  # (done - scheduled), ms, after warm-up
        self.service: list[float] = []  # (done - sent), ms
        self.lag: list[float] = []  # (sent - scheduled), ms
        self.measure_from = 0.0
        self.completed = 0

    def _connect(self) -> Conn:
        sock = socket.create_connection(self.addr)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.opened += 1
        return Conn(sock)

    def can_send(self) -> bool:
        return bool(self.idle) or len(self.busy) < self.max_conns

    def send(self, payload: bytes, scheduled: float) -> None:
        conn = self.idle.pop() if self.idle else self._connect()
        conn.scheduled = scheduled
        conn.sent = time.perf_counter()
        conn.need, conn.status = -1, 0
        conn.buf.clear()
        conn.sock.sendall(payload)
        self.busy[conn.sock.fileno()] = conn

    def poll(self, timeout_s: float) -> int:
        """Waits up to timeout_s for responses; returns how many completed."""
        if not self.busy:
            if timeout_s > 0:
                time.sleep(timeout_s)
            return 0
        readable, _, _ = select.select(list(self.busy), [], [], max(timeout_s, 0.0))
        done = 0
        for fd in readable:
            conn = self.busy[fd]
            chunk = conn.sock.recv(262_144)
            if not chunk:
                self.statuses["closed"] += 1
                del self.busy[fd]
                conn.sock.close()
                done += 1
                continue
            conn.buf += chunk
            if conn.need < 0:
                end = conn.buf.find(b"\r\n\r\n")
                if end < 0:
                    continue
                head = bytes(conn.buf[:end]).decode("latin-1").split("\r\n")
                conn.status = int(head[0].split(" ", 2)[1])
                length = next((int(h.split(":", 1)[1]) for h in head[1:] if h.lower().startswith("content-length:")),
                              None)
                if length is None:
                    raise RuntimeError(f"response without Content-Length: {head}")
                conn.need = end + 4 + length
            if len(conn.buf) >= conn.need:
                now = time.perf_counter()
                del self.busy[fd]
                self.idle.append(conn)
                self.completed += 1
                done += 1
                self.statuses[str(conn.status)] += 1
                if conn.scheduled >= self.measure_from:
                    self.latency.append((now - conn.scheduled) * 1000)
                    self.service.append((now - conn.sent) * 1000)
                    self.lag.append((conn.sent - conn.scheduled) * 1000)
        return done

    def close(self) -> None:
        for conn in [*self.idle, *self.busy.values()]:
            conn.sock.close()


def open_loop(engine: Engine, payloads: Iterator[bytes], rate: float, seconds: float, warmup_s: float,
              drain_s: float = 10.0) -> dict[str, object]:
    total = int(rate * seconds)
    start = time.perf_counter() + 0.01
    engine.measure_from = start + warmup_s
    backlog: deque[tuple[float, bytes]] = deque()
    i = 0
    while i < total:
        now = time.perf_counter()
        while i < total and start + i / rate <= now:
            backlog.append((start + i / rate, next(payloads)))
            i += 1
        while backlog and engine.can_send():
            scheduled, payload = backlog.popleft()
            engine.send(payload, scheduled)
        next_due = start + i / rate
        engine.poll(next_due - time.perf_counter() if i < total else 0)
    deadline = time.perf_counter() + drain_s
    while (engine.busy or backlog) and time.perf_counter() < deadline:
        while backlog and engine.can_send():
            scheduled, payload = backlog.popleft()
            engine.send(payload, scheduled)
        engine.poll(0.05)
    elapsed = time.perf_counter() - start
    unfinished = len(engine.busy) + len(backlog)
    return {"mode": "open", "target_rate": rate, "sent": total - len(backlog), "unfinished": unfinished,
            "achieved_rate": round(engine.completed / elapsed, 1), "elapsed_s": round(elapsed, 2)}


def closed_loop(engine: Engine, payloads: Iterator[bytes], concurrency: int, count: int) -> dict[str, object]:
    start = time.perf_counter()
    engine.measure_from = start
    sent = 0
    while sent < count or engine.busy:
        while sent < count and len(engine.busy) < concurrency:
            engine.send(next(payloads), time.perf_counter())
            sent += 1
        engine.poll(1.0)
    elapsed = time.perf_counter() - start
    return {"mode": "closed", "concurrency": concurrency, "sent": sent, "elapsed_s": round(elapsed, 3),
            "achieved_rate": round(engine.completed / elapsed, 1), "started_at": start}


def payload_stream(args: argparse.Namespace, host: str, total: int) -> Iterator[bytes]:
    if args.kind == "decisions":
        rng = random.Random(args.seed)
        pool = [request_bytes(host, "/v1/decisions", args.key, mix.decision_body(rng, args.population, args.prefix))
                for _ in range(min(total, 20_000))]
        while True:
            yield from pool
    # Ingest bodies carry new event ids and current times: built on the fly, a few ahead.
    bodies = mix.ingest_bodies(total + 10, args.events_per_request, args.customers_per_request, args.population,
                               args.seed, args.prefix)
    for body in bodies:
        yield request_bytes(host, "/v1/events", args.key, body)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--kind", choices=["decisions", "events"], default="decisions")
    parser.add_argument("--rate", type=float, help="open loop: requests per second")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=2.0, help="open loop: seconds not measured")
    parser.add_argument("--concurrency", type=int, help="closed loop: requests in flight")
    parser.add_argument("--count", type=int, default=1000, help="closed loop: requests")
    parser.add_argument("--max-conns", type=int, default=256)
    parser.add_argument("--population", type=int, default=100_000, help="customers to draw from")
    parser.add_argument("--prefix", default="c", help="customer id prefix")
    parser.add_argument("--events-per-request", type=int, default=20)
    parser.add_argument("--customers-per-request", type=int, default=10)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    hostport = args.url.split("//", 1)[-1].split("/", 1)[0]
    host, _, port = hostport.rpartition(":")
    if host not in {"127.0.0.1", "localhost"}:
        parser.error("the load generator only targets this machine (127.0.0.1)")
    engine = Engine(host, int(port), args.max_conns)
    total = args.count if args.concurrency else int((args.rate or 1) * args.seconds)
    payloads = payload_stream(args, hostport, total)
    if args.concurrency:
        summary = closed_loop(engine, payloads, args.concurrency, args.count)
    else:
        if not args.rate:
            parser.error("give --rate (open loop) or --concurrency (closed loop)")
        summary = open_loop(engine, payloads, args.rate, args.seconds, args.warmup)
    engine.close()
    summary.update({"kind": args.kind, "statuses": dict(engine.statuses), "connections": engine.opened,
                    "latency_ms": percentiles(engine.latency), "service_ms": percentiles(engine.service),
                    "send_lag_ms": percentiles(engine.lag, (0.5, 0.99)), "measured": len(engine.latency)})
    json.dump(summary, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
