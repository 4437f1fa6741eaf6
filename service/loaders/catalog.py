"""Loaders (pure): the retail demo store catalog (products.yaml, categories.yaml, offers.json) →
product.upserted and stock.changed events, and its offers as incentive data.

The source has ids, names, categories, styles, descriptions, prices, gender affinity and the
promoted flag. It has no sizes, colours, materials, care, GTINs, reviews, arrival dates, outfit
complements or per-store stock: those are DERIVED here, deterministically from (seed, product id)
— the same product gets the same values whatever else is loaded — and every derived field is
listed in the event's `derived`. Rules (docs/INPUT.md, "Catalog generator"):

- sizes by category/style (apparel XS–XL, socks S/M–L/XL, footwear EU 36–41 / 40–46 by gender,
  belts S–L; scarves, bags, glasses, watches and jewelry are one size);
- colours: the palette words the description itself uses, else two seeded palette colours;
- material and care: from the description's material words, else a table per style;
- GTIN-13 per size × colour in the 200–299 "in-store" prefix range (never a real product's
  barcode), valid check digit;
- rating (count 0–250, average 3.2–4.9) and up to three templated reviews;
- arrived_at: 0–120 days before the generation time;
- goes_with: up to four products of complementary styles (jacket → shirt, scarf, boots …) with a
  compatible gender affinity, best seeded score first;
- stock per store and size: 0 with 25 % chance, else 1–8; online: 0 with 10 %, else 5–40;
- currency: the source has none; the demo store is in London, so GBP (listed as derived).
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from service.core import events as ev
from service.core.timeutil import format_rfc3339_ms, parse_rfc3339_ms

SEED = 20261203
SOURCE = "kairos-catalog"
FASHION = ("apparel", "footwear", "accessories", "jewelry")
PALETTE = ("black", "white", "navy", "beige", "red", "green", "grey", "brown", "blue", "pink", "khaki", "mauve",
           "caramel", "tan", "olive", "burgundy", "cream", "silver", "gold")
MATERIALS = {"leather": ("100% leather", "Wipe clean with a damp cloth; condition regularly; keep away from heat."),
             "suede": ("100% suede", "Brush gently; protect with a suede spray; do not wash."),
             "canvas": ("100% cotton canvas", "Spot clean; machine wash cold on a gentle cycle; air dry."),
             "denim": ("98% cotton, 2% elastane", "Machine wash 30 °C inside out; do not tumble dry."),
             "wool": ("100% wool", "Hand wash cold; dry flat; do not wring."),
             "cashmere": ("100% cashmere", "Hand wash cold; dry flat."),
             "silk": ("100% silk", "Dry clean only."),
             "linen": ("100% linen", "Machine wash 40 °C; iron while damp."),
             "cotton": ("100% cotton", "Machine wash 40 °C; tumble dry low."),
             "crochet": ("100% cotton crochet", "Hand wash cold; dry flat."),
             "silver": ("925 sterling silver", "Polish with a soft cloth; store dry."),
             "gold": ("18k gold-plated brass", "Keep away from water and perfume."),
             "steel": ("Stainless steel", "Wipe with a soft dry cloth.")}
STYLE_MATERIAL = {"jacket": "Polyester shell, polyester lining", "shirt": "100% cotton",
                  "socks": "80% cotton, 18% polyamide, 2% elastane", "scarf": "100% acrylic",
                  "formal": "Leather upper, leather sole", "sneaker": "Textile upper, rubber sole",
                  "sandals": "Synthetic straps, rubber sole", "boot": "Leather upper, rubber sole",
                  "backpack": "100% polyester", "bag": "100% polyester", "handbag": "Polyurethane",
                  "belt": "100% leather", "glasses": "Acetate frame, polycarbonate lenses",
                  "watch": "Stainless steel case, leather strap", "bracelet": "925 sterling silver",
                  "necklace": "925 sterling silver", "earrings": "925 sterling silver"}
DEFAULT_CARE = "See the label."
SIZES = {"apparel": ("XS", "S", "M", "L", "XL"), "socks": ("S/M", "L/XL"), "belt": ("S", "M", "L"),
         "footwear-F": ("36", "37", "38", "39", "40", "41"), "footwear-M": ("40", "41", "42", "43", "44", "45", "46"),
         "footwear": ("37", "38", "39", "40", "41", "42", "43", "44")}
ONE_SIZE = frozenset({"scarf", "backpack", "bag", "handbag", "glasses", "watch", "bracelet", "necklace", "earrings"})
GOES_WITH = {"jacket": ("shirt", "scarf", "boot", "sneaker", "backpack"),
             "shirt": ("jacket", "belt", "formal", "watch"),
             "scarf": ("jacket", "boot", "handbag"), "socks": ("sneaker", "boot", "formal"),
             "formal": ("shirt", "belt", "socks", "watch"), "sneaker": ("socks", "jacket", "backpack"),
             "boot": ("jacket", "scarf", "socks"), "sandals": ("bag", "glasses", "bracelet"),
             "backpack": ("jacket", "sneaker"), "bag": ("sandals", "glasses", "necklace"),
             "handbag": ("scarf", "earrings", "formal"), "belt": ("shirt", "formal"), "glasses": ("bag", "sandals"),
             "watch": ("shirt", "bracelet"), "bracelet": ("necklace", "earrings", "watch"),
             "necklace": ("earrings", "bracelet", "handbag"), "earrings": ("necklace", "bracelet", "handbag")}
REVIEWS = (("Love it", "Exactly as pictured and the quality is great.", 5),
           ("Very happy", "Fits well and looks even better in person.", 5),
           ("Good value", "Nice {style} for the price; I would buy it again.", 4),
           ("Nice but runs small", "Lovely {style}, but order a size up.", 4),
           ("Decent", "Does the job; the colour is slightly different from the photo.", 3),
           ("Not for me", "The material felt thinner than I expected.", 2))
ARRIVAL_WINDOW_DAYS = 120
_DAY_MS = 86_400_000


@dataclass
class CatalogLoad:
    events: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    products: int = 0


def _rng(seed: int, *parts: str) -> random.Random:
    return random.Random(":".join((str(seed), *parts)))  # a str seed is stable across runs and hosts


def gtin13(digits12: str) -> str:
    """Appends the GS1 check digit to 12 digits."""
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(digits12))
    return digits12 + str((10 - total % 10) % 10)


def _sizes(product: dict[str, Any]) -> tuple[str, ...]:
    category, style = product["category"], product.get("style") or ""
    if style in ONE_SIZE or category not in ("apparel", "footwear", "accessories"):
        return ()
    if category == "footwear":
        return SIZES.get(f"footwear-{product.get('gender_affinity')}", SIZES["footwear"])
    if style in ("socks", "belt"):
        return SIZES[style]
    return SIZES["apparel"] if category == "apparel" else ()


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z]+", text.lower())


def derive(product: dict[str, Any], occurred_ms: int, seed: int) -> dict[str, Any]:
    """The derived fields of one source product (without goes_with, which needs the whole set)."""
    pid = str(product["id"])
    rng = _rng(seed, pid)
    words = _words(f"{product.get('name', '')} {product.get('description', '')}")
    colours = [c for c in PALETTE if c in words][:3] or rng.sample(PALETTE[:8], 2)
    material_word = next((w for w in MATERIALS if w in words), None)
    style = str(product.get("style") or "")
    if material_word:
        material, care = MATERIALS[material_word]
    else:
        material, care = STYLE_MATERIAL.get(style, "Mixed materials"), DEFAULT_CARE
    sizes = _sizes(product)
    base = int(_rng(seed, pid, "gtin").random() * 10**7)
    gtins = []
    for ci, colour in enumerate(colours):
        for si, size in enumerate(sizes or ("",)):
            digits = f"2{(base + ci * 97 + si) % 10**7:07d}{ci:02d}{si:02d}"
            entry = {"gtin": gtin13(digits), "colour": colour}
            if size:
                entry["size"] = size
            gtins.append(entry)
    count = rng.randint(0, 250)
    average = round(rng.uniform(3.2, 4.9), 1) if count else 0.0
    reviews = []
    for title, body, stars in rng.sample(REVIEWS, min(3, count)):
        reviews.append({"rating": stars, "title": title, "text": body.format(style=style or "piece"),
                        "locale": "en-GB"})
    out: dict[str, Any] = {
        "colours": colours, "material": material, "care": care, "gtins": gtins,
        "rating": {"average": average, "count": count}, "reviews": reviews,
        "arrived_at": format_rfc3339_ms(occurred_ms - rng.randint(0, ARRIVAL_WINDOW_DAYS * _DAY_MS)),
        "on_sale": rng.random() < 0.2,
    }
    if sizes:
        out["sizes"] = list(sizes)
    return out


def _compatible(a: dict[str, Any], b: dict[str, Any]) -> bool:
    ga, gb = a.get("gender_affinity"), b.get("gender_affinity")
    return not ga or not gb or ga == gb


def goes_with(product: dict[str, Any], others: list[dict[str, Any]], seed: int, limit: int = 4) -> list[str]:
    """Outfit complements: products of the styles that go with this one, gender-compatible, seeded order."""
    wanted = GOES_WITH.get(str(product.get("style") or ""), ())
    rng = _rng(seed, str(product["id"]), "goes_with")
    scored = [(wanted.index(str(o.get("style"))), rng.random(), str(o["id"])) for o in others
              if o["id"] != product["id"] and o.get("style") in wanted and _compatible(product, o)]
    picked: list[str] = []
    used_styles: dict[int, int] = {}
    for rank, _score, pid in sorted(scored):
        if used_styles.get(rank, 0) < 2 and len(picked) < limit:  # at most two of one style
            picked.append(pid)
            used_styles[rank] = used_styles.get(rank, 0) + 1
    return picked


def catalog_events(products: Iterable[object], categories: Iterable[object] | None, occurred_at: str,
                   store_ids: list[str], seed: int = SEED, only: tuple[str, ...] | None = FASHION,
                   per_category: int | None = None, currency: str = "GBP") -> CatalogLoad:
    out = CatalogLoad()
    known = {str(c["name"]) for c in categories or () if isinstance(c, dict) and "name" in c} or None
    chosen: list[dict[str, Any]] = []
    taken: dict[str, int] = {}
    for index, item in enumerate(products):
        if not isinstance(item, dict) or not all(k in item for k in ("id", "name", "category", "price")):
            out.problems.append(f"product {index}: needs id, name, category and price")
            continue
        category = str(item["category"])
        if known is not None and category not in known:
            out.problems.append(f"product {item['id']}: category {category!r} is not in categories.yaml")
            continue
        if only is not None and category not in only:
            continue
        if per_category is not None and taken.get(category, 0) >= per_category:
            continue
        taken[category] = taken.get(category, 0) + 1
        chosen.append(item)
    occurred_ms = parse_rfc3339_ms(occurred_at)
    for item in chosen:
        pid = str(item["id"])
        derived = derive(item, occurred_ms, seed)
        derived["goes_with"] = goes_with(item, chosen, seed)
        event: dict[str, Any] = {
            "event_id": f"product-{pid}-{seed}", "type": ev.PRODUCT_UPSERTED, "occurred_at": occurred_at,
            "source": SOURCE, "product_id": pid, "name": str(item["name"])[:256], "category": str(item["category"]),
            "price": float(item["price"]), "currency": currency, "promoted": bool(item.get("promoted", False)),
        }
        for key in ("style", "description", "image"):
            if item.get(key):
                event[key] = str(item[key])[: 4096 if key == "description" else 1024]
        if item.get("gender_affinity"):
            event["gender_affinity"] = str(item["gender_affinity"])[:16]
        event.update(derived)
        event["derived"] = sorted([*derived, "currency"])
        out.events.append(event)
        out.events.extend(_stock(pid, derived.get("sizes") or [None], store_ids, occurred_at, seed))
        out.products += 1
    return out


def _stock(pid: str, sizes: list[str | None], store_ids: list[str], occurred_at: str,
           seed: int) -> list[dict[str, Any]]:
    out = []
    for store in ["online", *store_ids]:
        rng = _rng(seed, pid, "stock", store)
        for size in sizes:
            if store == "online":
                quantity = 0 if rng.random() < 0.1 else rng.randint(5, 40)
            else:
                quantity = 0 if rng.random() < 0.25 else rng.randint(1, 8)
            event = {"event_id": f"stock-{store}-{pid}-{size or 'one'}-{seed}"[:128], "type": ev.STOCK_CHANGED,
                     "occurred_at": occurred_at, "source": SOURCE, "store_id": store, "product_id": pid,
                     "quantity": quantity}
            if size:
                event["size"] = size
            out.append(event)
    return out


def incentives_from_offers(offers: object) -> list[dict[str, Any]]:
    """The demo store's coupon offers as plain incentive data (shape in docs/INPUT.md)."""
    out = []
    for offer in offers if isinstance(offers, list) else []:
        if not isinstance(offer, dict) or "id" not in offer:
            continue
        description = str(offer.get("description") or "")
        percent = re.search(r"(\d+(?:\.\d+)?)\s*%\s*off", description)
        out.append({"incentive_id": f"offer-{offer['id']}", "kind": "discount",
                    "percent_off": float(percent[1]) if percent else None, "description": description,
                    "codes": [str(c) for c in offer.get("codes") or []],
                    "preference": offer.get("preference"), "expires_at": offer.get("expiry"),
                    "source": "aws-samples/retail-demo-store offers.json (MIT-0)"})
    return out
