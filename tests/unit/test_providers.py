"""Provider payloads from the real fixtures → Kairos events: exact fields, [lon, lat] order, statuses."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from service.api.validation import EventValidator
from service.providers import aws_location, azure_maps, radar
from service.providers.mapping import MappingError, parse_mapping

DATA = Path(__file__).resolve().parents[1] / "data" / "providers"
SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
MAPPING = parse_mapping({
    "radar": {"customers": {"user_id": {"1": "anna"}, "device_id": {"bbb0b123abcde": "otto"}},
              "stores": {"geofence_id": {"5ca7dd72208530002b30683c": "store-nyc-venue"}}},
    "aws-location": {"customers": {"device_id": {"Device1-EXAMPLE": "anna"}},
                     "stores": {"geofence_id": {"polygon_14": "store-vancouver"}}},
    "azure-maps": {"customers": {"device_id": {"device_1": "anna"}}, "stores": {"geofence_id": {"2": "store-redmond"}}},
})
VALIDATOR = EventValidator.from_directory(SCHEMAS)


def load(*parts: str) -> Any:
    return json.loads(DATA.joinpath(*parts).read_text())


def valid(event: dict[str, Any] | None) -> dict[str, Any]:
    assert event is not None
    assert VALIDATOR.validate(event, 2_000_000_000_000, 0) == []
    return event


@pytest.mark.parametrize("name", ["android_track.json", "ios_track.json"])
def test_radar_track_bodies(name: str) -> None:
    outcomes = radar.normalise(load("radar", name), MAPPING)
    assert [o.status for o in outcomes] == ["ignored"] * 4 + ["event", "event"] + ["ignored"] * 4
    exited, entered = valid(outcomes[4].event), valid(outcomes[5].event)
    assert entered == {
        "event_id": "radar-5dcee0e67e71e80027a7eec8", "type": "geofence.entered",
        "occurred_at": "2019-11-15T17:31:18.454Z", "source": "radar", "customer_id": "anna",
        "geofence_id": "5ca7dd72208530002b30683c", "tag": "venue", "external_id": "2",
        "store_id": "store-nyc-venue", "location": {"lat": 40.783825, "lon": -73.975365}, "confidence": 3}
    # 84491.305 minutes; the exited geofence has no store mapped: kept, with a warning
    assert exited["dwell_s"] == 5069478.3 and exited["type"] == "geofence.exited" and "store_id" not in exited
    assert outcomes[4].warnings == ("geofence '5d818607dc9243002682d6da' (tag 'ta-petro', externalId '123') "
                                    "is not mapped to a store",)
    assert outcomes[0].reason == "Radar event type 'user.exited_region_state' is not used by Kairos"
    assert outcomes[6].reason.startswith("place '59bb1dc10d8998dc02510033' is not mapped")


def test_radar_user_object_is_its_last_location_lon_lat_the_right_way_round() -> None:
    [outcome] = radar.normalise(load("radar", "python_user.json"), MAPPING)
    event = valid(outcome.event)
    # GeoJSON [-73.9869206, 40.703973] is lon, lat: New York, not Antarctica
    assert event["location"] == {"lat": 40.703973, "lon": -73.9869206}
    assert (event["type"], event["customer_id"], event["accuracy_m"], event["occurred_at"]) == (
        "location.updated", "otto", 15.013, "2020-03-04T15:18:20.950Z")


def test_a_replayed_radar_event_keeps_the_time_it_happened() -> None:
    body = load("radar", "android_track.json")
    replayed = copy.deepcopy(body["events"][5])
    replayed["createdAt"] = "2019-11-15T18:31:18.454Z"  # Radar created it an hour after it happened
    [outcome] = radar.normalise({"event": replayed, "user": body["user"]}, MAPPING)
    assert valid(outcome.event)["occurred_at"] == "2019-11-15T17:31:18.454Z"
    assert outcome.warnings == ("replayed: it happened 3600 s before Radar created the event; "
                                "its time is when it happened",)


def test_radar_unmapped_user_and_broken_events_are_reported_not_guessed() -> None:
    body = load("radar", "android_track.json")
    stranger = {**body, "user": {**body["user"], "userId": "999", "deviceId": "Z"}}
    outcomes = radar.normalise(stranger, MAPPING)
    assert outcomes[5].status == "unmapped"
    assert outcomes[5].reason == "no customer is mapped to Radar userId '999', deviceId 'Z'"
    broken = radar.normalise({"events": [{"type": "user.entered_geofence", "_id": "x1"}, 7,
                                         body["events"][5]], "user": body["user"]}, MAPPING)
    assert [(o.status, o.pointer) for o in broken] == [("rejected", "/events/0/createdAt"),
                                                       ("rejected", "/events/1"), ("event", "")]
    with pytest.raises(radar.BodyShapeError):
        radar.normalise({"hello": 1}, MAPPING)


def test_aws_location_geofence_and_position_events() -> None:
    [enter] = aws_location.normalise(load("aws_location", "awsdocs_geofence_ENTER.json"), MAPPING)
    assert valid(enter.event) == {
        "event_id": "aws-aa11aa22-33a-4a4a-aaa5-example-enter-polygon_14", "type": "geofence.entered",
        "occurred_at": "2020-11-10T23:43:37.531Z", "source": "aws-location", "customer_id": "anna",
        "geofence_id": "polygon_14", "store_id": "store-vancouver",
        "location": {"lat": 49.23433613216247, "lon": -123.12390073297821}}
    [update] = aws_location.normalise(load("aws_location", "awsdocs_device_position_UPDATE.json"), MAPPING)
    assert valid(update.event)["type"] == "location.updated"
    assert update.event["location"] == {"lat": 49.23766166742559, "lon": -123.08569321875426}
    assert update.event["accuracy_m"] == 15.3
    [exit_] = aws_location.normalise(load("aws_location", "awsdocs_geofence_EXIT.json"), MAPPING)
    # The three documentation samples share one placeholder envelope id; they stay three events.
    assert len({enter.event["event_id"], update.event["event_id"], valid(exit_.event)["event_id"]}) == 3
    other = aws_location.normalise({"source": "aws.s3", "id": "1", "detail": {}}, MAPPING)
    assert [(o.status, o.reason) for o in other] == [("ignored", "not an Amazon Location event (source 'aws.s3')")]


@pytest.mark.parametrize("name", ["eventgrid_GeofenceEntered.json", "cloudevent_GeofenceEntered.json"])
def test_azure_maps_geofence_entered_in_both_schemas(name: str) -> None:
    [outcome] = azure_maps.normalise(load("azure_maps", name), MAPPING)
    assert valid(outcome.event) == {
        "event_id": "azure-7f8446e2-1ac7-4234-8425-303726ea3981-2", "type": "geofence.entered",
        "occurred_at": "2018-11-08T00:54:17.640Z", "source": "azure-maps", "customer_id": "anna",
        "geofence_id": "2", "store_id": "store-redmond"}


@pytest.mark.parametrize("name", ["eventgrid_GeofenceResult.json", "cloudevent_GeofenceResult.json"])
def test_azure_maps_result_outside_every_geometry_is_ignored(name: str) -> None:
    outcomes = azure_maps.normalise(load("azure_maps", name), MAPPING)
    assert [(o.status, o.reason) for o in outcomes] == [
        ("ignored", "GeofenceResult with the device inside no geometry")]
    inside = load("azure_maps", name)
    inside["data"]["geometries"][1]["distance"] = -12.0
    [dwell] = azure_maps.normalise(inside, MAPPING)
    assert valid(dwell.event)["type"] == "geofence.dwelled" and dwell.event["store_id"] == "store-redmond"


def test_azure_subscription_validation_code() -> None:
    body = [{"id": "2d1781af", "topic": "/subscriptions/x", "subject": "", "eventTime": "2018-01-25T22:12:19Z",
             "eventType": "Microsoft.EventGrid.SubscriptionValidationEvent",
             "data": {"validationCode": "512d38b6-c7b8-40c8-89fe-f46f9e9622b6"}, "dataVersion": "1"}]
    assert azure_maps.validation_code(body) == "512d38b6-c7b8-40c8-89fe-f46f9e9622b6"
    assert azure_maps.validation_code(load("azure_maps", "eventgrid_GeofenceEntered.json")) is None


def test_mapping_errors_name_the_entry() -> None:
    with pytest.raises(MappingError, match=r"mapping: unknown provider 'foursquare'"):
        parse_mapping({"foursquare": {}})
    with pytest.raises(MappingError, match=r"mapping.radar.customers.user_id.1: must be an id"):
        parse_mapping({"radar": {"customers": {"user_id": {"1": ""}}}})
    identity = parse_mapping({"radar": {"user_id_is_customer_id": True, "stores": {"tag": {"store": "s-1"}}}})
    assert identity.customer("radar", user_id="u-9") == "u-9"
    assert identity.store("radar", geofence_id="g", tag="store") == "s-1"
    assert identity.customer("aws-location", device_id="d") is None
