"""HTTP handlers for events in, decisions out and the test clock: parse, validate, call core/adapters."""

from __future__ import annotations

import logging
import math
import time
import uuid
from typing import Any

import orjson
from aiohttp import web

from service.adapters.clock import ManualClock
from service.api.auth import API_KEY, REFERENCE
from service.api.body import read_body
from service.api.deps import deps_of
from service.api.errors import (
    InvalidJson,
    InvalidRequest,
    NotFound,
    PayloadTooLarge,
    UnsupportedMediaType,
    clip,
)
from service.api.forwarding import LOCAL
from service.api.ingest import error_details
from service.api.ingest_path import ingest_entries
from service.api.wire import BodyError, FieldError, parse_json_array, parse_ndjson
from service.core.decide import decide_with_context, decision_record
from service.core.policy import Policy
from service.core.state import StateFormatError
from service.core.timeutil import format_rfc3339_ms, parse_rfc3339_ms
from service.telemetry import logging as log_context
from service.telemetry.children import child

log = logging.getLogger("kairos.decisions")

JSON_TYPES = frozenset({"application/json"})
NDJSON_TYPES = frozenset({"application/x-ndjson", "application/ndjson", "application/jsonl"})



def _json(body: object, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(body), status=status, content_type="application/json")


async def post_events(request: web.Request) -> web.Response:
    deps = deps_of(request)
    ctype = request.content_type
    if ctype not in JSON_TYPES and ctype not in NDJSON_TYPES:
        raise UnsupportedMediaType(
            f"content type {clip(ctype)!r} is not accepted: send application/json (an array of events) "
            "or application/x-ndjson (one event per line)",
            details={"supported_content_types": ["application/json", *sorted(NDJSON_TYPES)]})
    body = await read_body(request)
    if not body.strip():
        raise InvalidJson("the request body is empty; send a JSON array of events or NDJSON lines")
    entries: list[tuple[object | None, FieldError | None]]
    try:
        if ctype in JSON_TYPES:
            entries = [(item, None) for item in parse_json_array(body)]
        else:
            entries = parse_ndjson(body)
    except BodyError as exc:
        raise InvalidJson(exc.reason) from None
    limit = deps.settings.max_events_per_request
    if len(entries) > limit:
        raise PayloadTooLarge(f"{len(entries)} events in one request; send at most {limit} per request")
    if not entries:
        raise InvalidRequest("no events in the request body")
    key = request.get(API_KEY)
    refused = key.id if key is not None and REFERENCE not in key.scopes else None
    results = await ingest_entries(deps, entries, "http", reference_refused_to=refused)
    counts = {"accepted": 0, "duplicate": 0, "rejected": 0}
    for res in results:
        counts[res["status"]] += 1
    body_out = {"accepted": counts["accepted"], "duplicates": counts["duplicate"],
                "rejected": counts["rejected"], "results": results}
    return _json(body_out, 202)



def policy_placements(policy: Policy) -> frozenset[str]:
    """Every placement a screen of the policy names."""
    return policy.placements


def _json_body(raw: bytes) -> Any:
    if not raw.strip():
        raise InvalidJson("the request body is empty; send a JSON object")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidJson(f"the request body is not valid JSON: {exc}") from None


async def post_decisions(request: web.Request) -> web.Response:
    started = time.perf_counter()
    deps = deps_of(request)
    if request.content_type not in JSON_TYPES:
        raise UnsupportedMediaType(f"content type {clip(request.content_type)!r} is not accepted: "
                                   "send application/json",
                                   details={"supported_content_types": ["application/json"]})
    raw = await read_body(request)
    req = _json_body(raw)
    errors = deps.validate_decision_request(req)
    if errors:
        raise InvalidRequest("the decision request is not valid", details={"errors": error_details(errors)})
    stage = deps.metrics.decision_stage
    customer_id = req["customer_id"]
    policy = deps.policy()
    # Bounded labels: placements the policy names, everything else is "other".
    placement = req["placement"] if req["placement"] in policy_placements(policy) else "other"
    routed = LOCAL if deps.forwarder is None else await deps.forwarder.route(request, raw, customer_id.encode())
    if routed.response is not None:  # answered by the worker that owns her state
        child(deps.metrics.decision_latency, placement, "forwarded").observe(time.perf_counter() - started)
        return routed.response
    t_parsed = time.perf_counter()
    degraded = [*deps.degraded_reasons(), *routed.degraded]
    try:
        state = deps.read_state(customer_id)
    except StateFormatError:
        state, degraded = None, [*degraded, "state_unreadable"]
    t_read = time.perf_counter()
    decision_id = str(uuid.uuid4())
    log_context.decision_id.set(decision_id)
    decision, context = decide_with_context(state, req, deps.reference, policy, deps.clock.now_ms(),
                                            decision_id, degraded)
    if routed.reason is not None:
        decision["reasons"].append(routed.reason)
    t_decided = time.perf_counter()
    encoded = orjson.dumps(decision)
    t_encoded = time.perf_counter()
    record = orjson.dumps(decision_record(req, decision, context, t_encoded - started))
    deps.producer.send_background(deps.topics.decisions, customer_id.encode(), record,
                                  on_error=deps.metrics.audit_failures.inc)
    finished = time.perf_counter()
    for name, seconds in (("parse", t_parsed - started), ("state_read", t_read - t_parsed),
                          ("decide", t_decided - t_read), ("serialise", t_encoded - t_decided),
                          ("audit", finished - t_encoded)):
        child(stage, name).observe(seconds)
    incentive = decision.get("incentive")
    child(
        deps.metrics.decisions, placement, decision["screen"], incentive["kind"] if incentive else "none",
        str(decision["degraded"]).lower(), str(decision["cold_start"]).lower()).inc()
    elapsed = time.perf_counter() - started
    # for_peer: decided here for a worker that forwarded it (that worker observes the client's latency).
    outcome = "fallback" if routed.degraded else "for_peer" if routed.reason is not None else "ok"
    child(deps.metrics.decision_latency, placement, outcome).observe(elapsed)
    if log.isEnabledFor(logging.DEBUG):
        log.debug("decision answered", extra={"placement": placement, "screen": decision["screen"],
                                              "degraded": decision["degraded"], "latency_s": round(elapsed, 6)})
    return web.Response(body=encoded, content_type="application/json")


async def admin_clock(request: web.Request) -> web.Response:
    deps = deps_of(request)
    clock = deps.clock
    if not isinstance(clock, ManualClock):
        raise NotFound("the test clock is off (KAIROS_TEST_CLOCK)")
    body = _json_body(await read_body(request) or b"{}")
    if not isinstance(body, dict) or set(body) - {"set", "advance_s"}:
        raise InvalidRequest("send {\"set\": RFC 3339 time} and/or {\"advance_s\": seconds}")
    # The new time is worked out and checked in full before the clock moves: a refused request
    # leaves it as it was, and it never reaches a time Kairos cannot write as RFC 3339.
    target_ms = clock.now_ms()
    if "set" in body:
        # Never str() a value that is not a string: a deeply nested one overflows the stack.
        text = body["set"]
        try:
            if not isinstance(text, str):
                raise ValueError(text)
            target_ms = parse_rfc3339_ms(text)
        except ValueError:
            raise InvalidRequest("set must be an RFC 3339 time with an offset, e.g. 2025-03-14T17:42:05Z") from None
    if "advance_s" in body:
        advance = body["advance_s"]
        if not isinstance(advance, (int, float)) or isinstance(advance, bool) or not math.isfinite(advance * 1000):
            raise InvalidRequest("advance_s must be a finite number of seconds")
        if advance < 0:
            raise InvalidRequest("a clock does not go backwards: advance by a non-negative amount")
        target_ms += int(advance * 1000)
    try:
        now = format_rfc3339_ms(target_ms)
    except ValueError:
        raise InvalidRequest("the clock would leave the years 0001 to 9999") from None
    clock.set_ms(target_ms)
    return _json({"now": now})
