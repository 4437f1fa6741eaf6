"""aiohttp application factory: routes, the error middleware and the one listener's endpoints."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable

import orjson
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from service.api.auth import Authenticator, auth_middleware
from service.api.customers import delete_customer, get_customer_state
from service.api.deps import DEPS_KEY, ApiDeps
from service.api.drain import InFlight, in_flight_middleware
from service.api.errors import ApiError, NotFound, PayloadTooLarge, clip
from service.api.handlers import admin_clock, post_decisions, post_events
from service.api.notifications import get_customer_notifications
from service.api.observability import get_cluster, get_log_level, put_log_level, request_id_middleware
from service.api.webhooks import options_webhook, post_webhook
from service.telemetry.children import child
from service.telemetry.metrics import render

log = logging.getLogger("kairos.http")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def json_response(body: object, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(body=orjson.dumps(body), status=status, content_type="application/json", headers=headers)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    deps = request.app[DEPS_KEY]
    route = request.match_info.route.resource.canonical if request.match_info.route.resource else "unmatched"
    try:
        response = await handler(request)
    except ApiError as exc:
        response = json_response(exc.body(), exc.status, exc.headers)
    except web.HTTPRequestEntityTooLarge:
        limit = deps.settings.max_body_bytes
        exc2 = PayloadTooLarge(f"request body is larger than {limit} bytes; split it into smaller requests",
                               details={"limit_bytes": limit})
        response = json_response(exc2.body(), exc2.status)
    except web.HTTPException as exc:
        if exc.status == 404:
            err = NotFound(f"no route {clip(request.method, 16)} {clip(request.path)}")
            response = json_response(err.body(), 404)
        else:
            body = {"error": {"code": exc.reason.lower().replace(" ", "_"), "message": exc.text or exc.reason}}
            response = json_response(body, exc.status, {k: v for k, v in exc.headers.items() if k == "Allow"})
    except ConnectionResetError:
        # The client went away (mid-body, or before the answer): nobody is left to answer, and it
        # is not a server error. Counted under nginx's "client closed request" code.
        log.debug("client closed the connection", extra={"route": route})
        response = web.Response(status=499)
    except Exception:
        # A bug, never bad input: log with a reference the client can quote, answer 500.
        ref = uuid.uuid4().hex
        log.exception("unhandled error", extra={"route": route, "error_ref": ref})
        response = json_response({"error": {"code": "internal", "message": f"internal error, reference {ref}"}}, 500)
    child(deps.metrics.http_requests, route, str(response.status)).inc()
    return response


async def healthz(request: web.Request) -> web.Response:
    return json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    deps = request.app[DEPS_KEY]
    ready, reasons = deps.readiness()
    if ready:
        return json_response({"status": "ready"})
    return json_response({"status": "not_ready", "reasons": reasons}, 503)


async def metrics(request: web.Request) -> web.Response:
    deps = request.app[DEPS_KEY]
    deps.refresh_gauges()
    return web.Response(body=await render(deps.metrics.registry), headers={"Content-Type": CONTENT_TYPE_LATEST})


def build_http_app(deps: ApiDeps, auth: Authenticator, in_flight: InFlight | None = None) -> web.Application:
    # The in-flight count wraps everything (a graceful stop waits for it); error_middleware comes
    # next: auth refusals get the same error bodies and request metrics.
    middlewares = [request_id_middleware(), error_middleware, auth_middleware(auth, deps.metrics.auth_failures)]
    if in_flight is not None:
        middlewares.insert(0, in_flight_middleware(in_flight))
    app = web.Application(middlewares=middlewares, client_max_size=deps.settings.max_body_bytes)
    app[DEPS_KEY] = deps
    app.router.add_post("/v1/events", post_events)
    app.router.add_post("/v1/decisions", post_decisions)
    app.router.add_post("/v1/webhooks/{provider}", post_webhook)
    app.router.add_route("OPTIONS", "/v1/webhooks/{provider}", options_webhook)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/admin/customers/{customer_id}/state", get_customer_state)
    app.router.add_get("/admin/customers/{customer_id}/notifications", get_customer_notifications)
    app.router.add_delete("/v1/customers/{customer_id}", delete_customer)
    app.router.add_get("/admin/log-level", get_log_level)
    app.router.add_put("/admin/log-level", put_log_level)
    app.router.add_get("/admin/cluster", get_cluster)
    if deps.settings.test_clock:
        app.router.add_post("/admin/clock", admin_clock)
    return app
