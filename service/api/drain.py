"""Graceful stop of the HTTP listener: finish every request in flight, including one whose body
is still arriving.

aiohttp's own `AppRunner.cleanup()` marks every connection closing at once, and from then on its
protocol drops incoming bytes (`data_received` returns early when closing): a client in the middle
of uploading a batch never gets its answer and the handler waits for the body until the shutdown
timeout. So Kairos drains first — stop listening, let requests in flight finish (their bodies
still arrive), close keep-alive connections after their current response — and only then calls
`cleanup()`, which by then has nothing left to cut.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.typedefs import Middleware

log = logging.getLogger("kairos.http")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class InFlight:
    """Counts requests inside the application; `draining` once the listener is closed."""

    def __init__(self) -> None:
        self.count = 0
        self.draining = False
        self._idle = asyncio.Event()
        self._idle.set()

    def enter(self) -> None:
        self.count += 1
        self._idle.clear()

    def leave(self) -> None:
        self.count -= 1
        if self.count == 0:
            self._idle.set()

    async def wait_idle(self, timeout_s: float) -> bool:
        """True when no request is in flight (within `timeout_s`)."""
        try:
            await asyncio.wait_for(self._idle.wait(), timeout_s)
        except TimeoutError:
            return False
        return True


def in_flight_middleware(in_flight: InFlight) -> Middleware:
    """Outermost middleware: counts the request for the whole of its handling, body read included.
    While draining, answers close their connection so keep-alive clients reconnect elsewhere."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        in_flight.enter()
        try:
            response = await handler(request)
            if in_flight.draining:
                response.force_close()
            return response
        finally:
            in_flight.leave()

    return middleware


async def stop_http(runner: web.AppRunner, in_flight: InFlight, drain_timeout_s: float) -> None:
    """Stops listening, waits up to `drain_timeout_s` for requests in flight, then cleans up."""
    for site in list(runner.sites):
        await site.stop()
    in_flight.draining = True
    if not await in_flight.wait_idle(drain_timeout_s):
        log.warning("requests still in flight at the drain timeout are cut off",
                    extra={"in_flight": in_flight.count, "timeout_s": drain_timeout_s})
    await runner.cleanup()
