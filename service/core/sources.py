"""Core layer: the list block sources — her feed (last seen, scanned, wishlist, back in stock, new
arrivals), bestsellers, themes, the outfit for her order and the store-mode picks."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from service.core import catalog
from service.core.blocks import MAX_CANDIDATES, Fill, personal, themed
from service.core.policy.model import Policy
from service.core.reference import ReferenceData
from service.core.situations.context import Context


@dataclass(frozen=True, slots=True)
class Inputs:
    ctx: Context
    state: Mapping[str, Any]  # the state record, every key present (facts.record)
    ref: ReferenceData
    policy: Policy


def _wishlist(state: Mapping[str, Any]) -> list[tuple[str, str | None]]:
    live = sorted(((r[1], pid, r[0]) for pid, r in state["wishlist"].items() if r[2]), reverse=True)
    return [(pid, size) for _t, pid, size in live]


def _wish_sizes(inp: Inputs) -> list[tuple[str, str | None]]:
    """Wishlist items with the size to check: the size she wished, else hers for the category."""
    return [(pid, size if size is not None else personal(inp.ctx, inp.ref, [pid])[0][1])
            for pid, size in _wishlist(inp.state)]


def last_seen(inp: Inputs, themes: tuple[str, ...]) -> Fill:
    return Fill(personal(inp.ctx, inp.ref, [pid for pid, _t in inp.state["views"]]))


def recently_scanned(inp: Inputs, themes: tuple[str, ...]) -> Fill:
    pids = list(dict.fromkeys(r[0] for r in inp.state["scans"] if r[0] is not None))
    return Fill(personal(inp.ctx, inp.ref, pids))


def wishlist(inp: Inputs, themes: tuple[str, ...]) -> Fill:
    return Fill(_wish_sizes(inp))


def back_in_stock(inp: Inputs, themes: tuple[str, ...]) -> Fill:
    since = inp.ctx.now_ms - inp.policy.ranking.back_in_stock_ms
    back = [(pid, size) for pid, size in _wish_sizes(inp) if catalog.restocked_since(inp.ref, pid, size, since)]
    return Fill(back, empty_reason="no wishlist item restocked recently")


def new_arrivals_for_you(inp: Inputs, themes: tuple[str, ...]) -> Fill:
    ctx = inp.ctx
    since = ctx.now_ms - inp.policy.ranking.new_arrival_ms
    top = set(ctx.affinities.top_categories(3))
    pids = [pid for pid in catalog.new_arrivals(inp.ref, since, ctx.now_ms)
            if not top or inp.ref.products[pid]["category"] in top]
    return Fill(personal(ctx, inp.ref, pids[:MAX_CANDIDATES]), empty_reason="no new arrivals in her categories")


def bestsellers(inp: Inputs, themes: tuple[str, ...]) -> Fill:
    return Fill(personal(inp.ctx, inp.ref, inp.ref.bestseller_ids()[:MAX_CANDIDATES]))


def themes_block(inp: Inputs, themes: tuple[str, ...]) -> Fill:
    return themed(inp.ctx, inp.ref, inp.policy, themes)


def outfit_for_order(inp: Inputs, themes: tuple[str, ...]) -> Fill:
    order = inp.ctx.order
    if order is None:
        return Fill(empty_reason="no order")
    bought = set(order.product_ids)
    pids: list[str] = []
    for pid in order.product_ids:
        product = inp.ref.products.get(pid) or {}
        pids.extend(p for p in product.get("goes_with", ()) if p not in bought)
    return Fill(personal(inp.ctx, inp.ref, list(dict.fromkeys(pids))),
                empty_reason=f"nothing in the catalog goes with order {order.order_id}")


def store_mode_picks(inp: Inputs, themes: tuple[str, ...]) -> Fill:
    """Her wishlist, viewed and scanned items in stock here (in her size), then promoted
    products here, then anything in stock here."""
    store = inp.ctx.store_id
    if store is None:
        return Fill(empty_reason="she is not in a store")
    ctx, ref = inp.ctx, inp.ref
    mine = [*_wish_sizes(inp), *personal(ctx, ref, [pid for pid, _t in inp.state["views"]])]
    mine += personal(ctx, ref, [r[0] for r in inp.state["scans"] if r[0] is not None])
    others = personal(ctx, ref, [*ref.promoted_ids(), *ref.products_in_stock_at(store, MAX_CANDIDATES)])
    return Fill([*mine, *others], where=store, empty_reason=f"nothing in stock at {store}")
