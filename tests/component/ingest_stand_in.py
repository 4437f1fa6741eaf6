"""A stand-in for a running Kairos's POST /v1/events on 127.0.0.1, for `kairos replay` / `kairos load` tests.

It answers like ingest (202 with one accepted result per event, or the status it is told to give)
and notes when each batch arrived, by the system clock the replay reads, and with which key.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from service.adapters.clock import SystemClock


@dataclass
class StandIn:
    url: str = ""
    status: int = 202  # what POST /v1/events answers
    received: list[tuple[int, dict[str, Any]]] = field(default_factory=list)  # (arrival ms, event)
    authorizations: list[str] = field(default_factory=list)


def _handler(state: StandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            events = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            at_ms = SystemClock().now_ms()
            state.authorizations.append(self.headers.get("Authorization", ""))
            if state.status == 202:
                state.received.extend((at_ms, e) for e in events)
                body = {"accepted": len(events), "duplicates": 0, "rejected": 0, "results": [
                    {"index": i, "status": "accepted", "event_id": e["event_id"]} for i, e in enumerate(events)]}
            else:
                body = {"error": {"code": "unauthorized", "message": "missing or unknown API key"}}
            self._answer(state.status, json.dumps(body).encode())

        def do_GET(self) -> None:  # /metrics is not offered: the replay reports no transitions
            self._answer(404, b"")

        def _answer(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


def serve() -> Iterator[StandIn]:
    """A generator for a pytest fixture: the stand-in runs until the test ends."""
    state = StandIn()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
