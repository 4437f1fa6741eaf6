"""Bad values inside good provider bodies: that one event is rejected with a pointer into the provider's
body and the exact reason; nothing is silently dropped, clamped or replaced by another field."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from service.providers import aws_location, azure_maps, radar
from service.providers.mapping import parse_mapping

DATA = Path(__file__).resolve().parents[1] / "data" / "providers"
MAPPING = parse_mapping({
    "radar": {"customers": {"user_id": {"1": "anna"}, "device_id": {"bbb0b123abcde": "otto"}}},
    "aws-location": {"customers": {"device_id": {"Device1-EXAMPLE": "anna"}}},
    "azure-maps": {"customers": {"device_id": {"device_1": "anna"}}},
})


def load(*parts: str) -> Any:
    return json.loads(DATA.joinpath(*parts).read_text())


def rejected(outcomes: list[Any]) -> list[tuple[str, str, str]]:
    return [(o.status, o.pointer, o.reason) for o in outcomes]


def radar_entry(**changes: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    track = load("radar", "android_track.json")
    event = copy.deepcopy(track["events"][5])  # user.entered_geofence, mapped user "1"
    for key, value in changes.items():
        if value is None:
            event.pop(key, None)
        else:
            event[key] = value
    return event, track["user"]


def aws(name: str, **detail: Any) -> dict[str, Any]:
    body: dict[str, Any] = load("aws_location", name)
    body["detail"].update(detail)
    return body


def test_aws_enter_with_an_impossible_position_is_rejected_not_stripped() -> None:
    outcomes = aws_location.normalise(aws("awsdocs_geofence_ENTER.json", Position=[200, 95]), MAPPING)
    assert rejected(outcomes) == [("rejected", "/detail/Position/0",
                                   "longitude 200 is outside -180..180 (GeoJSON order is [lon, lat])")]


def test_aws_update_out_of_range_says_what_is_wrong_not_that_the_position_is_missing() -> None:
    outcomes = aws_location.normalise(aws("awsdocs_device_position_UPDATE.json", Position=[50, 500]), MAPPING)
    assert rejected(outcomes) == [("rejected", "/detail/Position/1",
                                   "latitude 500 is outside -90..90 (GeoJSON order is [lon, lat])")]
    missing = aws("awsdocs_device_position_UPDATE.json")
    del missing["detail"]["Position"]
    assert rejected(aws_location.normalise(missing, MAPPING)) == [
        ("rejected", "/detail/Position", "`Position` is missing: a [lon, lat] position is required")]
    text = aws("awsdocs_device_position_UPDATE.json", Position="-123.1,49.2")
    assert rejected(aws_location.normalise(text, MAPPING)) == [
        ("rejected", "/detail/Position", "must be a GeoJSON position [lon, lat], not '-123.1,49.2'")]


def test_aws_bad_accuracy_and_sample_time_are_rejected_and_the_pointer_counts_array_items() -> None:
    good = load("aws_location", "awsdocs_device_position_UPDATE.json")
    vague = aws("awsdocs_device_position_UPDATE.json", Accuracy={"Horizontal": -3})
    local = aws("awsdocs_geofence_ENTER.json", SampleTime="2020-11-10T23:43:37")
    outcomes = aws_location.normalise([good, vague, local], MAPPING)
    assert outcomes[0].status == "event"
    assert rejected(outcomes[1:]) == [
        ("rejected", "/1/detail/Accuracy/Horizontal", "`Horizontal` -3 m is outside 0..100000 m"),
        ("rejected", "/2/detail/SampleTime", "`SampleTime` '2020-11-10T23:43:37' has no UTC offset (add Z or "
                                              "±hh:mm), e.g. 2019-11-15T17:31:18.454Z")]


def test_aws_body_that_is_not_an_eventbridge_event_is_a_shape_error() -> None:
    for body in ({}, {"hello": "world"}, {"id": "x", "detail": "nope"}):
        with pytest.raises(aws_location.BodyShapeError, match="not an EventBridge event"):
            aws_location.normalise(body, MAPPING)
    # inside an array the same object is one rejected item; another source is still "ignored"
    outcomes = aws_location.normalise([{}, {"source": "aws.s3", "id": "1", "detail-type": "x", "detail": {}}],
                                      MAPPING)
    assert [(o.status, o.pointer) for o in outcomes] == [("rejected", "/0"), ("ignored", "")]
    assert outcomes[0].reason == "not an EventBridge event: it needs `source` and `detail`"


def test_radar_out_of_range_location_and_confidence_are_rejected_with_single_event_pointers() -> None:
    event, user = radar_entry(location={"type": "Point", "coordinates": [999, 999]})
    assert rejected(radar.normalise({"event": event, "user": user}, MAPPING)) == [
        ("rejected", "/event/location/coordinates/0",
         "longitude 999 is outside -180..180 (GeoJSON order is [lon, lat])")]
    event, user = radar_entry(confidence=7)
    assert rejected(radar.normalise({"event": event, "user": user}, MAPPING)) == [
        ("rejected", "/event/confidence", "`confidence` 7 is outside 1..3")]
    # in a multiple-events body the pointer names the item
    outcomes = radar.normalise({"events": [radar_entry()[0], event], "user": user}, MAPPING)
    assert [(o.status, o.pointer) for o in outcomes] == [("event", ""), ("rejected", "/events/1/confidence")]


def test_radar_times_say_what_is_wrong() -> None:
    event, user = radar_entry(actualCreatedAt="2019-11-15T17:31:18.454")
    assert rejected(radar.normalise({"event": event, "user": user}, MAPPING)) == [
        ("rejected", "/event/actualCreatedAt", "`actualCreatedAt` '2019-11-15T17:31:18.454' has no UTC offset "
                                               "(add Z or ±hh:mm), e.g. 2019-11-15T17:31:18.454Z")]
    event, user = radar_entry(actualCreatedAt=None, createdAt=None)
    assert rejected(radar.normalise({"event": event, "user": user}, MAPPING)) == [
        ("rejected", "/event/createdAt", "the event has neither `actualCreatedAt` nor `createdAt`")]
    event, user = radar_entry(createdAt="yesterday")  # never silently falls back to the other time
    assert rejected(radar.normalise({"event": event, "user": user}, MAPPING)) == [
        ("rejected", "/event/createdAt", "`createdAt` 'yesterday' is not an RFC 3339 time with an offset, "
                                         "e.g. 2019-11-15T17:31:18.454Z")]


def test_radar_ids_and_duration_too_long_or_wrong_are_rejected_not_dropped() -> None:
    event, user = radar_entry()
    event["geofence"]["tag"] = "t" * 65
    assert rejected(radar.normalise({"event": event, "user": user}, MAPPING)) == [
        ("rejected", "/event/geofence/tag", "`tag` must be a string of 1 to 64 characters, not '" + "t" * 56 + "...")]
    exited = copy.deepcopy(load("radar", "android_track.json")["events"][4])
    exited["duration"] = -5
    assert rejected(radar.normalise({"event": exited, "user": user}, MAPPING)) == [
        ("rejected", "/event/duration", "`duration` -5 min is outside 0..525600 min")]
    stranger = {**user, "userId": " 1"}
    assert rejected(radar.normalise({"event": radar_entry()[0], "user": stranger}, MAPPING)) == [
        ("rejected", "/user/userId", "`userId` must not start or end with white space or contain control characters")]


def test_radar_user_object_with_a_bad_location_or_accuracy_is_rejected() -> None:
    user = load("radar", "python_user.json")
    user["location"]["coordinates"] = [40.703973, -273.9869206]
    assert rejected(radar.normalise(user, MAPPING)) == [
        ("rejected", "/location/coordinates/1", "latitude -273.987 is outside -90..90 (GeoJSON order is [lon, lat])")]
    user = load("radar", "python_user.json")
    user["locationAccuracy"] = "15 m"
    assert rejected(radar.normalise(user, MAPPING)) == [
        ("rejected", "/locationAccuracy", "`locationAccuracy` must be a number, not '15 m'")]


def test_azure_pointers_follow_the_body_form_and_bad_distances_are_rejected() -> None:
    cloud = load("azure_maps", "cloudevent_GeofenceEntered.json")
    cloud["time"] = "2018-11-08 00:54:17"
    assert rejected(azure_maps.normalise(cloud, MAPPING)) == [
        ("rejected", "/time", "`time` '2018-11-08 00:54:17' has no UTC offset (add Z or ±hh:mm), "
                              "e.g. 2019-11-15T17:31:18.454Z")]
    grid = load("azure_maps", "eventgrid_GeofenceResult.json")
    grid["data"]["geometries"][0]["distance"] = "inside"
    outcomes = azure_maps.normalise([grid], MAPPING)  # an Event Grid array: the pointer names the item
    assert rejected(outcomes) == [("rejected", "/0/data/geometries/0/distance",
                                   "`distance` must be a number, not 'inside'")]
    with pytest.raises(azure_maps.BodyShapeError, match="neither an Event Grid event nor a CloudEvent"):
        azure_maps.normalise({}, MAPPING)


def test_provider_ids_the_response_schema_cannot_hold_are_not_echoed() -> None:
    event, user = radar_entry()
    long_id = {"_id": "x" * 500, "type": "user.exited_region_state"}
    outcomes = radar.normalise({"events": [long_id, {**event, "_id": "y" * 129}], "user": user}, MAPPING)
    assert [(o.status, o.provider_event_id) for o in outcomes] == [("ignored", None), ("rejected", None)]
    assert outcomes[1].pointer == "/events/1/_id"
