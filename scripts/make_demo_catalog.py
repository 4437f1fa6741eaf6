"""Derives the bundled demo data in service/data/ from the real public files (run after changing the generator).

- demo_catalog.ndjson: the London demo store (its point and polygon geofence) and 48 products (the
  first 12 of each fashion category) of the aws-samples/retail-demo-store catalog (MIT-0), with the
  fields the source lacks DERIVED by service/loaders/catalog.py (seed SEED, listed in each
  product's `derived`), stock per size online and in the London store.
- demo_stores.ndjson: the 195 Helsinki fashion shops from OpenStreetMap (ODbL 1.0 — © OpenStreetMap
  contributors) as store.upserted, with their real opening_hours.
- demo_incentives.json: the demo store's five coupon offers as incentive data.

Run: python scripts/make_demo_catalog.py [DATA_DIR]   (default: tests/data, the copies of shared/data)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import tzfpy
import yaml

from service.loaders.catalog import SEED, catalog_events, incentives_from_offers
from service.loaders.stores import StoreDefaults, first_polygon, stores_from_geojson

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "service" / "data"
OCCURRED_AT = "2026-01-01T00:00:00Z"
STORE_ID = "store-london-01"
LONDON = StoreDefaults(radius_m=60, store_id=STORE_ID, name="Retail Demo Store London", kind="clothes",
                       opening_hours="Mo-Sa 10:00-20:00; Su 12:00-18:00; PH off")


def zone_of(lat: float, lon: float) -> str | None:
    return tzfpy.get_tz(lon, lat) or None


def write_ndjson(path: Path, events: list[dict[str, object]]) -> None:
    path.write_text("".join(json.dumps(e, ensure_ascii=False) + "\n" for e in events), encoding="utf-8")
    print(f"wrote {len(events)} events to {path.relative_to(ROOT)}")


def main(data: Path) -> None:
    locations = data / "locations"
    polygon = first_polygon(json.loads((locations / "retail_demo_store_store_geofence.json").read_text()))
    london = stores_from_geojson(json.loads((locations / "retail_demo_store_store_location.json").read_text()),
                                 OCCURRED_AT, zone_of, StoreDefaults(**{**LONDON.__dict__, "geofence": polygon}))
    catalog_dir = data / "catalog" / "aws_retail_demo_store"
    products = yaml.safe_load((catalog_dir / "products.yaml").read_text())
    categories = yaml.safe_load((catalog_dir / "categories.yaml").read_text())
    catalog = catalog_events(products, categories, OCCURRED_AT, [STORE_ID], seed=SEED, per_category=12)
    write_ndjson(OUT / "demo_catalog.ndjson", london.events + catalog.events)
    helsinki = stores_from_geojson(json.loads((locations / "helsinki_fashion_shops.geojson").read_text()),
                                   OCCURRED_AT, zone_of, StoreDefaults())
    write_ndjson(OUT / "demo_stores.ndjson", helsinki.events)
    incentives = incentives_from_offers(json.loads((catalog_dir / "offers.json").read_text()))
    (OUT / "demo_incentives.json").write_text(json.dumps(incentives, indent=2) + "\n", encoding="utf-8")
    for problem in london.problems + catalog.problems + helsinki.problems:
        print("problem:", problem)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "tests" / "data")
