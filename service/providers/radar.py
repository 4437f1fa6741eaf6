"""Providers layer: Radar webhook bodies → Kairos geofence events.

Bodies: single event (`event` + `user`), multiple events (`events[]` + `user`; Radar sends at
most 5 per request and chunks the rest), the SDK's track response (`meta` + `user` + `events`),
and a bare user object (`GET /v1/users/:id`), read as the user's last location.

- `user.entered_geofence`, `user.exited_geofence` (its `duration` is in minutes → dwell_s),
  `user.dwelled_in_geofence` → geofence.entered / exited / dwelled. Place events become geofence
  events only when the mapping names a store for the place (`geofence_id: place:<place _id>`);
  region, chain, trip and other events are accepted and reported as ignored.
- Locations are GeoJSON `[lon, lat]` (an altitude may follow) → {lat, lon}.
- Event time is `actualCreatedAt` (when it happened on the device), not `createdAt` (when Radar
  created the event): an event replayed from a device's offline buffer keeps its old time, so it
  never counts as "she is here now". The gap is reported as a warning.
- The customer is the mapped `userId`, else the mapped `deviceId`; unmapped users are reported.
- A value Kairos uses that is present but unusable (a location out of range, `confidence` outside
  1..3, a time without an offset) rejects that event with a pointer into the body (fields.py).
"""

from __future__ import annotations

from typing import Any

from service.core import events as ev
from service.core.timeutil import parse_rfc3339_ms
from service.providers import fields
from service.providers.fields import FieldProblem, Where
from service.providers.mapping import IdentityMap
from service.providers.outcome import Outcome, event_id

PROVIDER = "radar"
GEOFENCE_TYPES = {
    "user.entered_geofence": ev.GEOFENCE_ENTERED,
    "user.exited_geofence": ev.GEOFENCE_EXITED,
    "user.dwelled_in_geofence": ev.GEOFENCE_DWELLED,
}
PLACE_TYPES = {"user.entered_place": ev.GEOFENCE_ENTERED, "user.exited_place": ev.GEOFENCE_EXITED}
# A replay gap this long between when it happened and when Radar created the event is reported.
REPLAY_WARNING_S = 60
# Radar's `duration` is in minutes; the event schema caps dwell_s at a year.
MAX_DURATION_MIN = 525_600


class BodyShapeError(ValueError):
    """The body is JSON but not a Radar webhook body."""


def provider_events(body: object) -> tuple[list[tuple[object, Where]], dict[str, Any] | None]:
    """(events with where each sits in the body, user) of a Radar body; raises BodyShapeError when it
    has neither. A bare user object gives no events and itself as the user."""
    if not isinstance(body, dict):
        raise BodyShapeError("a Radar webhook body is a JSON object with `event` or `events` and `user`")
    user = body.get("user") if isinstance(body.get("user"), dict) else None
    if "events" in body:
        if not isinstance(body["events"], list):
            raise BodyShapeError("`events` must be an array of Radar events")
        return [(item, Where(f"/events/{i}")) for i, item in enumerate(body["events"])], user
    if "event" in body:
        return [(body["event"], Where("/event"))], user
    if is_user_object(body):
        return [], body
    raise BodyShapeError("a Radar webhook body has `event` (single) or `events` (multiple) and `user`")


def is_user_object(body: object) -> bool:
    """A bare Radar user (`GET /v1/users/:id`, or the `user` of a body): ids and a location, no events."""
    return isinstance(body, dict) and "event" not in body and "events" not in body \
        and ("userId" in body or "deviceId" in body)


def signing_ids(body: object) -> list[str]:
    """Ids the legacy X-Radar-Signature (without X-Radar-Signing-Id) may sign: the (first) event's `_id`."""
    try:
        events, _ = provider_events(body)
    except BodyShapeError:
        return []
    first = events[0][0] if events else None
    ident = first.get("_id") if isinstance(first, dict) else None
    return [ident] if isinstance(ident, str) and ident else []


def normalise(body: object, mapping: IdentityMap) -> list[Outcome]:
    """One Outcome per Radar event (or one for a bare user object). Raises BodyShapeError."""
    events, user = provider_events(body)
    if not events and user is body and user is not None:
        return [_user_location(user, mapping)]
    user_where = Where("/user")
    return [_event(i, item, where, user, user_where, mapping) for i, (item, where) in enumerate(events)]


def _customer(user: dict[str, Any], where: Where, mapping: IdentityMap) -> tuple[str | None, str]:
    user_id, device_id = fields.ident(user, "userId", where), fields.ident(user, "deviceId", where)
    found = mapping.customer(PROVIDER, user_id=user_id, device_id=device_id)
    return found, f"userId {user_id!r}, deviceId {device_id!r}"


def _event(index: int, item: object, where: Where, user: dict[str, Any] | None, user_where: Where,
           mapping: IdentityMap) -> Outcome:
    if not isinstance(item, dict):
        return Outcome(index, "rejected", reason="a Radar event must be an object", pointer=where.pointer)
    radar_id = fields.provider_id(item.get("_id"))
    kind = item.get("type")
    if not isinstance(kind, str):
        return Outcome(index, "rejected", radar_id, reason="the event has no `type`", pointer=where.at("type"))
    if kind not in GEOFENCE_TYPES and kind not in PLACE_TYPES:
        return Outcome(index, "ignored", radar_id, reason=f"Radar event type {kind[:64]!r} is not used by Kairos")
    try:
        return _usable_event(index, item, where, kind, user, user_where, mapping)
    except FieldProblem as problem:
        return Outcome(index, "rejected", radar_id, reason=problem.reason, pointer=problem.pointer)


def _usable_event(index: int, item: dict[str, Any], where: Where, kind: str, user: dict[str, Any] | None,
                  user_where: Where, mapping: IdentityMap) -> Outcome:
    radar_id = fields.ident(item, "_id", where, required=True)
    assert radar_id is not None
    actual, created = fields.when(item, "actualCreatedAt", where), fields.when(item, "createdAt", where)
    occurred = actual or created
    if occurred is None:
        raise FieldProblem(where.at("createdAt"), "the event has neither `actualCreatedAt` nor `createdAt`")
    if user is None and isinstance(item.get("user"), dict):
        user, user_where = item["user"], where.child("user")
    if kind in GEOFENCE_TYPES:
        geofence_where = where.child("geofence")
        geofence = fields.obj(item, "geofence", where, required=True)
        geofence_id = fields.ident(geofence, "_id", geofence_where, required=True)
        tag = fields.ident(geofence, "tag", geofence_where, limit=64)
        external = fields.ident(geofence, "externalId", geofence_where)
        etype = GEOFENCE_TYPES[kind]
    else:
        place = fields.obj(item, "place", where, required=True)
        place_id = fields.ident(place, "_id", where.child("place"), limit=100, required=True)
        geofence_id, tag, external = f"place:{place_id}", None, None
        etype = PLACE_TYPES[kind]
    assert geofence_id is not None
    location = fields.position(item, "location", where)
    confidence = fields.integer(item, "confidence", where, 1, 3)
    duration_min = fields.number(item, "duration", where, 0, MAX_DURATION_MIN, "min")
    if user is None or (user.get("userId") is None and user.get("deviceId") is None):
        raise FieldProblem(user_where.pointer, "the body names no Radar user (`user.userId` or `user.deviceId`)")
    customer, who = _customer(user, user_where, mapping)
    if customer is None:
        return Outcome(index, "unmapped", radar_id, reason=f"no customer is mapped to Radar {who}")
    if kind in PLACE_TYPES and mapping.store(PROVIDER, geofence_id=geofence_id) is None:
        place_id = geofence_id.removeprefix("place:")
        return Outcome(index, "ignored", radar_id,
                       reason=f"place {place_id!r} is not mapped to a store (map geofence_id 'place:{place_id}')")
    warnings: list[str] = []
    store = mapping.store(PROVIDER, geofence_id=geofence_id, external_id=external, tag=tag)
    event: dict[str, Any] = {"event_id": event_id("radar", radar_id), "type": etype, "occurred_at": occurred,
                             "source": PROVIDER, "customer_id": customer, "geofence_id": geofence_id}
    if tag:
        event["tag"] = tag
    if external:
        event["external_id"] = external
    if store:
        event["store_id"] = store
    else:
        warnings.append(f"geofence {geofence_id!r} (tag {tag!r}, externalId {external!r}) is not mapped to a store")
    if location is not None:
        event["location"] = location
    if confidence is not None:
        event["confidence"] = confidence
    if etype == ev.GEOFENCE_EXITED and duration_min is not None:
        event["dwell_s"] = round(duration_min * 60, 3)  # Radar's duration is in minutes
    if actual is not None and created is not None:
        gap = (parse_rfc3339_ms(created) - parse_rfc3339_ms(actual)) // 1000
        if gap >= REPLAY_WARNING_S:
            warnings.append(f"replayed: it happened {gap} s before Radar created the event; "
                            "its time is when it happened")
    return Outcome(index, "event", radar_id, event, warnings=tuple(warnings))


def _user_location(user: dict[str, Any], mapping: IdentityMap) -> Outcome:
    radar_id = fields.provider_id(user.get("_id"))
    here = Where()
    try:
        occurred = fields.when(user, "actualUpdatedAt", here) or fields.when(user, "updatedAt", here)
        if occurred is None:
            raise FieldProblem("/updatedAt", "a Radar user needs `actualUpdatedAt` or `updatedAt` to be read as a "
                                             "location")
        location = fields.position(user, "location", here, required=True)
        accuracy = fields.number(user, "locationAccuracy", here, 0, 100_000, "m")
        customer, who = _customer(user, here, mapping)
    except FieldProblem as problem:
        return Outcome(0, "rejected", radar_id, reason=problem.reason, pointer=problem.pointer)
    if customer is None:
        return Outcome(0, "unmapped", radar_id, reason=f"no customer is mapped to Radar {who}")
    event: dict[str, Any] = {"event_id": event_id("radar-user", radar_id or customer, occurred),
                             "type": ev.LOCATION_UPDATED, "occurred_at": occurred, "source": PROVIDER,
                             "customer_id": customer, "location": location}
    if accuracy is not None:
        event["accuracy_m"] = accuracy
    return Outcome(0, "event", radar_id, event)
