"""Providers layer: Amazon Location Service events (EventBridge envelopes) → Kairos events.

- "Location Geofence Event" ENTER / EXIT → geofence.entered / exited (GeofenceId → store).
- "Location Device Position Event" UPDATE → location.updated (server-side geofencing runs on it).
- `Position` is `[lon, lat]`; `Accuracy.Horizontal` is metres; event time is `SampleTime`.
- A body is one envelope (an EventBridge API destination delivers one per request) or an array.

EventBridge delivers at least once, so the same envelope may arrive twice. The Kairos event id
is built from the envelope `id` plus the event kind (and geofence): a redelivery is recognised as
a duplicate, and distinct events that carry the same id still stay distinct (the three samples in
the AWS documentation share one placeholder id).

A JSON object that is not an EventBridge event at all (without `source` and `detail`) is a
shape error (400); an EventBridge event from another source is ignored. A value Kairos uses that is
present but unusable (a Position out of range, a SampleTime without an offset) rejects that event
with a pointer into the body (fields.py).
"""

from __future__ import annotations

from typing import Any

from service.core import events as ev
from service.providers import fields
from service.providers.fields import FieldProblem, Where
from service.providers.mapping import IdentityMap
from service.providers.outcome import Outcome, event_id

PROVIDER = "aws-location"
GEOFENCE_TYPES = {"ENTER": ev.GEOFENCE_ENTERED, "EXIT": ev.GEOFENCE_EXITED}
NOT_EVENTBRIDGE = "not an EventBridge event: it needs `source` and `detail`"


class BodyShapeError(ValueError):
    """The body is JSON but not an EventBridge envelope (or array of them)."""


def is_eventbridge(item: object) -> bool:
    return isinstance(item, dict) and isinstance(item.get("source"), str) and "detail" in item


def normalise(body: object, mapping: IdentityMap) -> list[Outcome]:
    if isinstance(body, dict):
        if not is_eventbridge(body):
            raise BodyShapeError(f"the body is {NOT_EVENTBRIDGE} (an Amazon Location body is one EventBridge "
                                 "event, or an array of them)")
        return [_envelope(0, body, Where(), mapping)]
    if isinstance(body, list):
        return [_envelope(i, item, Where(f"/{i}"), mapping) for i, item in enumerate(body)]
    raise BodyShapeError("an Amazon Location body is an EventBridge event object (or an array of them)")


def _envelope(index: int, item: object, where: Where, mapping: IdentityMap) -> Outcome:
    if not isinstance(item, dict):
        return Outcome(index, "rejected", reason="an EventBridge event must be an object", pointer=where.pointer)
    if not is_eventbridge(item):
        return Outcome(index, "rejected", reason=NOT_EVENTBRIDGE, pointer=where.pointer)
    envelope_id = fields.provider_id(item.get("id"))
    detail = item.get("detail")
    if item.get("source") != "aws.geo" or not isinstance(detail, dict):
        return Outcome(index, "ignored", envelope_id,
                       reason=f"not an Amazon Location event (source {str(item.get('source'))[:64]!r})")
    kind = detail.get("EventType")
    if kind not in GEOFENCE_TYPES and kind != "UPDATE":
        return Outcome(index, "ignored", envelope_id, reason=f"EventType {str(kind)[:64]!r} is not used by Kairos")
    try:
        return _event(index, item, detail, str(kind), where, mapping)
    except FieldProblem as problem:
        return Outcome(index, "rejected", envelope_id, reason=problem.reason, pointer=problem.pointer)


def _event(index: int, item: dict[str, Any], detail: dict[str, Any], kind: str, where: Where,
           mapping: IdentityMap) -> Outcome:
    envelope_id = fields.ident(item, "id", where, required=True)
    assert envelope_id is not None
    at = where.child("detail")
    # SampleTime is when the device measured; the envelope's time only stands in when it is absent.
    occurred = fields.when(detail, "SampleTime", at)
    envelope_time = fields.when(item, "time", where)
    occurred = occurred or envelope_time
    if occurred is None:
        raise FieldProblem(at.at("SampleTime"), "no SampleTime (or envelope time)")
    device = fields.ident(detail, "DeviceId", at, required=True)
    location = fields.position(detail, "Position", at, required=kind == "UPDATE")
    accuracy = fields.number(fields.obj(detail, "Accuracy", at), "Horizontal", at.child("Accuracy"), 0, 100_000, "m")
    geofence_id = fields.ident(detail, "GeofenceId", at, required=kind != "UPDATE")
    customer = mapping.customer(PROVIDER, device_id=device)
    if customer is None:
        return Outcome(index, "unmapped", envelope_id, reason=f"no customer is mapped to DeviceId {device!r}")
    if kind == "UPDATE":
        assert location is not None and device is not None
        event: dict[str, Any] = {"event_id": event_id("aws", envelope_id, "update", device),
                                 "type": ev.LOCATION_UPDATED, "occurred_at": occurred,
                                 "source": PROVIDER, "customer_id": customer, "location": location}
        if accuracy is not None:
            event["accuracy_m"] = accuracy
        return Outcome(index, "event", envelope_id, event)
    assert geofence_id is not None
    event = {"event_id": event_id("aws", envelope_id, kind.lower(), geofence_id), "type": GEOFENCE_TYPES[kind],
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
