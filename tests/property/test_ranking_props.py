"""Property tests: the ranking and the catalog orderings decisions use, computed from per-catalog
caches (ReferenceData.catalog_view), equal the documented formulas computed one by one, also after
products change (the caches must follow)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from service.core import catalog
from service.core.blocks import MAX_CANDIDATES, themed
from service.core.policy import DEFAULT_POLICY, load_policy
from service.core.policy.model import Ranking, Theme
from service.core.ranking import rank, score
from service.core.reference import ReferenceData, apply_reference_event
from service.core.situations.affinity import Affinities, price_band
from service.core.situations.context import Context, derive_context
from service.core.timeutil import format_rfc3339_ms, parse_rfc3339_ms
from tests.factories import ref_event

NOW = parse_rfc3339_ms("2026-12-03T19:30:00Z")
DAY = 86_400_000
POLICY = load_policy(DEFAULT_POLICY)
IDS = [f"p{n}" for n in range(12)]
CATEGORIES = ["apparel", "footwear", "accessories"]

product_fields = st.fixed_dictionaries(
    {"category": st.sampled_from(CATEGORIES), "price": st.floats(0, 400, allow_nan=False)},
    optional={
        "on_sale": st.booleans(), "promoted": st.booleans(), "style": st.sampled_from(["coat", "tee"]),
        "arrived_at": st.integers(NOW - 90 * DAY, NOW + DAY).map(format_rfc3339_ms),
        "rating": st.fixed_dictionaries({"average": st.floats(1, 5), "count": st.integers(0, 60)}),
    })
catalogs = st.dictionaries(st.sampled_from(IDS), product_fields, min_size=1)
shares = st.dictionaries(st.sampled_from(CATEGORIES), st.floats(0, 1))
weights = st.fixed_dictionaries({k: st.floats(0, 2) for k in
                                 ("interest", "category", "price_band", "sale", "novelty", "rating", "promoted")})


def reference_score(pid: str, product: Mapping[str, Any] | None, ctx: Context, ranking: Ranking) -> float:
    """The formula of service/core/ranking.py's docstring, term by term, as first written."""
    w, aff = ranking.weights, ctx.affinities
    top = max(aff.products.values(), default=0.0)
    total = w["interest"] * (aff.products.get(pid, 0.0) / top if top > 0 else 0.0)
    if product is None:
        return round(total, 4)
    total += w["category"] * aff.categories.get(str(product["category"]), 0.0)
    total += w["price_band"] * aff.price_bands.get(price_band(float(product["price"]), ctx.cfg), 0.0)
    if product.get("on_sale"):
        total += w["sale"] * aff.sale
    text = product.get("arrived_at")
    arrived = parse_rfc3339_ms(text) if isinstance(text, str) else None
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


def reference_rank(ids: list[str], ref: ReferenceData, ctx: Context, ranking: Ranking) -> list[tuple[str, float]]:
    seen: dict[str, tuple[float, int]] = {}
    for i, pid in enumerate(ids):
        if pid not in seen:
            seen[pid] = (reference_score(pid, ref.products.get(pid), ctx, ranking), i)
    return [(pid, s) for pid, (s, _i) in sorted(seen.items(), key=lambda kv: (-kv[1][0], kv[1][1], kv[0]))]


def upsert(ref: ReferenceData, pid: str, fields: Mapping[str, Any], t_ms: int) -> None:
    apply_reference_event(ref, ref_event("product.upserted", t_ms, f"{pid}@{t_ms}", product_id=pid,
                                         name=pid, currency="EUR", **fields))


def context(ref: ReferenceData, interest: Mapping[str, float], categories: Mapping[str, float],
            bands: Mapping[str, float], sale: float) -> Context:
    cold = derive_context(None, {"customer_id": "c", "placement": "app.home", "device": {"id": "d", "type": "web"}},
                          ref, POLICY.situations, NOW)
    return dataclasses.replace(cold, affinities=Affinities(dict(interest), dict(categories), dict(bands), sale,
                                                           sum(interest.values())))


@given(catalogs, catalogs, st.dictionaries(st.sampled_from(IDS), st.floats(0, 50)), shares,
       st.dictionaries(st.sampled_from(["budget", "mid", "premium"]), st.floats(0, 1)), st.floats(0, 1), weights,
       st.lists(st.sampled_from(IDS), max_size=20))
def test_rank_equals_the_formula_before_and_after_the_catalog_changes(
        first: dict[str, Any], changed: dict[str, Any], interest: dict[str, float], categories: dict[str, float],
        bands: dict[str, float], sale: float, w: dict[str, float], ids: list[str]) -> None:
    ranking = Ranking(w, 30 * DAY, 14 * DAY)
    ref = ReferenceData()
    for pid, fields in first.items():
        upsert(ref, pid, fields, NOW - 10 * DAY)
    ctx = context(ref, interest, categories, bands, sale)
    assert rank(ids, ref, ctx, ranking) == reference_rank(ids, ref, ctx, ranking)
    for pid in ids:
        assert score(pid, ref.products.get(pid), ctx, ranking) == reference_score(pid, ref.products.get(pid), ctx,
                                                                                  ranking)
    for pid, fields in changed.items():  # replaces or adds products: the cached terms must follow
        upsert(ref, pid, fields, NOW - 5 * DAY)
    assert rank(ids, ref, ctx, ranking) == reference_rank(ids, ref, ctx, ranking)


@given(catalogs, catalogs, st.integers(0, 60), st.sampled_from([None, *CATEGORIES]), st.booleans())
def test_new_arrivals_and_theme_members_follow_the_catalog(
        first: dict[str, Any], changed: dict[str, Any], window_days: int, category: str | None,
        store_subset: bool) -> None:
    ref = ReferenceData()
    theme = Theme("t", None, frozenset({category}) if category else frozenset(), frozenset(), None)
    since = NOW - window_days * DAY

    def expected_arrivals() -> list[str]:
        found = []
        for pid, p in ref.products.items():
            text = p.get("arrived_at")
            t = parse_rfc3339_ms(text) if isinstance(text, str) else None
            if t is not None and since < t <= NOW:
                found.append((-t, pid))
        return [pid for _t, pid in sorted(found)]

    def expected_theme() -> list[str]:
        return [pid for pid, p in sorted(ref.products.items())
                if not theme.categories or p["category"] in theme.categories][:MAX_CANDIDATES]

    policy = dataclasses.replace(POLICY, themes={"t": theme})
    for batch, t_ms in ((first, NOW - 10 * DAY), (changed, NOW - 5 * DAY)):
        for pid, fields in batch.items():
            upsert(ref, pid, fields, t_ms)
        assert catalog.new_arrivals(ref, since, NOW) == expected_arrivals()
        subset = IDS[::2] if store_subset else IDS
        assert catalog.new_arrivals(ref, since, NOW, subset) == [p for p in expected_arrivals() if p in subset]
        ctx = context(ref, {}, {}, {}, 0.0)
        fill = themed(ctx, ref, policy, ("t",))
        members = expected_theme()
        assert [pid for pid, _size in fill.candidates] == members
        assert fill.extra == ({"theme": "t"} if members else {})
