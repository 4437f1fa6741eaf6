"""Core layer: filling one block — candidates from its source, then the same rules for every list:
never an item already on the screen, only in stock (in her size where known; at this store for
in-store blocks), ranked by the purchase-propensity score, cut at the block's limit.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from service.core import catalog
from service.core.policy.model import BlockSpec, Policy, Theme
from service.core.ranking import rank_distinct
from service.core.reference import ReferenceData
from service.core.situations.context import Context

Reasons = list[tuple[str, str]]
MAX_CANDIDATES = 200  # scored per block at most: bounds the work on a large catalog


@dataclass
class Fill:
    """What a source offers: candidates in its own order, and block-level content."""

    candidates: list[tuple[str, str | None]] = field(default_factory=list)  # (product id, size to stock-check)
    where: str | None = None  # stock location: None = online or any store
    check_stock: bool = True
    extra: dict[str, Any] = field(default_factory=dict)
    empty_reason: str | None = None  # why there is nothing (no product on screen, not in a store…)
    keep_empty: bool = False  # an item-less block (a prompt) that is shown as it is


def _ids(ids: list[str]) -> str:
    shown = ", ".join(ids[:10])
    return shown if len(ids) <= 10 else f"{shown} (+{len(ids) - 10} more)"


def size_for(ctx: Context, ref: ReferenceData, pid: str) -> str | None:
    product = ref.products.get(pid)
    return ctx.size_for(None if product is None else str(product["category"]))


def _categories(ref: ReferenceData) -> dict[str, str]:
    return {pid: str(p["category"]) for pid, p in ref.products.items()}


def personal(ctx: Context, ref: ReferenceData, pids: list[str]) -> list[tuple[str, str | None]]:
    """(pid, her size in its category, if known) for each pid: size_for, for many at once."""
    # Every source asks this for every candidate: the category per product is kept per catalog
    # change, and without any size known for her (most customers) the answer is None throughout.
    sizes = ctx.sizes
    if not sizes:
        return [(pid, None) for pid in pids]
    category: dict[str, str] = ref.catalog_view("categories", _categories)
    out: list[tuple[str, str | None]] = []
    for pid in pids:
        found = sizes.get(category.get(pid))  # type: ignore[arg-type]
        out.append((pid, None if found is None else found[0]))
    return out


def _theme_matches(theme: Theme, product: Mapping[str, Any]) -> bool:
    if theme.categories and product.get("category") not in theme.categories:
        return False
    if theme.styles and product.get("style") not in theme.styles:
        return False
    return theme.on_sale is None or bool(product.get("on_sale")) == theme.on_sale


def _theme_members(ref: ReferenceData, theme: Theme) -> list[str]:
    return [pid for pid, p in sorted(ref.products.items()) if _theme_matches(theme, p)][:MAX_CANDIDATES]


def themed(ctx: Context, ref: ReferenceData, policy: Policy, theme_ids: tuple[str, ...]) -> Fill:
    for tid in theme_ids:
        theme = policy.themes[tid]
        pids: list[str] = ref.catalog_view(("theme", theme.categories, theme.styles, theme.on_sale),
                                           functools.partial(_theme_members, theme=theme))
        if pids:
            return Fill(personal(ctx, ref, pids), extra={"theme": tid})
    return Fill(empty_reason=f"no product matches the themes {', '.join(theme_ids)}")


def finish(spec: BlockSpec, kind: str, limit: int, title: str | None, fill: Fill, ctx: Context, ref: ReferenceData,
           policy: Policy, placed: set[str], reasons: Reasons) -> dict[str, Any] | None:
    """The block, or None (omitted, with a reason) when it has nothing to show."""
    repeated: list[str] = []
    no_stock: list[str] = []
    keep: list[str] = []
    sizes: dict[str, str | None] = {}
    seen: set[str] = set()
    check, at = fill.check_stock, fill.where
    # catalog.in_stock's remembered answers read here directly: most candidates' answer is known,
    # and the call per candidate was a tenth of a themed block's time.
    answers = ref.stock_answers
    for pid, size in fill.candidates[:MAX_CANDIDATES]:
        if pid in seen:
            continue
        seen.add(pid)
        if pid in placed:
            repeated.append(pid)
            continue
        if check:
            stocked = answers.get((pid, size, at))
            if stocked is None:
                stocked = catalog.in_stock(ref, pid, size, at)
            if not stocked:
                no_stock.append(pid if size is None else f"{pid} ({size})")
                continue
        keep.append(pid)
        sizes[pid] = size
    ranked = rank_distinct(keep, ref, ctx, policy.ranking)[:limit]
    # catalog.item() inlined over its per-catalog-change bases (same keys in the same order).
    bases = catalog.item_bases(ref)
    items: list[dict[str, Any]] = []
    for pid, score in ranked:
        base = bases.get(pid)
        out: dict[str, Any] = {"product_id": pid} if base is None else dict(base)
        size = sizes[pid]
        if size is not None:
            out["size"] = size
        out["score"] = score
        items.append(out)
    if repeated:
        reasons.append(("block.deduplicated", f"{spec.id}: already on the screen: {_ids(repeated)}"))
    if no_stock:
        where = "" if fill.where is None else f" at {fill.where}"
        reasons.append(("block.filtered_out_of_stock", f"{spec.id}: not in stock{where}: {_ids(no_stock)}"))
    if not items and not fill.extra and not fill.keep_empty:
        why = fill.empty_reason or "nothing to show"
        reasons.append(("block.omitted", f"{spec.id}: {why}"))
        return None
    placed.update(pid for pid, _ in ranked)
    block: dict[str, Any] = {"id": spec.id, "kind": kind}
    if title is not None:
        block["title"] = title
    block["items"] = items
    block.update(fill.extra)
    return block


Source = Callable[[BlockSpec, Context, ReferenceData, Policy], Fill]
