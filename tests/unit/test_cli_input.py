"""`kairos load` with --out: the real files become the events a running Kairos would be sent."""

from __future__ import annotations

import json
from pathlib import Path

from service.cli import main

DATA = Path(__file__).resolve().parents[1] / "data"


def lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_load_stores_london_point_with_polygon(tmp_path: Path) -> None:
    out = tmp_path / "stores.ndjson"
    code = main(["load", "stores", str(DATA / "locations/retail_demo_store_store_location.json"), "--id",
                 "store-london-01", "--name", "Retail Demo Store London", "--radius-m", "60", "--geofence",
                 str(DATA / "locations/retail_demo_store_store_geofence.json"), "--opening-hours",
                 "Mo-Sa 10:00-20:00; Su 12:00-18:00; PH off", "--out", str(out)])
    assert code == 0
    [store] = lines(out)
    assert (store["store_id"], store["name"], store["radius_m"], store["time_zone"]) == (
        "store-london-01", "Retail Demo Store London", 60.0, "Europe/London")
    assert store["geofence"]["type"] == "Polygon"  # type: ignore[index]


def test_load_catalog_with_offers(tmp_path: Path) -> None:
    out, incentives = tmp_path / "catalog.ndjson", tmp_path / "incentives.json"
    folder = DATA / "catalog/aws_retail_demo_store"
    code = main(["load", "catalog", str(folder / "products.yaml"), "--categories", str(folder / "categories.yaml"),
                 "--offers", str(folder / "offers.json"), "--incentives-out", str(incentives),
                 "--per-category", "2", "--out", str(out)])
    assert code == 0
    events = lines(out)
    assert sum(e["type"] == "product.upserted" for e in events) == 8
    assert len(json.loads(incentives.read_text())) == 5


def test_load_refuses_a_file_that_holds_no_stores(tmp_path: Path) -> None:
    code = main(["load", "stores", str(DATA / "providers/aws_location/awsdocs_geofence_ENTER.json"),
                 "--out", str(tmp_path / "x")])
    assert code == 2
