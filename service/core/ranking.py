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

What the score needs of each product (category, price band, sale flag, arrival, rating) is read
from the catalog once per catalog change and price-band table (ReferenceData.catalog_view), not
per candidate and decision: profiled, parsing and looking it up was most of a decision's CPU.
The terms are added in the order above, so the floats are the same as computed one by one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from service.core.catalog import arrived_ms
from service.core.policy.model import Ranking
from service.core.reference import ReferenceData
from service.core.situations.affinity import price_band
from service.core.situations.config import SituationConfig
from service.core.situations.context import Context


class ProductTerms(NamedTuple):
    """The product's side of the score."""

    category: str
    band: str
    on_sale: bool
    arrived_ms: int | None
    rated: bool  # has a rating with a non-zero count
    rating_above_3: float  # max(average - 3, 0)
    rating_count: int  # min(count, 20)
    promoted: bool


def product_terms(product: Mapping[str, Any], cfg: SituationConfig) -> ProductTerms:
    rating = product.get("rating")
    rated = isinstance(rating, Mapping) and bool(rating.get("count"))
    return ProductTerms(
        str(product["category"]), price_band(float(product["price"]), cfg), bool(product.get("on_sale")),
        arrived_ms(product), rated,
        max(float(rating["average"]) - 3, 0.0) if rated else 0.0,  # type: ignore[index]
        min(int(rating["count"]), 20) if rated else 0,  # type: ignore[index]
        bool(product.get("promoted")))


def catalog_terms(ref: ReferenceData, cfg: SituationConfig) -> dict[str, ProductTerms]:
    """Every product's terms, cached until a product changes."""
    return ref.catalog_view(("rank", cfg.price_bands),  # type: ignore[no-any-return]
                            lambda r: {pid: product_terms(p, cfg) for pid, p in r.products.items()})


FastTerms = tuple[str, str, bool, "int | None", "float | None", bool]


def _fast_terms(terms: Mapping[str, ProductTerms], w_rating: float) -> dict[str, FastTerms]:
    # rank()'s per-candidate view: a plain tuple (unpacked faster than NamedTuple attributes), with
    # the rating term, which depends only on the product and the weight, worked out once (the
    # same expression as in _score, so the same float).
    return {pid: (t.category, t.band, t.on_sale, t.arrived_ms,
                  w_rating * t.rating_above_3 / 2 * t.rating_count / 20 if t.rated else None, t.promoted)
            for pid, t in terms.items()}


def _score(interest: float, top: float, terms: ProductTerms | None, ctx: Context, ranking: Ranking) -> float:
    w = ranking.weights
    aff = ctx.affinities
    total = w["interest"] * (interest / top if top > 0 else 0.0)
    if terms is None:
        return round(total, 4)
    total += w["category"] * aff.categories.get(terms.category, 0.0)
    total += w["price_band"] * aff.price_bands.get(terms.band, 0.0)
    if terms.on_sale:
        total += w["sale"] * aff.sale
    if terms.arrived_ms is not None and ranking.new_arrival_ms > 0:
        age = ctx.now_ms - terms.arrived_ms
        if 0 <= age < ranking.new_arrival_ms:
            total += w["novelty"] * (1 - age / ranking.new_arrival_ms)
    if terms.rated:
        total += w["rating"] * terms.rating_above_3 / 2 * terms.rating_count / 20
    if terms.promoted:
        total += w["promoted"]
    return round(total, 4)


def score(product_id: str, product: Mapping[str, Any] | None, ctx: Context, ranking: Ranking) -> float:
    """One product's score (rank() computes the same for many at once)."""
    top = max(ctx.affinities.products.values(), default=0.0)
    terms = None if product is None else product_terms(product, ctx.cfg)
    return _score(ctx.affinities.products.get(product_id, 0.0), top, terms, ctx, ranking)


def rank(ids: Iterable[str], ref: ReferenceData, ctx: Context, ranking: Ranking) -> list[tuple[str, float]]:
    """(id, score) highest score first; ties keep the given order. Each id once."""
    return rank_distinct(list(dict.fromkeys(ids)), ref, ctx, ranking)


def rank_distinct(ids: list[str], ref: ReferenceData, ctx: Context, ranking: Ranking) -> list[tuple[str, float]]:
    """rank() of ids that are already distinct (blocks.finish has just de-duplicated them)."""
    # _score inlined, with what is the same for every candidate (weights, her affinity maps, the
    # top interest, the sale and promoted terms) read once per call: profiled, the per-candidate
    # lookups were a fifth of a decision. Each term is the same expression added in the same
    # order as in _score, so the floats are bit-identical.
    aff = ctx.affinities
    interest = aff.products
    top = max(interest.values(), default=0.0)
    w = ranking.weights
    w_interest, w_category, w_band, w_novelty = w["interest"], w["category"], w["price_band"], w["novelty"]
    cfg, w_rating = ctx.cfg, w["rating"]
    terms: dict[str, FastTerms] = ref.catalog_view(
        ("rank-fast", cfg.price_bands, w_rating), lambda r: _fast_terms(catalog_terms(r, cfg), w_rating))
    sale_term, promoted_term = w["sale"] * aff.sale, w["promoted"]
    no_interest = w_interest * 0.0
    categories, bands = aff.categories, aff.price_bands
    window, now_ms = ranking.new_arrival_ms, ctx.now_ms
    scored: list[tuple[float, int, str]] = []
    for i, pid in enumerate(ids):
        total = w_interest * (interest.get(pid, 0.0) / top) if top > 0 else no_interest
        t = terms.get(pid)
        if t is not None:
            category, band, on_sale, arrived, rating_term, promoted = t
            total += w_category * categories.get(category, 0.0)
            total += w_band * bands.get(band, 0.0)
            if on_sale:
                total += sale_term
            if arrived is not None and window > 0:
                age = now_ms - arrived
                if 0 <= age < window:
                    total += w_novelty * (1 - age / window)
            if rating_term is not None:
                total += rating_term
            if promoted:
                total += promoted_term
        scored.append((-round(total, 4), i, pid))
    # The index is unique, so plain tuple order is the (score desc, given order) order.
    scored.sort()
    return [(pid, -neg) for neg, _i, pid in scored]
