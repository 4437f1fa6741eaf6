"""Core layer: the purchase-propensity score that orders items within a block.

    score(p) = w_interest * interest(p) / max interest      her decayed interactions with p
             + w_category * category share of p's category   (service.core.situations.affinity)
             + w_price_band * share of p's price band
             + w_sale * her sale share, if p is on sale
             + w_novelty * (1 - age / new_arrival window), if p arrived within the window
             + w_rating * (average - 3) / 2 * min(count, 20) / 20, if p has a rating (>= 0)
             + w_promoted, if p is promoted
Weights come from the policy's `ranking.weights`; the score is rounded to 4 decimals so equal
inputs give equal bytes. Ties go to the source's own order (e.g. newest view first), then id.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from service.core.catalog import arrived_ms
from service.core.policy.model import Ranking
from service.core.situations.affinity import price_band
from service.core.situations.context import Context


def score(product_id: str, product: Mapping[str, Any] | None, ctx: Context, ranking: Ranking) -> float:
    w = ranking.weights
    aff = ctx.affinities
    top = max(aff.products.values(), default=0.0)
    total = w["interest"] * (aff.products.get(product_id, 0.0) / top if top > 0 else 0.0)
    if product is None:
        return round(total, 4)
    total += w["category"] * aff.categories.get(str(product["category"]), 0.0)
    total += w["price_band"] * aff.price_bands.get(price_band(float(product["price"]), ctx.cfg), 0.0)
    if product.get("on_sale"):
        total += w["sale"] * aff.sale
    arrived = arrived_ms(product)
    if arrived is not None and ranking.new_arrival_ms > 0:
        age = ctx.now_ms - arrived
        if 0 <= age < ranking.new_arrival_ms:
            total += w["novelty"] * (1 - age / ranking.new_arrival_ms)
    rating = product.get("rating")
    if isinstance(rating, Mapping) and rating.get("count"):
        total += w["rating"] * max(float(rating["average"]) - 3, 0.0) / 2 * min(int(rating["count"]), 20) / 20
    if product.get("promoted"):
        total += w["promoted"]
    return round(total, 4)


def rank(ids: Iterable[str], products: Mapping[str, Mapping[str, Any]], ctx: Context, ranking: Ranking
         ) -> list[tuple[str, float]]:
    """(id, score) highest score first; ties keep the given order. Each id once."""
    seen: dict[str, tuple[float, int]] = {}
    for i, pid in enumerate(ids):
        if pid not in seen:
            seen[pid] = (score(pid, products.get(pid), ctx, ranking), i)
    return [(pid, s) for pid, (s, _i) in sorted(seen.items(), key=lambda kv: (-kv[1][0], kv[1][1], kv[0]))]
