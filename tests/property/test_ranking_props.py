"""Property tests: the catalog orderings decisions use, computed from per-catalog caches
(ReferenceData.catalog_view), equal the plain definitions, also after products change (the caches
must follow)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from service.core import catalog
from service.core.blocks import MAX_CANDIDATES, themed
from service.core.policy import DEFAULT_POLICY, load_policy
from service.core.policy.model import Theme
from service.core.reference import ReferenceData, apply_reference_event
from service.core.situations.affinity import Affinities
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


def upsert(ref: ReferenceData, pid: str, fields: Mapping[str, Any], t_ms: int) -> None:
    apply_reference_event(ref, ref_event("product.upserted", t_ms, f"{pid}@{t_ms}", product_id=pid,
                                         name=pid, currency="EUR", **fields))


def context(ref: ReferenceData, interest: Mapping[str, float], categories: Mapping[str, float],
            bands: Mapping[str, float], sale: float) -> Context:
    cold = derive_context(None, {"customer_id": "c", "placement": "app.home", "device": {"id": "d", "type": "web"}},
                          ref, POLICY.situations, NOW)
    return dataclasses.replace(cold, affinities=Affinities(dict(interest), dict(categories), dict(bands), sale,
                                                           sum(interest.values())))


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
