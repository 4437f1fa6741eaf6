"""HTTP handlers for events in, decisions out and the test clock: parse, validate, call core/adapters."""

from __future__ import annotations

import time
import uuid
from collections import defaultdict
from typing import Any

import orjson
from aiohttp import web

from service.adapters.clock import ManualClock
from service.adapters.producer import ProduceError
from service.api.errors import InvalidJson, InvalidRequest, NotFound, PayloadTooLarge, Unavailable, UnsupportedMediaType
from service.api.wire import BodyError, FieldError, parse_json_array, parse_ndjson
from service.core.decide import decide_with_context, decision_record
from service.core.events import CUSTOMER_EVENT_TYPES, REFERENCE_EVENT_TYPES
from service.core.state import StateFormatError
from service.core.timeutil import format_rfc3339_ms, parse_rfc3339_ms

JSON_TYPES = frozenset({"application/json"})
NDJSON_TYPES = frozenset({"application/x-ndjson", "application/ndjson", "application/jsonl"})


def _deps(request: web.Request) -> Any:
    from service.api.app import DEPS_KEY

    return request.app[DEPS_KEY]


def _json(body: object, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(body), status=status, content_type="application/json")


def _details(errors: list[FieldError]) -> list[dict[str, Any]]:
    return [{"pointer": e.pointer, "reason": e.reason} for e in errors]


async def post_events(request: web.Request) -> web.Response:
    deps = _deps(request)
    ctype = request.content_type
    if ctype not in JSON_TYPES and ctype not in NDJSON_TYPES:
        raise UnsupportedMediaType(
            f"content type {ctype!r} is not accepted: send application/json (an array of events) "
            "or application/x-ndjson (one event per line)",
            details={"supported_content_types": ["application/json", *sorted(NDJSON_TYPES)]})
    body = await request.read()
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
    now_ms = deps.clock.now_ms()
    skew_ms = int(deps.settings.max_future_skew_s * 1000)
    received_at = format_rfc3339_ms(now_ms)
    results: list[dict[str, Any]] = []
    batch_ids: set[str] = set()
    grouped: dict[tuple[str, bytes], list[dict[str, Any]]] = defaultdict(list)
    for index, (item, parse_error) in enumerate(entries):
        errors = [parse_error] if parse_error else deps.event_validator.validate(item, now_ms, skew_ms)
        if errors:
            results.append({"index": index, "status": "rejected", **_event_id(item), "errors": _details(errors)})
            continue
        assert isinstance(item, dict)
        event_id = item["event_id"]
        event = {**item, "received_at": received_at}
        route = deps.topics.route(event)
        # An event id is unique per customer (or reference key), not globally.
        dedup_key = f"{route[0]}\x00{route[1].decode()}\x00{event_id}"
        if dedup_key in batch_ids or dedup_key in deps.recent_ids:
            results.append({"index": index, "status": "duplicate", "event_id": event_id})
            continue
        batch_ids.add(dedup_key)
        grouped[route].append(event)
        results.append({"index": index, "status": "accepted", "event_id": event_id, "type": event["type"],
                        "_dedup": dedup_key})
    records = [(topic, key, orjson.dumps(events)) for (topic, key), events in grouped.items()]
    if records:
        try:
            await deps.producer.send_all(records)
        except ProduceError as exc:
            deps.metrics.broker_up.set(0)
            raise Unavailable(f"events not accepted: the broker is not reachable ({exc}); nothing was "
                              "stored, send the same request again later", details={"retry_after_s": 5},
                              headers={"Retry-After": "5"}) from None
        deps.metrics.broker_up.set(1)
    counts = {"accepted": 0, "duplicate": 0, "rejected": 0}
    for res in results:
        status = res["status"]
        counts[status] += 1
        etype = res.pop("type", None) or _event_type(entries[res["index"]][0])
        deps.metrics.events.labels(etype, status, "http").inc()
        dedup_key = res.pop("_dedup", None)
        if dedup_key is not None:
            deps.recent_ids.add(dedup_key)
    body_out = {"accepted": counts["accepted"], "duplicates": counts["duplicate"],
                "rejected": counts["rejected"], "results": results}
    return _json(body_out, 202)


def _json_body(raw: bytes) -> Any:
    if not raw.strip():
        raise InvalidJson("the request body is empty; send a JSON object")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidJson(f"the request body is not valid JSON: {exc}") from None


def _event_id(item: object) -> dict[str, str]:
    if isinstance(item, dict) and isinstance(item.get("event_id"), str):
        return {"event_id": item["event_id"]}
    return {}


def _event_type(item: object) -> str:
    etype = item.get("type") if isinstance(item, dict) else None
    known = isinstance(etype, str) and (etype in CUSTOMER_EVENT_TYPES or etype in REFERENCE_EVENT_TYPES)
    return str(etype) if known else "unknown"


async def post_decisions(request: web.Request) -> web.Response:
    started = time.perf_counter()
    deps = _deps(request)
    if request.content_type not in JSON_TYPES:
        raise UnsupportedMediaType(f"content type {request.content_type!r} is not accepted: send application/json",
                                   details={"supported_content_types": ["application/json"]})
    req = _json_body(await request.read())
    errors = deps.validate_decision_request(req)
    if errors:
        raise InvalidRequest("the decision request is not valid", details={"errors": _details(errors)})
    customer_id = req["customer_id"]
    degraded = deps.degraded_reasons()
    try:
        state = deps.read_state(customer_id)
    except StateFormatError:
        state, degraded = None, [*degraded, "state_unreadable"]
    decision, context = decide_with_context(state, req, deps.reference, deps.policy(), deps.clock.now_ms(),
                                            str(uuid.uuid4()), degraded)
    encoded = orjson.dumps(decision)
    record = orjson.dumps(decision_record(req, decision, context, time.perf_counter() - started))
    deps.producer.send_background(deps.topics.decisions, customer_id.encode(), record,
                                  on_error=deps.metrics.audit_failures.inc)
    incentive = decision.get("incentive")
    deps.metrics.decisions.labels(
        req["placement"] if len(req["placement"]) <= 40 else "other", decision["screen"],
        incentive["kind"] if incentive else "none", str(decision["degraded"]).lower(),
        str(decision["cold_start"]).lower()).inc()
    deps.metrics.decision_latency.labels(
        req["placement"] if len(req["placement"]) <= 40 else "other", "ok").observe(time.perf_counter() - started)
    return web.Response(body=encoded, content_type="application/json")


async def admin_clock(request: web.Request) -> web.Response:
    deps = _deps(request)
    clock = deps.clock
    if not isinstance(clock, ManualClock):
        raise NotFound("the test clock is off (KAIROS_TEST_CLOCK)")
    body = _json_body(await request.read() or b"{}")
    if not isinstance(body, dict) or set(body) - {"set", "advance_s"}:
        raise InvalidRequest("send {\"set\": RFC 3339 time} and/or {\"advance_s\": seconds}")
    try:
        if "set" in body:
            clock.set_ms(parse_rfc3339_ms(str(body["set"])))
        if "advance_s" in body:
            advance = body["advance_s"]
            if not isinstance(advance, (int, float)) or isinstance(advance, bool):
                raise ValueError("advance_s must be a number of seconds")
            clock.advance_ms(int(advance * 1000))
    except ValueError as exc:
        raise InvalidRequest(str(exc)) from None
    return _json({"now": format_rfc3339_ms(clock.now_ms())})


async def get_customer_state(request: web.Request) -> web.Response:
    """The customer's state record as stored on this worker (support and tests)."""
    deps = _deps(request)
    customer_id = request.match_info["customer_id"]
    state = deps.read_state(customer_id)
    if state is None:
        raise NotFound(f"no state for customer {customer_id!r} on this worker")
    return _json(state)
