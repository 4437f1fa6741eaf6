"""Core layer: block sources about one product (details, variants, nearby stock, what goes with
it), the store recommendation, the resume banner and the scan prompt.

Stores "nearby" are those within SituationConfig.area_store_radius_m of where she is (else her
usual area), nearest first; distances are geodesics in whole metres.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from service.core import catalog
from service.core.blocks import Fill, personal
from service.core.situations import geo
from service.core.sources import Inputs
from service.core.timeutil import format_rfc3339_ms

MAX_REVIEWS = 3
MAX_STORES = 5


def _product(inp: Inputs) -> tuple[str, Mapping[str, Any]] | None:
    focus = inp.ctx.product
    product = None if focus is None else inp.ref.products.get(focus.product_id)
    return None if focus is None or product is None else (focus.product_id, product)


def _origin(inp: Inputs) -> tuple[float, float] | None:
    here = inp.ctx.stores.position
    return here.point if here is not None else inp.ctx.channel.usual_area


def _nearby_stores(inp: Inputs, exclude: str | None) -> list[tuple[float | None, str]]:
    origin = _origin(inp)
    out: list[tuple[float | None, str]] = []
    radius = inp.ctx.cfg.area_store_radius_m
    for sid, store in sorted(inp.ref.stores.items()):
        loc = store.get("location")
        if sid == exclude or not isinstance(loc, Mapping):
            continue
        if origin is None:
            out.append((None, sid))
            continue
        point = (loc["lat"], loc["lon"])
        if geo.surely_farther(origin, point, radius):
            continue
        d = geo.distance_m(origin, point)
        if d <= radius:
            out.append((d, sid))
    out.sort(key=lambda x: (x[0] is None, x[0] or 0.0, x[1]))
    return out


def _store_entry(inp: Inputs, sid: str, distance: float | None) -> dict[str, Any]:
    store = inp.ref.stores[sid]
    entry: dict[str, Any] = {"store_id": sid, "name": str(store["name"])[:256]}
    if distance is not None:
        entry["distance_m"] = round(distance)
    return entry


def product_details(inp: Inputs, themes: tuple[str, ...]) -> Fill:
    found = _product(inp)
    if found is None:
        return Fill(empty_reason="no known product on the screen")
    pid, product = found
    language = inp.ctx.facts["language"]
    reviews = sorted(product.get("reviews", ()), key=lambda r: (r.get("locale", "")[:2] != language, -r["rating"]))
    details: dict[str, Any] = {k: product[k] for k in ("material", "care", "rating") if k in product}
    details["reviews"] = [dict(r) for r in reviews[:MAX_REVIEWS]]
    # The product on screen is shown whatever its stock: she is looking at it (or holding it).
    return Fill([(pid, None)], check_stock=False, extra={"details": details})


def other_colours_sizes(inp: Inputs, themes: tuple[str, ...]) -> Fill:
    found = _product(inp)
    if found is None:
        return Fill(empty_reason="no known product on the screen")
    pid, product = found
    here = inp.ctx.store_id
    nearby = _nearby_stores(inp, here)
    sizes = list(product.get("sizes") or sorted({sz for (_s, sz) in inp.ref.stock.get(pid, {}) if sz}))
    rows = []
    for size in sizes:
        row: dict[str, Any] = {"size": size, "online": catalog.in_stock(inp.ref, pid, size, catalog.ONLINE)}
        if here is not None:
            row["here"] = catalog.in_stock(inp.ref, pid, size, here)
        with_stock = set(catalog.stores_with(inp.ref, pid, size))
        row["stores"] = [_store_entry(inp, sid, d) for d, sid in nearby if sid in with_stock][:MAX_STORES]
        rows.append(row)
    variants = {"colours": list(product.get("colours", ())), "sizes": rows}
    return Fill([], extra={"variants": variants})


def nearby_availability(inp: Inputs, themes: tuple[str, ...]) -> Fill:
    found = _product(inp)
    if found is None:
        return Fill(empty_reason="no known product on the screen")
    pid, product = found
    size = inp.ctx.size_for(str(product["category"]))
    with_stock = set(catalog.stores_with(inp.ref, pid, size))
    stores = [_store_entry(inp, sid, d) for d, sid in _nearby_stores(inp, None) if sid in with_stock][:MAX_STORES]
    if not stores:
        return Fill(empty_reason=f"no store nearby has {pid} in stock" + ("" if size is None else f" in {size}"))
    return Fill([], extra={"stores": stores})


def _goes_with(inp: Inputs, where: str | None) -> Fill:
    found = _product(inp)
    if found is None:
        return Fill(empty_reason="no known product on the screen")
    pid, product = found
    matches = [p for p in product.get("goes_with", ()) if p != pid]
    if not matches:
        return Fill(empty_reason=f"the catalog names nothing that goes with {pid}")
    return Fill(personal(inp.ctx, inp.ref, matches), where=where)


def goes_with_in_store(inp: Inputs, themes: tuple[str, ...]) -> Fill:
    """What goes with the product, in stock in THIS store in her size."""
    if inp.ctx.store_id is None:
        return Fill(empty_reason="she is not in a store")
    return _goes_with(inp, inp.ctx.store_id)


def goes_with(inp: Inputs, themes: tuple[str, ...]) -> Fill:
    return _goes_with(inp, None)


def store_recommendation(inp: Inputs, themes: tuple[str, ...]) -> Fill:
    """The nearest store to where she is (else her usual area) that is not known to be closed,
    with its new arrivals in her categories, in stock there in her size."""
    ctx, ref = inp.ctx, inp.ref
    if _origin(inp) is None:
        return Fill(empty_reason="neither her position nor her usual area is known")
    for distance, sid in _nearby_stores(inp, None):
        open_now = ref.is_open(sid, ctx.now_ms)
        if open_now is False:
            continue
        entry = _store_entry(inp, sid, distance)
        entry["open_now"] = open_now  # None: opening hours unknown — recommended anyway
        since = ctx.now_ms - inp.policy.ranking.new_arrival_ms
        top = set(ctx.affinities.top_categories(3))
        arrivals = [p for p in catalog.new_arrivals(ref, since, ctx.now_ms, ref.products_in_stock_at(sid, 500))
                    if not top or ref.products[p]["category"] in top]
        return Fill(personal(ctx, ref, arrivals), where=sid, extra={"store": entry})
    return Fill(empty_reason=f"no open store within {ctx.cfg.area_store_radius_m:.0f} m")


def resume_session(inp: Inputs, themes: tuple[str, ...]) -> Fill:
    resume = inp.ctx.session.resume
    if resume is None:
        return Fill(empty_reason=inp.ctx.session.reason)
    return Fill([], extra={"resume": {
        "session_id": resume.session_id, "device_type": resume.device_type,
        "ended_at": format_rfc3339_ms(resume.ended_at_ms), "screen_state": dict(resume.screen_state)}})


def scan_prompt(inp: Inputs, themes: tuple[str, ...]) -> Fill:
    return Fill([], keep_empty=True)
