"""API layer for operators: a request id on every request and its log lines, the log level at run
time (`GET`/`PUT /admin/log-level`) and the group's view of who owns which partition
(`GET /admin/cluster`)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable

import orjson
from aiohttp import web
from aiohttp.typedefs import Middleware

from service.api.body import read_body
from service.api.deps import deps_of
from service.api.errors import InvalidJson, InvalidRequest
from service.telemetry import logging as kairos_logging

REQUEST_ID = "X-Request-Id"
# A caller's id is kept only if it is short and plain (it goes into every log line and header).
_CALLER_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def request_id_middleware() -> Middleware:
    """The caller's X-Request-Id (if plain) or a new one: on every log line of the request (as
    `request_id`) and echoed in the response, so a client's report finds the server's logs."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        given = request.headers.get(REQUEST_ID)
        rid = given if given is not None and _CALLER_ID.fullmatch(given) else uuid.uuid4().hex
        token = kairos_logging.request_id.set(rid)
        try:
            response = await handler(request)
        finally:
            kairos_logging.request_id.reset(token)
            kairos_logging.decision_id.set(None)
        response.headers[REQUEST_ID] = rid
        return response

    return middleware


def _json(body: object) -> web.Response:
    return web.Response(body=orjson.dumps(body), content_type="application/json")


async def get_log_level(request: web.Request) -> web.Response:
    return _json({"level": kairos_logging.current_level(), "configured": kairos_logging.configured_level()})


async def put_log_level(request: web.Request) -> web.Response:
    raw = await read_body(request)
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidJson(f"the request body is not valid JSON: {exc}") from None
    level = body.get("level") if isinstance(body, dict) and set(body) == {"level"} else None
    if not isinstance(level, str) or level.upper() not in kairos_logging.LEVELS:
        raise InvalidRequest('send {"level": "DEBUG"} (one of ' + ", ".join(kairos_logging.LEVELS) + ")")
    previous = kairos_logging.set_level(level, by="api")
    return _json({"level": kairos_logging.current_level(), "previous": previous,
                  "configured": kairos_logging.configured_level()})


async def get_cluster(request: web.Request) -> web.Response:
    """This worker's advertised URL and, from the current group assignment, each member's URL
    with the partitions whose customer state it owns."""
    deps = deps_of(request)
    forwarder = deps.forwarder
    if forwarder is None:
        return _json({"self": None, "members": []})
    members = [{"url": url, "partitions": parts} for url, parts in sorted(forwarder.assignment().items())]
    return _json({"self": forwarder.self_url, "members": members})
