"""HTTP handler: one customer's triggered messages, asked of the worker that owns her — the
notifications it wrote to the topic for her (newest first, from a bounded in-memory ring), the
ones held in her state until her contact budget allows them, and what became of her recent ones
(sent, deferred, expired, suppressed, with the reason). Support, the demo and tests; the topic is
the record."""

from __future__ import annotations

import orjson
from aiohttp import web

from service.api.deps import deps_of
from service.api.errors import NotFound, clip
from service.api.forwarding import LOCAL
from service.core.ids import CUSTOMER_ID_RULE, is_valid_id
from service.core.state import StateFormatError
from service.core.timeutil import format_rfc3339_ms
from service.core.triggers.outbox import P_CHANNEL, P_CREATED, P_DUE, P_EXPIRES, P_ID, P_KEY, P_KIND, P_TRIGGER, section


async def get_customer_notifications(request: web.Request) -> web.Response:
    deps = deps_of(request)
    customer_id = request.match_info["customer_id"]
    if not is_valid_id(customer_id):
        raise NotFound(CUSTOMER_ID_RULE)
    if deps.notifications is None:
        raise NotFound("triggered messages are off on this worker (KAIROS_NOTIFICATIONS)")
    # Her state and the notifications written for her live on the worker that owns her.
    routed = LOCAL if deps.forwarder is None else await deps.forwarder.route(request, b"", customer_id.encode())
    if routed.response is not None:
        return routed.response
    try:
        state = deps.read_state(customer_id)
    except StateFormatError:
        state = None
    written = deps.notifications(customer_id)
    if state is None and not written:
        raise NotFound(f"nothing known about customer {clip(customer_id)!r} on this worker")
    notify = section(state)
    held = [{"notification_id": r[P_ID], "trigger": r[P_TRIGGER], "situation": r[P_KIND], "channel": r[P_CHANNEL],
             "dedup_key": r[P_KEY], "created_at": format_rfc3339_ms(r[P_CREATED]),
             "due_at": format_rfc3339_ms(r[P_DUE]), "expires_at": format_rfc3339_ms(r[P_EXPIRES])}
            for r in notify["pending"]]
    log = [{"at": format_rfc3339_ms(t), "notification_id": nid, "trigger": trigger, "channel": channel,
            "stage": stage, "reason": reason} for t, nid, trigger, channel, stage, reason in notify["log"]]
    body = {"customer_id": customer_id, "notifications": written, "held": held, "log": log}
    return web.Response(body=orjson.dumps(body), content_type="application/json")
