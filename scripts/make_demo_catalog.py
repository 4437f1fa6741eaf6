"""Derives the bundled demo catalog (service/data/demo_catalog.ndjson) from real public data.

Source: aws-samples/retail-demo-store (MIT-0) products.yaml and the London store point, copied in
../shared/data. The real catalog has no sizes, colours or per-store stock: those fields are
DERIVED here with a fixed seed (documented in the README), so the demo has something
real-shaped to decide on. Run: python scripts/make_demo_catalog.py SHARED_DATA_DIR
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

import yaml

SEED = 20261203
CATEGORIES = ("apparel", "footwear", "accessories", "jewelry")
PER_CATEGORY = 12
STORE_ID = "store-london-01"
OCCURRED_AT = "2026-01-01T00:00:00Z"
SIZES = {"apparel": ["XS", "S", "M", "L", "XL"], "footwear": ["37", "38", "39", "40", "41", "42"]}
COLOURS = ["black", "white", "navy", "beige", "red", "green", "grey"]


def main(shared_data: Path, out: Path) -> None:
    rng = random.Random(SEED)
    products = yaml.safe_load((shared_data / "catalog/aws_retail_demo_store/products.yaml").read_text())
    store_point = json.loads((shared_data / "locations/retail_demo_store_store_location.json").read_text())
    lon, lat = store_point["features"][0]["geometry"]["coordinates"]
    lines = [{
        "event_id": f"demo-store-{STORE_ID}", "type": "store.upserted", "occurred_at": OCCURRED_AT,
        "source": "demo-catalog", "store_id": STORE_ID, "name": "Retail Demo Store London",
        "location": {"lat": round(lat, 6), "lon": round(lon, 6)}, "radius_m": 60,
        "opening_hours": "Mo-Sa 10:00-20:00; Su 12:00-18:00", "time_zone": "Europe/London",
    }]
    for category in CATEGORIES:
        picked = [p for p in products if p.get("category") == category][:PER_CATEGORY]
        for p in picked:
            sizes = SIZES.get(category)
            colours = rng.sample(COLOURS, 2)
            product = {
                "event_id": f"demo-product-{p['id']}", "type": "product.upserted", "occurred_at": OCCURRED_AT,
                "source": "demo-catalog", "product_id": p["id"], "name": p["name"], "category": category,
                "style": p.get("style", ""), "price": float(p["price"]), "currency": "GBP",
                "gender_affinity": p.get("gender_affinity") or "U", "promoted": bool(p.get("promoted", False)),
                "image": p.get("image", ""), "colours": colours, "on_sale": rng.random() < 0.2,
            }
            if sizes:
                product["sizes"] = sizes
            lines.append({k: v for k, v in product.items() if v != ""})
            for where in ("online", STORE_ID):
                for size in sizes or [None]:
                    qty = rng.choice([0, 1, 2, 3, 5, 8]) if where == STORE_ID else rng.choice([0, 4, 10, 25])
                    stock = {"event_id": f"demo-stock-{where}-{p['id']}-{size or 'one'}", "type": "stock.changed",
                             "occurred_at": OCCURRED_AT, "source": "demo-catalog", "store_id": where,
                             "product_id": p["id"], "quantity": qty}
                    if size:
                        stock["size"] = size
                    lines.append(stock)
    out.write_text("".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines), encoding="utf-8")
    print(f"wrote {len(lines)} events to {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(__file__).resolve().parents[1] / "service/data/demo_catalog.ndjson")
