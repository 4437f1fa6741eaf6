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
"""

from __future__ import annotations

from typing import Any

from service.core import events as ev
from service.core.timeutil import parse_rfc3339_ms
from service.providers.mapping import IdentityMap
from service.providers.outcome import Outcome, event_id, lon_lat, text, timestamp

PROVIDER = "radar"
GEOFENCE_TYPES = {
    "user.entered_geofence": ev.GEOFENCE_ENTERED,
    "user.exited_geofence": ev.GEOFENCE_EXITED,
    "user.dwelled_in_geofence": ev.GEOFENCE_DWELLED,
}
PLACE_TYPES = {"user.entered_place": ev.GEOFENCE_ENTERED, "user.exited_place": ev.GEOFENCE_EXITED}
# A replay gap this long between when it happened and when Radar created the event is reported.
REPLAY_WARNING_S = 60


class BodyShapeError(ValueError):
    """The body is JSON but not a Radar webhook body."""


def provider_events(body: object) -> tuple[list[object], dict[str, Any] | None]:
    """(events, user) of a Radar body; raises BodyShapeError when it has neither."""
    if not isinstance(body, dict):
        raise BodyShapeError("a Radar webhook body is a JSON object with `event` or `events` and `user`")
    user = body.get("user") if isinstance(body.get("user"), dict) else None
    if "events" in body:
        if not isinstance(body["events"], list):
            raise BodyShapeError("`events` must be an array of Radar events")
        return list(body["events"]), user
    if "event" in body:
        return [body["event"]], user
    if "userId" in body or "deviceId" in body:
        return [], body  # a bare user object
    raise BodyShapeError("a Radar webhook body has `event` (single) or `events` (multiple) and `user`")


def signing_ids(body: object) -> list[str]:
    """Ids the legacy X-Radar-Signature (without X-Radar-Signing-Id) may sign: the (first) event's `_id`."""
    try:
        events, _ = provider_events(body)
    except BodyShapeError:
        return []
    first = events[0] if events else None
    ident = text(first.get("_id")) if isinstance(first, dict) else None
    return [ident] if ident else []


def normalise(body: object, mapping: IdentityMap) -> list[Outcome]:
    """One Outcome per Radar event (or one for a bare user object). Raises BodyShapeError."""
    events, user = provider_events(body)
    if isinstance(body, dict) and "events" not in body and "event" not in body and user is not None:
        return [_user_location(user, mapping)]
    return [_event(i, item, user, mapping) for i, item in enumerate(events)]


def _customer(user: dict[str, Any] | None, item: dict[str, Any], mapping: IdentityMap) -> tuple[str | None, str]:
    source = user or (item.get("user") if isinstance(item.get("user"), dict) else None) or {}
    user_id, device_id = text(source.get("userId")), text(source.get("deviceId"))
    found = mapping.customer(PROVIDER, user_id=user_id, device_id=device_id)
    described = f"userId {user_id!r}, deviceId {device_id!r}"
    return found, described


def _event(index: int, item: object, user: dict[str, Any] | None, mapping: IdentityMap) -> Outcome:
    if not isinstance(item, dict):
        return Outcome(index, "rejected", reason="a Radar event must be an object", pointer=f"/events/{index}")
    radar_id = text(item.get("_id"))
    kind = item.get("type")
    if not isinstance(kind, str):
        return Outcome(index, "rejected", radar_id, reason="the event has no `type`", pointer=f"/events/{index}/type")
    if kind not in GEOFENCE_TYPES and kind not in PLACE_TYPES:
        return Outcome(index, "ignored", radar_id, reason=f"Radar event type {kind[:64]!r} is not used by Kairos")
    if radar_id is None:
        return Outcome(index, "rejected", None, reason="the event has no `_id`", pointer=f"/events/{index}/_id")
    occurred = timestamp(item.get("actualCreatedAt")) or timestamp(item.get("createdAt"))
    if occurred is None:
        return Outcome(index, "rejected", radar_id, reason="the event has no createdAt / actualCreatedAt time",
                       pointer=f"/events/{index}/createdAt")
    customer, who = _customer(user, item, mapping)
    if customer is None:
        return Outcome(index, "unmapped", radar_id, reason=f"no customer is mapped to Radar {who}")
    warnings: list[str] = []
    if kind in GEOFENCE_TYPES:
        geofence = _obj(item.get("geofence"))
        geofence_id = text(geofence.get("_id"))
        if geofence_id is None:
            return Outcome(index, "rejected", radar_id, reason="a geofence event without `geofence._id`",
                           pointer=f"/events/{index}/geofence/_id")
        tag, external = text(geofence.get("tag"), 64), text(geofence.get("externalId"))
        etype = GEOFENCE_TYPES[kind]
    else:
        place = _obj(item.get("place"))
        place_id = text(place.get("_id"), 100)
        if place_id is None:
            return Outcome(index, "ignored", radar_id, reason="a place event without `place._id`")
        geofence_id, tag, external = f"place:{place_id}", None, None
        if mapping.store(PROVIDER, geofence_id=geofence_id) is None:
            return Outcome(index, "ignored", radar_id,
                           reason=f"place {place_id!r} is not mapped to a store (map geofence_id 'place:{place_id}')")
        etype = PLACE_TYPES[kind]
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
    location = lon_lat(item.get("location"))
    if location is not None:
        event["location"] = location
    confidence = item.get("confidence")
    if isinstance(confidence, int) and not isinstance(confidence, bool) and 1 <= confidence <= 3:
        event["confidence"] = confidence
    duration = item.get("duration")
    if etype == ev.GEOFENCE_EXITED and isinstance(duration, int | float) and not isinstance(duration, bool) \
            and duration >= 0:
        event["dwell_s"] = round(float(duration) * 60, 3)  # Radar's duration is in minutes
    replay = _replay_gap_s(item)
    if replay is not None:
        warnings.append(f"replayed: it happened {replay} s before Radar created the event; "
                        "its time is when it happened")
    return Outcome(index, "event", radar_id, event, warnings=tuple(warnings))


def _obj(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _replay_gap_s(item: dict[str, Any]) -> int | None:
    actual, created = timestamp(item.get("actualCreatedAt")), timestamp(item.get("createdAt"))
    if actual is None or created is None:
        return None
    gap = (parse_rfc3339_ms(created) - parse_rfc3339_ms(actual)) // 1000
    return gap if gap >= REPLAY_WARNING_S else None


def _user_location(user: dict[str, Any], mapping: IdentityMap) -> Outcome:
    radar_id = text(user.get("_id"))
    occurred = timestamp(user.get("actualUpdatedAt")) or timestamp(user.get("updatedAt"))
    location = lon_lat(user.get("location"))
    if occurred is None or location is None:
        return Outcome(0, "rejected", radar_id, reason="a Radar user needs `location` and `updatedAt` to be read "
                       "as a location", pointer="/location")
    customer, who = _customer(user, {}, mapping)
    if customer is None:
        return Outcome(0, "unmapped", radar_id, reason=f"no customer is mapped to Radar {who}")
    event: dict[str, Any] = {"event_id": event_id("radar-user", radar_id or customer, occurred),
                             "type": ev.LOCATION_UPDATED, "occurred_at": occurred, "source": PROVIDER,
                             "customer_id": customer, "location": location}
    accuracy = user.get("locationAccuracy")
    if isinstance(accuracy, int | float) and not isinstance(accuracy, bool) and accuracy >= 0:
        event["accuracy_m"] = float(accuracy)
    return Outcome(0, "event", radar_id, event)
