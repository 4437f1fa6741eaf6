"""A fake push/email delivery gateway on a real loopback socket: it records every POST and answers
from a script ("500", "429", "400", "hang", else 202), in the test's loop or in a thread of its own
(for tests that drive Kairos as a separate process)."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web


@dataclass
class Received:
    body: dict[str, Any]
    headers: dict[str, str]


@dataclass
class FakeGateway:
    script: list[str] = field(default_factory=list)  # one step per request; then 202s
    received: list[Received] = field(default_factory=list)
    hang_s: float = 2.0
    url: str = ""
    _runner: web.AppRunner | None = None
    _thread: threading.Thread | None = None
    _loop: asyncio.AbstractEventLoop | None = None

    async def handle(self, request: web.Request) -> web.Response:
        body = orjson.loads(await request.read())
        self.received.append(Received(body, dict(request.headers)))
        step = self.script.pop(0) if self.script else "202"
        if step == "hang":
            await asyncio.sleep(self.hang_s)
            return web.json_response({"status": "late"}, status=202)
        if step == "429":
            return web.json_response({"error": "slow down"}, status=429, headers={"Retry-After": "0"})
        return web.json_response({"status": "ok" if step == "202" else "error"}, status=int(step))

    async def start(self) -> str:
        app = web.Application()
        app.router.add_post("/v1/send", self.handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}/v1/send"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def start_in_thread(self) -> str:
        ready = threading.Event()

        def serve() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            loop.run_until_complete(self.start())
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self.stop())
            loop.close()

        self._thread = threading.Thread(target=serve, name="fake-gateway", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise TimeoutError("the fake gateway did not start")
        return self.url

    def stop_thread(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
