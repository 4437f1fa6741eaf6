"""`kairos replay` recognises every provider file as what it is, and says why it refuses the ones it cannot use."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from service.cli import main
from service.providers import radar
from service.providers.mapping import parse_mapping
from service.tools.files import Options, UnsupportedFile, read_file

DATA = Path(__file__).resolve().parents[1] / "data"
MAPPING = parse_mapping({"radar": {"customers": {"user_id": {"1": "anna"}, "device_id": {"bbb0b123abcde": "otto"}}},
                         "aws-location": {"customers": {"device_id": {"Device1-EXAMPLE": "anna"}}},
                         "azure-maps": {"customers": {"device_id": {"device_1": "anna"}}}})
# Every file under tests/data/providers (a byte copy of the workspace's shared/data/providers):
# (kind, events made with MAPPING) or the start of the refusal.
PROVIDER_FILES: dict[str, tuple[str, int] | str] = {
    "aws_location/awsdocs_device_position_UPDATE.json": ("aws-location", 1),
    "aws_location/awsdocs_geofence_ENTER.json": ("aws-location", 1),
    "aws_location/awsdocs_geofence_EXIT.json": ("aws-location", 1),
    "azure_maps/cloudevent_GeofenceEntered.json": ("azure-maps", 1),
    "azure_maps/cloudevent_GeofenceResult.json": ("azure-maps", 0),  # outside every geometry: ignored
    "azure_maps/eventgrid_GeofenceEntered.json": ("azure-maps", 1),
    "azure_maps/eventgrid_GeofenceResult.json": ("azure-maps", 0),
    "radar/android_track.json": ("radar", 2),
    "radar/ios_track.json": ("radar", 2),
    "radar/android_trip_with_legs.json": ("radar", 0),  # an SDK trip response: no user to map
    "radar/python_user.json": ("radar-user", 1),
    "radar/python_geofence.json": ("radar-geofences", 1),
    "radar/android_search_geofences.json": ("radar-geofences", 1),
    "radar/ios_search_geofences.json": ("radar-geofences", 1),
    "radar/android_context.json": "a Radar context response",
    "radar/ios_context.json": "a Radar context response",
    "radar/python_context.json": "a Radar context response",
    "radar/android_search_places.json": "Radar place search results",
}


def test_every_provider_file_is_listed() -> None:
    present = {str(p.relative_to(DATA / "providers")) for p in (DATA / "providers").rglob("*.json")}
    assert present == set(PROVIDER_FILES)


@pytest.mark.parametrize("name", sorted(PROVIDER_FILES))
def test_provider_files_are_recognised_as_what_they_are(name: str) -> None:
    path = DATA / "providers" / name
    expected = PROVIDER_FILES[name]
    if isinstance(expected, str):
        with pytest.raises(UnsupportedFile) as err:
            read_file(path, Options(mapping=MAPPING))
        assert str(err.value).startswith(f"{path}: {expected}")
        return
    read = read_file(path, Options(mapping=MAPPING))
    assert (read.kind, len(read.events)) == expected


def test_a_radar_user_object_replays_as_the_webhook_reads_it() -> None:
    path = DATA / "providers/radar/python_user.json"
    read = read_file(path, Options(mapping=MAPPING))
    [webhook] = radar.normalise(json.loads(path.read_text()), MAPPING)
    assert read.events == [webhook.event]
    assert read.events[0]["location"] == {"lat": 40.703973, "lon": -73.9869206}


def test_a_radar_trip_without_a_user_says_so() -> None:
    read = read_file(DATA / "providers/radar/android_trip_with_legs.json", Options(mapping=MAPPING))
    assert dict(read.rejected) == {"the body names no Radar user (`user.userId` or `user.deviceId`)": 1}


def test_a_taf_is_refused_as_a_forecast_without_warnings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # pytest turns warnings into errors here: the METAR parser's RuntimeWarning would fail this test
    taf = DATA / "weather/metar_avwx/taf/EGLL.json"
    code = main(["replay", str(taf), "--out", str(tmp_path / "out.ndjson")])
    assert code == 2
    err = capsys.readouterr().err
    assert err == (f"kairos: {taf}: a TAF (terminal aerodrome forecast): a forecast, not an observation. Kairos "
                   "takes observed weather only (METAR reports, NWS observations, Open-Meteo `current`), so nothing "
                   "of it is sent\n")
    assert not (tmp_path / "out.ndjson").exists()


def test_load_stores_refuses_a_radar_user_object(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["load", "stores", str(DATA / "providers/radar/python_user.json"), "--out", str(tmp_path / "x")])
    assert code == 2
    assert capsys.readouterr().err.endswith("python_user.json: a radar-user file, not stores\n")


def test_the_per_file_line_says_what_was_not_used_and_why() -> None:
    from service.tools.cli_input import describe

    path = DATA / "providers/radar/python_user.json"
    assert describe(read_file(path, Options()), mapping_given=False) == (
        f"{path}: radar-user, 0 events; 1 unmapped (e.g. no customer is mapped to Radar userId 'u123', deviceId "
        "'bbb0b123abcde'); no --mapping given: provider users and devices are mapped to customers by a mapping "
        "file (docs/INPUT.md)")


def test_the_documented_example_mapping_maps_the_fixtures() -> None:
    from service.adapters.mapping_file import load_mapping_file

    example = load_mapping_file(Path(__file__).resolve().parents[2] / "docs/mapping.example.yaml")
    customers = {name: [e["customer_id"] for e in read_file(DATA / "providers" / name, Options(mapping=example)).events]
                 for name in ("radar/android_track.json", "radar/python_user.json",
                              "aws_location/awsdocs_geofence_ENTER.json", "azure_maps/eventgrid_GeofenceEntered.json")}
    assert customers == {"radar/android_track.json": ["radar-1", "radar-1"], "radar/python_user.json": ["radar-2"],
                         "aws_location/awsdocs_geofence_ENTER.json": ["aws-1"],
                         "azure_maps/eventgrid_GeofenceEntered.json": ["azure-1"]}
