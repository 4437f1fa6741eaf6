"""Loaders on the real files: stores, the derived catalog, offers, clickstream and weather reports."""

from __future__ import annotations

import collections
import csv
import datetime as dt
import functools
import gzip
import io
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from service.api.validation import EventValidator
from service.loaders.catalog import SEED, catalog_events, gtin13, incentives_from_offers
from service.loaders.clickstream import clickstream_events
from service.loaders.stores import StoreDefaults, first_polygon, stores_from_geojson, stores_from_radar_geofences
from service.loaders.weather import from_metar, from_nws_observation, from_open_meteo, split_metar
from service.tools.files import Options, read_file, station_table, zone_of

DATA = Path(__file__).resolve().parents[1] / "data"
VALIDATOR = EventValidator.from_directory(Path(__file__).resolve().parents[2] / "schemas")
AT = "2026-01-01T00:00:00Z"


def all_valid(events: list[dict[str, Any]]) -> None:
    bad = [(e.get("event_id"), VALIDATOR.validate(e, 2_000_000_000_000, 0)) for e in events]
    assert [b for b in bad if b[1]] == []


def test_helsinki_shops_become_195_stores_with_their_hours_and_zone() -> None:
    load = stores_from_geojson(json.loads((DATA / "locations/helsinki_fashion_shops.geojson").read_text()), AT,
                               zone_of, StoreDefaults())
    assert (len(load.events), load.problems) == (195, [])
    all_valid(load.events)
    zara = load.events[0]
    assert {k: zara[k] for k in ("store_id", "name", "kind", "location", "radius_m", "time_zone")} == {
        "store_id": "osm-node-256198895", "name": "Zara", "kind": "clothes",
        "location": {"lat": 60.1689173, "lon": 24.9420771}, "radius_m": 50.0, "time_zone": "Europe/Helsinki"}
    assert sum("opening_hours" in e for e in load.events) == 90
    assert len({e["store_id"] for e in load.events}) == 195


def test_the_london_store_point_with_its_polygon() -> None:
    polygon = first_polygon(json.loads((DATA / "locations/retail_demo_store_store_geofence.json").read_text()))
    load = stores_from_geojson(json.loads((DATA / "locations/retail_demo_store_store_location.json").read_text()),
                               AT, zone_of, StoreDefaults(radius_m=60, store_id="store-london-01", geofence=polygon))
    [store] = load.events
    all_valid(load.events)
    assert store["location"] == {"lat": 51.5215282, "lon": -0.1133287}
    assert store["geofence"]["coordinates"][0][0] == [-0.11930465698242188, 51.518290392174535]
    assert store["time_zone"] == "Europe/London"
    # The polygon file alone is a store located at its vertex mean.
    [alone] = stores_from_geojson(json.loads((DATA / "locations/retail_demo_store_store_geofence.json").read_text()),
                                  AT, zone_of, StoreDefaults()).events
    assert alone["location"] == {"lat": 51.5215081, "lon": -0.113318}


def test_radar_geofence_object_is_a_circle_store() -> None:
    [store] = stores_from_radar_geofences(json.loads((DATA / "providers/radar/python_geofence.json").read_text()),
                                          AT, zone_of).events
    all_valid([store])
    assert {k: store[k] for k in ("store_id", "name", "location", "radius_m", "kind", "time_zone")} == {
        "store_id": "123", "name": "Demo Geofence", "location": {"lat": 40.7041029, "lon": -73.98706},
        "radius_m": 100.0, "kind": "test", "time_zone": "America/New_York"}


def test_store_ids_too_long_are_reported_not_cut_and_long_names_are_noted() -> None:
    # Cut to 128 characters, these two ids would become one store.
    long_a, long_b = "x" * 130 + "a", "x" * 130 + "b"
    radar = {"geofences": [
        {"_id": "g1", "externalId": long_a, "description": "A", "type": "circle", "geometryRadius": 50,
         "geometryCenter": {"type": "Point", "coordinates": [24.94, 60.17]}},
        {"_id": "g2", "externalId": long_b, "description": "B", "type": "circle", "geometryRadius": 50,
         "geometryCenter": {"type": "Point", "coordinates": [24.95, 60.17]}},
        {"_id": "g3", "externalId": "ok-1", "description": "N" * 300, "type": "circle", "geometryRadius": 50,
         "geometryCenter": {"type": "Point", "coordinates": [24.96, 60.17]}}]}
    load = stores_from_radar_geofences(radar, AT, zone_of)
    assert [e["store_id"] for e in load.events] == ["ok-1"]
    assert load.events[0]["name"] == "N" * 256
    all_valid(load.events)
    assert len(load.problems) == 3
    assert load.problems[0].startswith(f"geofence 0: store id '{'x' * 40}'… skipped: an id has 1 to 128")
    assert load.problems[1].startswith("geofence 1: store id")
    assert load.problems[2] == "ok-1: name shortened from 300 to 256 characters"
    point = {"type": "Feature", "id": "node/" + "9" * 140, "properties": {"name": "Shop"},
             "geometry": {"type": "Point", "coordinates": [24.94, 60.17]}}
    geo = stores_from_geojson({"type": "FeatureCollection", "features": [point]}, AT, zone_of, StoreDefaults())
    assert geo.events == [] and geo.problems[0].startswith("feature 0: store id 'osm-node-999")


@functools.cache
def source_catalog() -> tuple[Any, Any]:
    folder = DATA / "catalog/aws_retail_demo_store"
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return (yaml.load((folder / "products.yaml").read_text(), Loader=loader),
            yaml.load((folder / "categories.yaml").read_text(), Loader=loader))


def catalog(**kw: Any) -> Any:
    products, categories = source_catalog()
    return catalog_events(products, categories, AT, ["store-london-01"], **kw)


def test_the_derived_catalog_is_complete_valid_and_marked() -> None:
    load = catalog(per_category=12)
    all_valid(load.events)
    products = {e["product_id"]: e for e in load.events if e["type"] == "product.upserted"}
    assert load.products == 48 and len(products) == 48
    jacket = products["a7fc7d65-a3c7-4793-8c60-8631d208f4a4"]
    assert (jacket["name"], jacket["style"], jacket["price"], jacket["sizes"]) == (
        "Ocean Breeze Waterproof Jacket", "jacket", 129.99, ["XS", "S", "M", "L", "XL"])
    assert set(jacket["derived"]) == {"arrived_at", "care", "colours", "currency", "goes_with", "gtins", "material",
                                      "on_sale", "rating", "reviews", "sizes"}
    assert len(jacket["gtins"]) == 5 * len(jacket["colours"])
    for product in products.values():
        for gtin in product["gtins"]:
            assert gtin["gtin"][0] == "2" and gtin13(gtin["gtin"][:12]) == gtin["gtin"]
        # goes_with: other products of complementary styles, never itself
        assert product["product_id"] not in product["goes_with"]
    by_id = {p: e.get("style") for p, e in products.items()}
    assert {by_id[p] for p in jacket["goes_with"]} <= {"shirt", "scarf", "boot", "sneaker", "backpack"}
    assert jacket["goes_with"]
    gtins = [g["gtin"] for p in products.values() for g in p["gtins"]]
    assert len(gtins) == len(set(gtins))
    stock = [e for e in load.events if e["type"] == "stock.changed"]
    assert {e["store_id"] for e in stock} == {"online", "store-london-01"}
    assert {(e["store_id"], e["size"]) for e in stock if e["product_id"] == jacket["product_id"]} == {
        (s, z) for s in ("online", "store-london-01") for z in jacket["sizes"]}


def test_derivation_is_seeded_per_product() -> None:
    a = {e["product_id"]: e for e in catalog(per_category=3).events if e["type"] == "product.upserted"}
    b = {e["product_id"]: e for e in catalog(per_category=12).events if e["type"] == "product.upserted"}
    for pid, event in a.items():
        same = {k: v for k, v in event.items() if k != "goes_with"}
        assert same == {k: v for k, v in b[pid].items() if k != "goes_with"}
    other_seed = {e["product_id"]: e for e in catalog(per_category=3, seed=SEED + 1).events
                  if e["type"] == "product.upserted"}
    assert any(other_seed[p]["rating"] != a[p]["rating"] for p in a)


def test_bundled_demo_catalog_is_the_generators_output() -> None:
    bundled = [json.loads(line) for line in
               (Path(__file__).resolve().parents[2] / "service/data/demo_catalog.ndjson").read_text().splitlines()]
    assert bundled[0]["store_id"] == "store-london-01" and bundled[0]["geofence"]["type"] == "Polygon"
    assert bundled[1:] == catalog(per_category=12).events


def test_offers_become_incentive_data() -> None:
    incentives = incentives_from_offers(json.loads((DATA / "catalog/aws_retail_demo_store/offers.json").read_text()))
    assert [(i["incentive_id"], i["percent_off"]) for i in incentives] == [
        ("offer-1", 5.0), ("offer-2", 10.0), ("offer-3", 15.0), ("offer-4", 20.0), ("offer-5", 25.0)]
    assert incentives[0]["codes"] == ["DISCOUNT1", "FIVEPERCENT", "SALE5"] and incentives[0]["kind"] == "discount"


def test_clickstream_sample_maps_platforms_sessions_and_customers() -> None:
    text = gzip.decompress((DATA / "app_events/ecom_sample.csv.gz").read_bytes()).decode()
    load = clickstream_events(text, [("p-1", 10.0), ("p-2", 20.0)])
    all_valid(load.events)
    assert load.rows == 1200 and load.problems == []
    types = collections.Counter(e["type"] for e in load.events)
    # every mapped row becomes its event (the sample has 62 add_to_cart, 37 wishlist_add, 18 purchase rows)
    assert types == {"product.viewed": 281, "session.started": 127, "session.ended": 127, "app.opened": 94,
                     "cart.added": 62, "wishlist.added": 37, "order.placed": 18}
    devices = {e["device"]["id"]: e["device"]["type"] for e in load.events if "device" in e}
    assert devices["user_0000-desktop"] == "web"
    assert {t for d, t in devices.items() if d.endswith("-mobile")} == {"phone"}
    assert {t for d, t in devices.items() if d.endswith("-tablet")} == {"tablet"}
    first = load.events[0]
    assert (first["type"], first["customer_id"], first["occurred_at"]) == (
        "session.started", "user_0000", "2024-03-13T10:21:14.000Z")
    ended = [e for e in load.events if e["type"] == "session.ended" and e["session_id"] == "sess_000002"]
    assert ended[0]["outcome"] == "completed"  # sess_000002 ends in a purchase
    assert load.ignored["catalog"] == 250
    # only screens Kairos has no event for are ignored, never a documented mapping
    assert set(load.ignored) == {"catalog", "search", "filter_results", "cart", "shipping_details", "payment_details",
                                 "promo_page", "account_page", "review_page", "support_chat", "payment_error",
                                 "compare", "error_page"}
    rows = list(csv.DictReader(io.StringIO(text)))
    assert types["cart.added"] == sum(r["event"] == "add_to_cart" for r in rows)


def test_clickstream_rows_without_a_viewed_product_still_map() -> None:
    text = ("user_id,session_id,event,timestamp,platform\n"
            "u1,s1,add_to_cart,2024-03-13 10:00:00,mobile\n"  # added from a list page: no product_view first
            "u1,s1,purchase,2024-03-13 10:05:00,mobile\n"
            "u1,s2,purchase,2024-03-14 10:00:00,mobile\n")   # a purchase with nothing added in the session
    load = clickstream_events(text, [("p-1", 10.0), ("p-2", 20.0)])
    all_valid(load.events)
    assert [(e["type"], e.get("product_id")) for e in load.events if e["type"] == "cart.added"] == [
        ("cart.added", "p-2")]
    orders = [e for e in load.events if e["type"] == "order.placed"]
    # the first buys what was added; the second, with an empty cart, a derived product
    assert [[(line["product_id"], line["price"]) for line in o["lines"]] for o in orders] == [
        [("p-2", 20.0)], [("p-1", 10.0)]]
    assert [e["outcome"] for e in load.events if e["type"] == "session.ended"] == ["completed", "completed"]
    assert not load.ignored


def metar_file(station: str) -> dict[str, Any]:
    return json.loads((DATA / f"weather/metar_avwx/metar/{station}.json").read_text())


@pytest.mark.parametrize(("station", "reports", "first"), [
    ("EGLL", 4, ("2023-10-17T05:50:00.000Z", "clear", 10.0)),
    ("KJFK", 2, ("2023-10-17T05:51:00.000Z", "clouds", 11.1)),
    ("KMCO", 2, ("2023-10-17T05:53:00.000Z", "clear", 15.0)),
    ("PHNL", 2, ("2023-10-17T05:53:00.000Z", "clear", 25.6)),
])
def test_metar_reports_run_together_are_each_parsed(station: str, reports: int, first: tuple[str, str, float]) -> None:
    doc = metar_file(station)
    parts = split_metar(doc["data"]["raw"])
    assert len(parts) == reports and all(p.startswith(station + " ") for p in parts)
    events = [from_metar(p, dt.datetime.fromisoformat(doc["data"]["time"]["dt"]), station_table()) for p in parts]
    all_valid(events)
    assert (events[0]["occurred_at"], events[0]["condition"], events[0]["temperature_c"]) == first
    # avwx's own parse of the first report agrees on the whole degrees (T-group decimals are finer)
    assert round(events[0]["temperature_c"]) == doc["data"]["temperature"]["value"]


def cassette(name: str) -> list[dict[str, Any]]:
    return yaml.safe_load((DATA / "weather" / name).read_text())["interactions"]


def test_open_meteo_recordings_in_fahrenheit_and_celsius() -> None:
    london = json.loads(cassette("openmeteo/current_weather_london.yaml")[0]["response"]["body"]["string"])
    event = from_open_meteo(london, 51.5074, -0.1278)
    # 48.2 °F, weather_code 3 (overcast) at 17:00 local = GMT
    assert (event["temperature_c"], event["condition"], event["occurred_at"]) == (9.0, "clouds",
                                                                                  "2025-01-15T17:00:00.000Z")
    celsius = json.loads(cassette("openmeteo/current_weather_celsius.yaml")[0]["response"]["body"]["string"])
    event = from_open_meteo(celsius, 40.7128, -74.006)
    assert (event["temperature_c"], event["condition"]) == (7.5, "clouds")  # code 2: partly cloudy


def test_nws_latest_observation() -> None:
    body = json.loads(cassette("nws/current_nyc.yaml")[2]["response"]["body"]["string"])
    event = from_nws_observation(body)
    assert (event["temperature_c"], event["condition"], event["location"], event["occurred_at"]) == (
        -7.2, "clear", {"lat": 40.77, "lon": -73.98}, "2026-01-20T17:51:00.000Z")


@pytest.mark.parametrize(("path", "kind", "count"), [
    ("providers/radar/android_track.json", "radar", 0),  # nobody mapped: all unmapped or ignored
    ("providers/radar/python_geofence.json", "radar-geofences", 1),
    ("providers/aws_location/awsdocs_geofence_ENTER.json", "aws-location", 0),
    ("providers/azure_maps/eventgrid_GeofenceEntered.json", "azure-maps", 0),
    ("locations/helsinki_fashion_shops.geojson", "geojson-stores", 195),
    ("weather/metar_avwx/metar/EGLL.json", "metar", 4),
    ("weather/openmeteo/current_weather_london.yaml", "vcr-cassette", 2),
    ("weather/openmeteo/error_invalid_coords.yaml", "vcr-cassette", 0),
    ("app_events/ecom_sample.csv.gz", "clickstream", 746),
])
def test_files_are_recognised_by_their_content(path: str, kind: str, count: int) -> None:
    read = read_file(DATA / path, Options(products=(("p-1", 1.0),)))
    assert (read.kind, len(read.events)) == (kind, count)
    all_valid(read.events)


def test_a_route_needs_a_customer() -> None:
    with pytest.raises(ValueError, match="--customer"):
        read_file(DATA / "locations/retail_demo_store_customer_route.json", Options())
    walk = read_file(DATA / "locations/retail_demo_store_customer_route.json",
                     Options(customer="anna", walk_end_ms=1_800_000_000_000))
    assert len(walk.events) == 13 and walk.events[5]["location"] == {"lat": 51.52443206064539,
                                                                    "lon": -0.11095762252807617}


def test_metar_groups_the_parser_skips_are_noted_not_printed() -> None:
    # pytest turns warnings into errors: the parser's RuntimeWarning must not escape from_metar
    notes: list[str] = []
    event = from_metar("EGLL 170550Z AUTO 22008KT 9999 NCD 10/07 Q1012 FOO/BAR NOSIG",
                       dt.datetime(2023, 10, 17, 6, tzinfo=dt.UTC), station_table(), notes)
    assert (event["temperature_c"], event["condition"], event["occurred_at"]) == (10.0, "clear",
                                                                                  "2023-10-17T05:50:00.000Z")
    assert notes == ["EGLL: the METAR parser skipped groups it does not know (FOO/BAR); the rest of the report "
                     "is used"]
