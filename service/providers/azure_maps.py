"""Providers layer: Azure Maps geofence events (Event Grid schema and CloudEvents 1.0) → Kairos events.

- Event Grid: a JSON array of events (`eventType`, `eventTime`, `data`); CloudEvents: one event
  (`specversion`, `type`, `time`, `data`) or a batch array. Both carry the same `data`.
- GeofenceEntered / GeofenceExited → one geofence.entered / exited per geometry in
  `data.geometries` (`deviceId` → customer, `geometryId` → store; the mapping may also name
  `<udId>/<geometryId>`). GeofenceResult is a status report: each geometry the device is inside
  (`distance` < 0; −999 means inside beyond the search buffer) becomes geofence.dwelled ("still
  inside"); geometries outside change nothing, and a result with none inside is reported ignored.
- `nearestLat`/`nearestLon` is the nearest point of the geofence, not the device: not used as her
  location.
- Event Grid's subscription validation event is answered by the HTTP edge (validation_code).
- A JSON object with neither `eventType` nor `type` is a shape error (400); a value Kairos uses that
  is present but unusable (a time without an offset, a non-numeric distance) rejects that event
  with a pointer into the body (fields.py).
"""

from __future__ import annotations

from typing import Any

from service.core import events as ev
from service.providers import fields
from service.providers.fields import FieldProblem, Where
from service.providers.mapping import IdentityMap
from service.providers.outcome import Outcome, event_id

PROVIDER = "azure-maps"
VALIDATION_TYPE = "Microsoft.EventGrid.SubscriptionValidationEvent"
KINDS = {"Microsoft.Maps.GeofenceEntered": ev.GEOFENCE_ENTERED, "Microsoft.Maps.GeofenceExited": ev.GEOFENCE_EXITED,
         "Microsoft.Maps.GeofenceResult": ev.GEOFENCE_DWELLED}


class BodyShapeError(ValueError):
    """The body is JSON but neither Event Grid nor CloudEvents."""


def _items(body: object) -> list[tuple[object, Where]]:
    if isinstance(body, list):
        return [(item, Where(f"/{i}")) for i, item in enumerate(body)]
    if isinstance(body, dict):
        if "eventType" not in body and "type" not in body:
            raise BodyShapeError("the body is neither an Event Grid event nor a CloudEvent (no `eventType` or "
                                 "`type`): an Azure Maps body is an Event Grid array or a CloudEvents object / "
                                 "batch array")
        return [(body, Where())]
    raise BodyShapeError("an Azure Maps body is an Event Grid array or a CloudEvents object / batch array")


def validation_code(body: object) -> str | None:
    """The validationCode of an Event Grid subscription validation request, else None."""
    try:
        items = _items(body)
    except BodyShapeError:
        return None
    for item, _where in items:
        if isinstance(item, dict) and _kind(item) == VALIDATION_TYPE:
            data = item.get("data")
            code = data.get("validationCode") if isinstance(data, dict) else None
            return code if isinstance(code, str) and 0 < len(code) <= 256 else None
    return None


def _kind(item: dict[str, Any]) -> object:
    return item.get("eventType", item.get("type"))


def normalise(body: object, mapping: IdentityMap) -> list[Outcome]:
    out: list[Outcome] = []
    for index, (item, where) in enumerate(_items(body)):
        out.extend(_event(index, item, where, mapping))
    return out


def _event(index: int, item: object, where: Where, mapping: IdentityMap) -> list[Outcome]:
    if not isinstance(item, dict):
        return [Outcome(index, "rejected", reason="an event must be an object", pointer=where.pointer)]
    azure_id = fields.provider_id(item.get("id"))
    kind = _kind(item)
    if kind not in KINDS:
        return [Outcome(index, "ignored", azure_id, reason=f"event type {str(kind)[:80]!r} is not used by Kairos")]
    try:
        azure_id = fields.ident(item, "id", where, required=True)
        time_key = "eventTime" if "eventTime" in item else "time"
        occurred = fields.when(item, time_key, where)
        if occurred is None:
            raise FieldProblem(where.at("eventTime"), "no eventTime (Event Grid) or time (CloudEvents)")
        data = fields.obj(item, "data", where, required=True)
        geometries = data.get("geometries")
        if not isinstance(geometries, list):
            raise FieldProblem(where.at("data", "geometries"), "data.geometries must be an array")
    except FieldProblem as problem:
        return [Outcome(index, "rejected", azure_id, reason=problem.reason, pointer=problem.pointer)]
    assert azure_id is not None
    etype = KINDS[str(kind)]
    out: list[Outcome] = []
    for g_index, geometry in enumerate(geometries):
        at = where.child("data", "geometries", g_index)
        if not isinstance(geometry, dict):
            out.append(Outcome(index, "rejected", azure_id, reason="a geometry must be an object", pointer=at.pointer))
            continue
        try:
            distance = fields.number(geometry, "distance", at, -1e9, 1e9, "m")
            if etype == ev.GEOFENCE_DWELLED and not (distance is not None and distance < 0):
                continue
            out.append(_geometry(index, azure_id, occurred, etype, geometry, at, mapping))
        except FieldProblem as problem:
            out.append(Outcome(index, "rejected", azure_id, reason=problem.reason, pointer=problem.pointer))
    if not out:
        out.append(Outcome(index, "ignored", azure_id, reason="GeofenceResult with the device inside no geometry"))
    return out


def _geometry(index: int, azure_id: str, occurred: str, etype: str, geometry: dict[str, Any], at: Where,
              mapping: IdentityMap) -> Outcome:
    geometry_id = fields.ident(geometry, "geometryId", at, required=True)
    device = fields.ident(geometry, "deviceId", at, required=True)
    ud_id = fields.ident(geometry, "udId", at)
    assert geometry_id is not None
    customer = mapping.customer(PROVIDER, device_id=device)
    if customer is None:
        return Outcome(index, "unmapped", azure_id, reason=f"no customer is mapped to deviceId {device!r}")
    store = (mapping.store(PROVIDER, geofence_id=f"{ud_id}/{geometry_id}") if ud_id else None) \
        or mapping.store(PROVIDER, geofence_id=geometry_id)
    event: dict[str, Any] = {"event_id": event_id("azure", azure_id, geometry_id), "type": etype,
                             "occurred_at": occurred, "source": PROVIDER, "customer_id": customer,
                             "geofence_id": geometry_id}
    warnings: tuple[str, ...] = ()
    if store:
        event["store_id"] = store
    else:
        warnings = (f"geometryId {geometry_id!r} (udId {ud_id!r}) is not mapped to a store",)
    return Outcome(index, "event", azure_id, event, warnings=warnings)
