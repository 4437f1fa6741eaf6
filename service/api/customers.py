"""HTTP handlers for one customer's data: read her state record, erase her."""

from __future__ import annotations

import uuid

import orjson
from aiohttp import web

from service.adapters.producer import ProduceError
from service.api.deps import deps_of
from service.api.errors import NotFound, Unavailable, clip
from service.api.forwarding import LOCAL
from service.core.ids import CUSTOMER_ID_RULE, is_valid_id
from service.core.timeutil import format_rfc3339_ms
from service.stream.erasure import ERASE, HEADER_CONTROL, control_record


async def get_customer_state(request: web.Request) -> web.Response:
    """The customer's state record, as held by the worker that owns her (forwarded there when
    that is another worker of the group)."""
    deps = deps_of(request)
    customer_id = request.match_info["customer_id"]
    if not is_valid_id(customer_id):
        raise NotFound(CUSTOMER_ID_RULE)
    routed = LOCAL if deps.forwarder is None else await deps.forwarder.route(request, b"", customer_id.encode())
    if routed.response is not None:
        return routed.response
    state = deps.read_state(customer_id)
    if state is None:
        if routed.reason is not None and routed.degraded:
            raise Unavailable(f"{routed.reason['detail']}; ask again later", details={"retry_after_s": 1},
                              headers={"Retry-After": "1"})
        raise NotFound(f"no state for customer {clip(customer_id)!r}")
    return web.Response(body=orjson.dumps(state), content_type="application/json")


async def delete_customer(request: web.Request) -> web.Response:
    """Erases the customer everywhere Kairos keeps her state (admin scope).

    The erasure is written to her partition of the customer topic and acknowledged by the broker
    before the 202; the worker that owns her applies it in order with her other events."""
    deps = deps_of(request)
    customer_id = request.match_info["customer_id"]
    if not is_valid_id(customer_id):  # ingest accepts no other id, so no such customer can exist
        raise NotFound(CUSTOMER_ID_RULE)
    now_ms = deps.clock.now_ms()
    request_id = str(uuid.uuid4())
    try:
        await deps.producer.send_control(deps.topics.customer_events, customer_id.encode(),
                                         control_record(customer_id, now_ms, request_id), (HEADER_CONTROL, ERASE))
    except ProduceError as exc:
        raise Unavailable(f"erasure not recorded: {exc}; send the same request again later",
                          details={"retry_after_s": 5}, headers={"Retry-After": "5"}) from None
    body = {"customer_id": customer_id, "status": "accepted", "requested_at": format_rfc3339_ms(now_ms),
            "request_id": request_id}
    return web.Response(body=orjson.dumps(body), status=202, content_type="application/json")
