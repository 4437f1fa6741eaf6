"""API layer: reading a request body with a deadline, so a client that stops sending cannot hold
a connection, a handler and its memory for as long as it likes (slowloris)."""

from __future__ import annotations

import asyncio

from aiohttp import web

from service.api.deps import deps_of
from service.api.errors import RequestTimeout


async def read_body(request: web.Request) -> bytes:
    """The whole body, or RequestTimeout (408) once KAIROS_BODY_READ_TIMEOUT_S has passed."""
    timeout_s = deps_of(request).settings.body_read_timeout_s
    try:
        async with asyncio.timeout(timeout_s):
            return await request.read()
    except TimeoutError:
        raise RequestTimeout(f"the request body did not arrive within {timeout_s:g} s; send it whole, without "
                             "pausing", headers={"Connection": "close"}) from None
