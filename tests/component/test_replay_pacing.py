"""`kairos replay` against a recording HTTP server on 127.0.0.1: no event time is ever in the future of its send.

The server stands in for a running Kairos's POST /v1/events (answering 202 like ingest does) and
notes when each batch arrived, by the same system clock the replay reads.
"""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from service.adapters.clock import SystemClock
from service.cli import main
from service.core.timeutil import parse_rfc3339_ms

ROUTE = Path(__file__).resolve().parents[1] / "data/locations/retail_demo_store_customer_route.json"


class Recorder(BaseHTTPRequestHandler):
    received: list[tuple[int, dict[str, Any]]]

    def do_POST(self) -> None:
        events = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        at_ms = SystemClock().now_ms()
        self.received.extend((at_ms, e) for e in events)
        body = json.dumps({"accepted": len(events), "duplicates": 0, "rejected": 0, "results": [
            {"index": i, "status": "accepted", "event_id": e["event_id"]} for i, e in enumerate(events)]}).encode()
        self.send_response(202)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def kairos_stand_in() -> Iterator[tuple[str, list[tuple[int, dict[str, Any]]]]]:
    received: list[tuple[int, dict[str, Any]]] = []
    handler = type("Handler", (Recorder,), {"received": received})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", received
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def replayed(url: str, received: list[tuple[int, dict[str, Any]]], *flags: str) -> list[tuple[int, int]]:
    code = main(["replay", str(ROUTE), "--customer", "carla", "--url", url, "--key", "k", *flags])
    assert code == 0
    assert len(received) == 13
    return [(at_ms, parse_rfc3339_ms(e["occurred_at"])) for at_ms, e in received]


def test_rebased_and_paced_each_event_happens_when_it_is_sent(
        kairos_stand_in: tuple[str, list[tuple[int, dict[str, Any]]]]) -> None:
    url, received = kairos_stand_in
    started_ms = SystemClock().now_ms()
    times = replayed(url, received, "--rebase-time", "--speed", "10", "--walk-step-s", "2")
    assert all(occurred <= sent for sent, occurred in times), times
    occurred = [o for _sent, o in times]
    # 2 s apart in the recording, at speed 10: 0.2 s apart in event time as on the wire
    assert [b - a for a, b in itertools.pairwise(occurred)] == [200] * 12
    assert occurred[0] >= started_ms


def test_rebased_as_fast_as_possible_the_walk_ends_now(
        kairos_stand_in: tuple[str, list[tuple[int, dict[str, Any]]]]) -> None:
    url, received = kairos_stand_in
    started_ms = SystemClock().now_ms()
    times = replayed(url, received, "--rebase-time", "--walk-step-s", "30")
    assert all(occurred <= sent for sent, occurred in times), times
    occurred = [o for _sent, o in times]
    assert [b - a for a, b in itertools.pairwise(occurred)] == [30_000] * 12
    assert occurred[-1] >= started_ms  # the last position is "now", the first 6 minutes before


def test_a_walk_without_rebasing_is_never_in_the_future_either(
        kairos_stand_in: tuple[str, list[tuple[int, dict[str, Any]]]]) -> None:
    url, received = kairos_stand_in
    times = replayed(url, received, "--walk-step-s", "30")
    assert all(occurred <= sent for sent, occurred in times), times
