"""Providers layer: Amazon Location Service events (EventBridge envelopes) → Kairos events.

- "Location Geofence Event" ENTER / EXIT → geofence.entered / exited (GeofenceId → store).
- "Location Device Position Event" UPDATE → location.updated (server-side geofencing runs on it).
- `Position` is `[lon, lat]`; `Accuracy.Horizontal` is metres; event time is `SampleTime`.
- A body is one envelope (an EventBridge API destination delivers one per request) or an array.

EventBridge delivers at least once, so the same envelope may arrive twice. The Kairos event id
is built from the envelope `id` plus the event kind (and geofence): a redelivery is recognised as
a duplicate, and distinct events that carry the same id still stay distinct (the three samples in
the AWS documentation share one placeholder id).
"""

from __future__ import annotations

from typing import Any

from service.core import events as ev
from service.providers.mapping import IdentityMap
from service.providers.outcome import Outcome, event_id, lon_lat, text, timestamp

PROVIDER = "aws-location"
GEOFENCE_TYPES = {"ENTER": ev.GEOFENCE_ENTERED, "EXIT": ev.GEOFENCE_EXITED}


class BodyShapeError(ValueError):
    """The body is JSON but not an EventBridge envelope (or array of them)."""


def normalise(body: object, mapping: IdentityMap) -> list[Outcome]:
    if isinstance(body, dict):
        items: list[object] = [body]
    elif isinstance(body, list):
        items = body
    else:
        raise BodyShapeError("an Amazon Location body is an EventBridge event object (or an array of them)")
    return [_envelope(i, item, mapping) for i, item in enumerate(items)]


def _envelope(index: int, item: object, mapping: IdentityMap) -> Outcome:
    if not isinstance(item, dict):
        return Outcome(index, "rejected", reason="an EventBridge event must be an object", pointer=f"/{index}")
    envelope_id = text(item.get("id"))
    detail = item.get("detail")
    if item.get("source") != "aws.geo" or not isinstance(detail, dict):
        return Outcome(index, "ignored", envelope_id,
                       reason=f"not an Amazon Location event (source {str(item.get('source'))[:64]!r})")
    kind = detail.get("EventType")
    if kind not in GEOFENCE_TYPES and kind != "UPDATE":
        return Outcome(index, "ignored", envelope_id, reason=f"EventType {str(kind)[:64]!r} is not used by Kairos")
    if envelope_id is None:
        return Outcome(index, "rejected", None, reason="the envelope has no `id`", pointer="/id")
    occurred = timestamp(detail.get("SampleTime")) or timestamp(item.get("time"))
    if occurred is None:
        return Outcome(index, "rejected", envelope_id, reason="no SampleTime (or envelope time)",
                       pointer="/detail/SampleTime")
    device = text(detail.get("DeviceId"))
    if device is None:
        return Outcome(index, "rejected", envelope_id, reason="no DeviceId", pointer="/detail/DeviceId")
    customer = mapping.customer(PROVIDER, device_id=device)
    if customer is None:
        return Outcome(index, "unmapped", envelope_id, reason=f"no customer is mapped to DeviceId {device!r}")
    location = lon_lat(detail.get("Position"))
    accuracy = _accuracy(detail)
    if kind == "UPDATE":
        if location is None:
            return Outcome(index, "rejected", envelope_id, reason="UPDATE without a [lon, lat] Position",
                           pointer="/detail/Position")
        event: dict[str, Any] = {"event_id": event_id("aws", envelope_id, "update", device),
                                 "type": ev.LOCATION_UPDATED, "occurred_at": occurred,
                                 "source": PROVIDER, "customer_id": customer, "location": location}
        if accuracy is not None:
            event["accuracy_m"] = accuracy
        return Outcome(index, "event", envelope_id, event)
    geofence_id = text(detail.get("GeofenceId"))
    if geofence_id is None:
        return Outcome(index, "rejected", envelope_id, reason=f"{kind} without GeofenceId",
                       pointer="/detail/GeofenceId")
    event = {"event_id": event_id("aws", envelope_id, str(kind).lower(), geofence_id), "type": GEOFENCE_TYPES[kind],
             "occurred_at": occurred, "source": PROVIDER, "customer_id": customer, "geofence_id": geofence_id}
    warnings: tuple[str, ...] = ()
    store = mapping.store(PROVIDER, geofence_id=geofence_id)
    if store:
        event["store_id"] = store
    else:
        warnings = (f"GeofenceId {geofence_id!r} is not mapped to a store",)
    if location is not None:
        event["location"] = location
    return Outcome(index, "event", envelope_id, event, warnings=warnings)


def _accuracy(detail: dict[str, Any]) -> float | None:
    accuracy = detail.get("Accuracy")
    value = accuracy.get("Horizontal") if isinstance(accuracy, dict) else None
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
        return float(value)
    return None
