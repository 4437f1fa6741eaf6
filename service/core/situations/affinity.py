"""Core layer: decayed affinities (products, categories, price bands, sale) and her size per category.

Per product she interacted with (state affinity row):
    interest(p) = sum_k weight_k * count_k(p) * 0.5 ** ((now_ms - last_t(p)) / half_life_ms)
with the weights of SituationConfig.affinity_weights (views 1, scans 2, wishlist adds 3, cart
adds 4, ordered units 5, clicks 1). The state keeps one last time per product, so all of a
product's counts decay from its newest interaction. Joined with the catalog:
    category(c) = sum of interest(p) over her products in category c / total interest
    price_band(b), likewise over products in band b (SituationConfig.price_bands)
    sale        = share of interest in products on sale
Each is a share in 0..1; products missing from the catalog count for product interest only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from service.core.reference import ReferenceData
from service.core.situations.config import SituationConfig
from service.core.situations.facts import State
from service.core.state_merge import AFF_LAST

SizeSource = Literal["profile", "order", "wishlist"]


@dataclass(frozen=True, slots=True)
class Affinities:
    products: Mapping[str, float]  # decayed interest per product id
    categories: Mapping[str, float]  # share of interest per category, 0..1
    price_bands: Mapping[str, float]
    sale: float
    total: float

    def top_categories(self, n: int) -> tuple[str, ...]:
        ranked = sorted(self.categories.items(), key=lambda kv: (-kv[1], kv[0]))
        return tuple(c for c, _ in ranked[:n])


EMPTY_AFFINITIES = Affinities({}, {}, {}, 0.0, 0.0)


def price_band(price: float, cfg: SituationConfig) -> str:
    """The last band whose lowest price the price reaches."""
    band = cfg.price_bands[0][1]
    for lowest, name in cfg.price_bands:
        if price >= lowest:
            band = name
    return band


def _shares(raw: Mapping[str, float], total: float) -> dict[str, float]:
    return {k: v / total for k, v in sorted(raw.items())} if total > 0 else {}


def derive_affinities(state: State, ref: ReferenceData, cfg: SituationConfig, now_ms: int) -> Affinities:
    products: dict[str, float] = {}
    categories: dict[str, float] = {}
    bands: dict[str, float] = {}
    sale = 0.0
    for pid, row in state["affinity"].items():
        raw = sum(w * n for w, n in zip(cfg.affinity_weights, row[:AFF_LAST], strict=False))
        age_ms = max(now_ms - row[AFF_LAST], 0)
        interest = raw * 0.5 ** (age_ms / cfg.affinity_half_life_ms)
        if interest <= 0:
            continue
        products[pid] = interest
        product = ref.products.get(pid)
        if product is None:
            continue
        categories[product["category"]] = categories.get(product["category"], 0.0) + interest
        band = price_band(float(product["price"]), cfg)
        bands[band] = bands.get(band, 0.0) + interest
        if product.get("on_sale"):
            sale += interest
    joined = sum(categories.values())
    return Affinities(
        products=products,
        categories=_shares(categories, joined),
        price_bands=_shares(bands, joined),
        sale=sale / joined if joined > 0 else 0.0,
        total=sum(products.values()),
    )


def _category(ref: ReferenceData, pid: str) -> str | None:
    product: Mapping[str, Any] | None = ref.products.get(pid)
    return None if product is None else str(product["category"])


def sizes_by_category(state: State, ref: ReferenceData) -> dict[str, tuple[str, SizeSource]]:
    """Her size per category: profile first, else her newest order line with a size in that
    category, else her newest wishlist line with a size in it."""
    sizes: dict[str, tuple[str, SizeSource]] = {}
    for key, (value, _t) in state["profile"].items():
        if key.startswith("size."):
            sizes[key[5:]] = (str(value), "profile")
    for _oid, _t, _channel, _store, lines in state["orders"]:  # newest order first
        for line in lines:
            cat = _category(ref, line[0])
            if cat is not None and line[1] is not None and cat not in sizes:
                sizes[cat] = (str(line[1]), "order")
    wished = sorted(
        ((r[1], pid, r[0]) for pid, r in state["wishlist"].items() if r[2] and r[0] is not None), reverse=True
    )
    for _t, pid, size in wished:
        cat = _category(ref, pid)
        if cat is not None and cat not in sizes:
            sizes[cat] = (str(size), "wishlist")
    return dict(sorted(sizes.items()))
