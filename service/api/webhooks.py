"""HTTP handlers for provider webhooks: POST /v1/webhooks/{provider}, and OPTIONS for CloudEvents'
validation handshake. Authenticate by the provider's own mechanism (service/api/webhook_auth.py),
normalise (service/providers/), then the same ingest path as POST /v1/events.

The 202 body is the ingest response with two more statuses: `ignored` (a provider event type Kairos
does not use) and `unmapped` (no customer is mapped to the provider's user or device). `index` is
the provider event's position in the body; one provider event may yield several Kairos events.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
from aiohttp import web

from service.api.body import read_body
from service.api.deps import ApiDeps, WebhookDeps, deps_of
from service.api.errors import ApiError, InvalidJson, InvalidRequest, NotFound, PayloadTooLarge, UnsupportedMediaType
from service.api.ingest import error_details
from service.api.ingest_path import ingest_entries
from service.api.webhook_auth import PROVIDERS, SignatureError, verify_kairos, verify_radar, verify_token
from service.api.wire import BodyError, FieldError, parse_json_array, parse_ndjson
from service.providers import aws_location, azure_maps, radar
from service.providers.mapping import IdentityMap
from service.providers.outcome import Outcome

JSON_TYPES = frozenset({"application/json", "application/cloudevents+json", "application/cloudevents-batch+json"})
NDJSON_TYPES = frozenset({"application/x-ndjson", "application/ndjson", "application/jsonl"})
_SECRET_VARIABLE = {"radar": "KAIROS_WEBHOOK_RADAR_TOKEN_FILE",
                    "aws-location": "KAIROS_WEBHOOK_AWS_LOCATION_TOKEN_FILE",
                    "azure-maps": "KAIROS_WEBHOOK_AZURE_MAPS_TOKEN_FILE", "kairos": "KAIROS_WEBHOOK_KAIROS_SECRET_FILE"}
Normaliser = Callable[[object, IdentityMap], list[Outcome]]
NORMALISERS: dict[str, tuple[Normaliser, type[ValueError]]] = {
    "radar": (radar.normalise, radar.BodyShapeError),
    "aws-location": (aws_location.normalise, aws_location.BodyShapeError),
    "azure-maps": (azure_maps.normalise, azure_maps.BodyShapeError),
}


class InvalidSignature(ApiError):
    status, code = 401, "invalid_signature"


def _json(body: object, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(body=orjson.dumps(body), status=status, content_type="application/json", headers=headers)


def _webhook(request: web.Request) -> tuple[ApiDeps, WebhookDeps, str]:
    deps = deps_of(request)
    provider = request.match_info["provider"]
    if provider not in PROVIDERS:
        raise NotFound(f"no webhook for provider {provider[:40]!r}; use one of {', '.join(PROVIDERS)}")
    hooks = deps.webhooks
    if hooks is None or not hooks.secrets.enabled(provider):
        raise NotFound(f"the {provider} webhook is not configured: set {_SECRET_VARIABLE[provider]} "
                       "(see docs/INPUT.md)")
    return deps, hooks, provider


def _refuse(hooks: WebhookDeps, provider: str, exc: SignatureError) -> InvalidSignature:
    hooks.metrics.webhook_signature_failures.labels(provider, exc.reason).inc()
    return InvalidSignature(exc.message)


async def options_webhook(request: web.Request) -> web.Response:
    """CloudEvents webhook validation (Azure Event Grid's CloudEvents schema): allow the origin."""
    _deps, _hooks, provider = _webhook(request)
    origin = request.headers.get("WebHook-Request-Origin")
    if provider != "azure-maps" or not origin or len(origin) > 256:
        raise InvalidRequest("an OPTIONS request here is the CloudEvents validation handshake: send "
                             "WebHook-Request-Origin (azure-maps only)")
    return web.Response(status=200, headers={"WebHook-Allowed-Origin": origin, "WebHook-Allowed-Rate": "*",
                                             "Allow": "POST, OPTIONS"})


async def post_webhook(request: web.Request) -> web.Response:
    deps, hooks, provider = _webhook(request)
    ctype = request.content_type
    accepted_types = JSON_TYPES | NDJSON_TYPES if provider == "kairos" else JSON_TYPES
    if ctype not in accepted_types:
        raise UnsupportedMediaType(f"content type {ctype[:80]!r} is not accepted here: send application/json",
                                   details={"supported_content_types": sorted(accepted_types)})
    body = await read_body(request)
    secrets = hooks.secrets.secrets[provider]
    try:
        if provider == "kairos":
            verify_kairos(secrets, request.headers, body, deps.clock.now_ms() / 1000, hooks.secrets.tolerance_s)
        elif provider in ("aws-location", "azure-maps"):
            verify_token(secrets, request.headers, request.query, hooks.secrets.token_header)
        elif "X-Radar-Signing-Id" in request.headers:
            verify_radar(secrets, request.headers, [])
    except SignatureError as exc:
        raise _refuse(hooks, provider, exc) from None
    if not body.strip():
        raise InvalidJson("the request body is empty")
    if provider == "kairos":
        return await _kairos(deps, hooks, body, ctype)
    try:
        document: object = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidJson(f"the request body is not valid JSON: {exc}") from None
    if provider == "radar" and "X-Radar-Signing-Id" not in request.headers:
        try:  # the older scheme signs the (first) event id, so the body is read first
            verify_radar(secrets, request.headers, radar.signing_ids(document))
        except SignatureError as exc:
            raise _refuse(hooks, provider, exc) from None
    if provider == "azure-maps":
        code = azure_maps.validation_code(document)
        if code is not None:
            return _json({"validationResponse": code})
    normalise, shape_error = NORMALISERS[provider]
    try:
        outcomes = normalise(document, hooks.mapping)
    except shape_error as exc:
        raise InvalidRequest(str(exc)) from None
    if not outcomes:
        raise InvalidRequest("the body holds no events")
    if len(outcomes) > deps.settings.max_events_per_request:
        raise PayloadTooLarge(f"{len(outcomes)} events in one request; at most "
                              f"{deps.settings.max_events_per_request} per request")
    return _json(await respond(deps, hooks, provider, outcomes), 202)


async def respond(deps: ApiDeps, hooks: WebhookDeps, provider: str, outcomes: list[Outcome]) -> dict[str, Any]:
    """Ingests the outcomes' events; the response body with one result per outcome, in order."""
    carried = [o for o in outcomes if o.status == "event"]
    ingested = await ingest_entries(deps, [(o.event, None) for o in carried], "webhook") if carried else []
    by_outcome = dict(zip((id(o) for o in carried), ingested, strict=True))
    results: list[dict[str, Any]] = []
    for outcome in outcomes:
        result: dict[str, Any]
        if outcome.status == "event":
            result = {**by_outcome[id(outcome)], "index": outcome.index}
            assert outcome.event is not None
            result["type"] = outcome.event["type"]
            if outcome.warnings:
                result["warnings"] = list(outcome.warnings)
        elif outcome.status == "rejected":
            result = {"index": outcome.index, "status": "rejected",
                      "errors": error_details([FieldError(outcome.pointer, outcome.reason or "not usable")])}
        else:
            result = {"index": outcome.index, "status": outcome.status, "reason": (outcome.reason or "")[:256]}
        if outcome.provider_event_id:
            result["provider_event_id"] = outcome.provider_event_id
        results.append(result)
        hooks.metrics.webhook_events.labels(provider, result["status"]).inc()
    return summarise(results)


def summarise(results: list[dict[str, Any]]) -> dict[str, Any]:
    counts = {s: 0 for s in ("accepted", "duplicate", "rejected", "ignored", "unmapped")}
    for result in results:
        counts[result["status"]] += 1
    return {"accepted": counts["accepted"], "duplicates": counts["duplicate"], "rejected": counts["rejected"],
            "ignored": counts["ignored"], "unmapped": counts["unmapped"], "results": results}


async def _kairos(deps: ApiDeps, hooks: WebhookDeps, body: bytes, ctype: str) -> web.Response:
    """The generic format: Kairos v1 events (one object, a JSON array, or NDJSON), already signed."""
    entries: list[tuple[object | None, FieldError | None]]
    try:
        if ctype in NDJSON_TYPES:
            entries = parse_ndjson(body)
        elif body.lstrip().startswith(b"{"):
            entries = [(item, None) for item in parse_json_array(b"[" + body + b"]")]
        else:
            entries = [(item, None) for item in parse_json_array(body)]
    except BodyError as exc:
        raise InvalidJson(exc.reason) from None
    if not entries:
        raise InvalidRequest("no events in the request body")
    if len(entries) > deps.settings.max_events_per_request:
        raise PayloadTooLarge(f"{len(entries)} events in one request; at most "
                              f"{deps.settings.max_events_per_request} per request")
    results = await ingest_entries(deps, entries, "webhook")
    for result in results:
        hooks.metrics.webhook_events.labels("kairos", result["status"]).inc()
    return _json(summarise(results), 202)
