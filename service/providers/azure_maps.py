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
"""

from __future__ import annotations

from typing import Any

from service.core import events as ev
from service.providers.mapping import IdentityMap
from service.providers.outcome import Outcome, event_id, text, timestamp

PROVIDER = "azure-maps"
VALIDATION_TYPE = "Microsoft.EventGrid.SubscriptionValidationEvent"
KINDS = {"Microsoft.Maps.GeofenceEntered": ev.GEOFENCE_ENTERED, "Microsoft.Maps.GeofenceExited": ev.GEOFENCE_EXITED,
         "Microsoft.Maps.GeofenceResult": ev.GEOFENCE_DWELLED}


class BodyShapeError(ValueError):
    """The body is JSON but neither Event Grid nor CloudEvents."""


def _items(body: object) -> list[object]:
    if isinstance(body, list):
        return body
    if isinstance(body, dict):
        return [body]
    raise BodyShapeError("an Azure Maps body is an Event Grid array or a CloudEvents object / batch array")


def validation_code(body: object) -> str | None:
    """The validationCode of an Event Grid subscription validation request, else None."""
    try:
        items = _items(body)
    except BodyShapeError:
        return None
    for item in items:
        if isinstance(item, dict) and _kind(item) == VALIDATION_TYPE:
            data = item.get("data")
            code = data.get("validationCode") if isinstance(data, dict) else None
            return code if isinstance(code, str) and 0 < len(code) <= 256 else None
    return None


def _kind(item: dict[str, Any]) -> object:
    return item.get("eventType", item.get("type"))


def normalise(body: object, mapping: IdentityMap) -> list[Outcome]:
    out: list[Outcome] = []
    for index, item in enumerate(_items(body)):
        out.extend(_event(index, item, mapping))
    return out


def _event(index: int, item: object, mapping: IdentityMap) -> list[Outcome]:
    if not isinstance(item, dict):
        return [Outcome(index, "rejected", reason="an event must be an object", pointer=f"/{index}")]
    azure_id = text(item.get("id"))
    kind = _kind(item)
    if kind not in KINDS:
        return [Outcome(index, "ignored", azure_id, reason=f"event type {str(kind)[:80]!r} is not used by Kairos")]
    if azure_id is None:
        return [Outcome(index, "rejected", None, reason="the event has no `id`", pointer=f"/{index}/id")]
    occurred = timestamp(item.get("eventTime", item.get("time")))
    if occurred is None:
        return [Outcome(index, "rejected", azure_id, reason="no eventTime (Event Grid) or time (CloudEvents)",
                        pointer=f"/{index}/eventTime")]
    data = item.get("data")
    geometries = data.get("geometries") if isinstance(data, dict) else None
    if not isinstance(geometries, list):
        return [Outcome(index, "rejected", azure_id, reason="data.geometries must be an array",
                        pointer=f"/{index}/data/geometries")]
    etype = KINDS[str(kind)]
    out: list[Outcome] = []
    for g_index, geometry in enumerate(geometries):
        where = f"/{index}/data/geometries/{g_index}"
        if not isinstance(geometry, dict):
            out.append(Outcome(index, "rejected", azure_id, reason="a geometry must be an object", pointer=where))
            continue
        if etype == ev.GEOFENCE_DWELLED and not _inside(geometry):
            continue
        out.append(_geometry(index, azure_id, occurred, etype, geometry, where, mapping))
    if not out:
        out.append(Outcome(index, "ignored", azure_id, reason="GeofenceResult with the device inside no geometry"))
    return out


def _inside(geometry: dict[str, Any]) -> bool:
    distance = geometry.get("distance")
    return isinstance(distance, int | float) and not isinstance(distance, bool) and distance < 0


def _geometry(index: int, azure_id: str, occurred: str, etype: str, geometry: dict[str, Any], where: str,
              mapping: IdentityMap) -> Outcome:
    geometry_id, device = text(geometry.get("geometryId")), text(geometry.get("deviceId"))
    ud_id = text(geometry.get("udId"))
    if geometry_id is None or device is None:
        return Outcome(index, "rejected", azure_id, reason="a geometry needs geometryId and deviceId", pointer=where)
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
