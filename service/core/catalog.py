"""Core layer: catalog and stock questions decisions ask — in stock (in a size, somewhere or at one
store), restocked, new arrival, store distances — over the reference read model.

Stock semantics: a size is in stock at a location when its level there is above 0; one-size
stock (no size) counts for any size. Nothing known about a product's stock is "not in stock":
decisions show only what she can buy.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

from service.core.reference import ReferenceData
from service.core.timeutil import parse_rfc3339_ms

ONLINE = "online"


MAX_STOCK_ANSWERS = 65_536  # sizes come from customers' events: bound the remembered answers


def in_stock(ref: ReferenceData, product_id: str, size: str | None, where: str | None = None) -> bool:
    """In stock in `size` (any size when None) online or at any store, or only at `where`."""
    # Remembered until the stock changes (apply_reference_event clears them): profiled, a
    # decision asked ~40 times over the same few hundred questions.
    answers = ref.stock_answers
    key = (product_id, size, where)
    found = answers.get(key)
    if found is None:
        if len(answers) >= MAX_STOCK_ANSWERS:
            answers.clear()
        found = answers[key] = _in_stock(ref, product_id, size, where)
    return found


def _in_stock(ref: ReferenceData, product_id: str, size: str | None, where: str | None) -> bool:
    levels = ref.stock.get(product_id)
    if not levels:
        return False
    for (store, sz), level in levels.items():
        if where is not None and store != where:
            continue
        if level.quantity > 0 and (size is None or sz == size or sz == ""):
            return True
    return False


def stock_by_size(ref: ReferenceData, product_id: str, where: str) -> dict[str, int]:
    """size -> quantity at one location ("" for one-size stock)."""
    return {sz: lvl.quantity for (store, sz), lvl in ref.stock.get(product_id, {}).items() if store == where}


def stores_with(ref: ReferenceData, product_id: str, size: str | None) -> list[str]:
    """Physical stores (not online) with the product in stock in `size`, by id."""
    found = {store for (store, sz), lvl in ref.stock.get(product_id, {}).items()
             if store != ONLINE and lvl.quantity > 0 and (size is None or sz in (size, ""))}
    return sorted(found)


def restocked_since(ref: ReferenceData, product_id: str, size: str | None, since_ms: int) -> int | None:
    """Newest time at or after since_ms its stock (in `size`, anywhere) went from 0 to above 0."""
    times = [t for (_store, sz), t in ref.restocked_at.get(product_id, {}).items()
             if t >= since_ms and (size is None or sz in (size, ""))]
    return max(times) if times else None


@lru_cache(maxsize=65_536)
def _arrival_ms(text: str) -> int | None:
    # Ranking asks for every candidate's arrival on every decision: parsed once per text.
    try:
        return parse_rfc3339_ms(text)
    except ValueError:
        return None


def arrived_ms(product: Mapping[str, Any]) -> int | None:
    text = product.get("arrived_at")
    return _arrival_ms(text) if isinstance(text, str) else None


def _arrivals(ref: ReferenceData) -> list[tuple[int, str]]:
    found = []
    for pid, product in ref.products.items():
        t = arrived_ms(product)
        if t is not None:
            found.append((-t, pid))
    return sorted(found)


def new_arrivals(ref: ReferenceData, since_ms: int, now_ms: int, products: Iterable[str] | None = None) -> list[str]:
    """Products that arrived in (since_ms, now_ms], newest first then by id."""
    if products is None:
        # The whole catalog by arrival, newest first, kept until a product changes.
        ordered: list[tuple[int, str]] = ref.catalog_view("arrivals", _arrivals)
        return [pid for t, pid in ordered if since_ms < -t <= now_ms]
    found = []
    for pid in products:
        product = ref.products.get(pid)
        t = None if product is None else arrived_ms(product)
        if t is not None and since_ms < t <= now_ms:
            found.append((-t, pid))
    return [pid for _t, pid in sorted(found)]


def _item_bases(ref: ReferenceData) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for pid, product in ref.products.items():
        base: dict[str, Any] = {"product_id": pid, "name": str(product["name"])[:256], "price": product["price"],
                                "currency": product["currency"]}
        if product.get("image"):
            base["image"] = product["image"]
        if product.get("on_sale"):
            base["on_sale"] = True
        out[pid] = base
    return out


def item_bases(ref: ReferenceData) -> dict[str, dict[str, Any]]:
    """product id -> the catalog's part of its block item (kept per catalog change; copy, never change)."""
    return ref.catalog_view("items", _item_bases)  # type: ignore[no-any-return]


def item(ref: ReferenceData, product_id: str, score: float | None = None, size: str | None = None
         ) -> dict[str, Any]:
    """A block item: product id, and what the catalog says about it."""
    # The catalog's part of every item is built once per catalog change and copied (never shared:
    # the caller owns the item); keys stay in the same order as built field by field.
    base = item_bases(ref).get(product_id)
    out: dict[str, Any] = {"product_id": product_id} if base is None else dict(base)
    if size is not None:
        out["size"] = size
    if score is not None:
        out["score"] = score
    return out
