"""Core layer: the shared reference read model (products, stores, stock, weather) and its updates.

Every record is last-writer-wins by event time: an update replaces the stored one only when
its version (occurred_at_ms, event_id) is greater, so a late, older event never overwrites a
newer one and a redelivered event changes nothing. The event_id breaks exact time ties so the
outcome does not depend on arrival order.

Weather is kept per cell: the location rounded to 0.1 degree (about 11 km north-south),
decimal half away from zero, written "lat,lon" with one decimal (e.g. "51.5,-0.1").
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, NamedTuple

from service.core import events as ev
from service.core.timeutil import parse_rfc3339_ms

Version = tuple[int, str]
"""(occurred_at_ms, event_id): the order in which reference updates win."""

_TENTH = Decimal("0.1")
_ENVELOPE = frozenset({"event_id", "type", "occurred_at", "received_at", "source"})


class StockLevel(NamedTuple):
    quantity: int
    version: Version


def is_newer(incoming: Version, current: Version | None) -> bool:
    """True when an update with version `incoming` must replace the one at `current`."""
    return current is None or incoming > current


def _tenth(degrees: float) -> str:
    # Decimal on the shortest repr rounds what was written (51.55 -> 51.6), not its binary
    # approximation (51.549999...); zero is unsigned so -0.04 and 0.04 share a cell.
    rounded = Decimal(repr(degrees)).quantize(_TENTH, rounding=ROUND_HALF_UP)
    return str(rounded.copy_abs() if rounded.is_zero() else rounded)


def weather_cell(lat: float, lon: float) -> str:
    """Cell key for a location: both coordinates rounded to 0.1 degree, e.g. "51.5,-0.1"."""
    return f"{_tenth(lat)},{_tenth(lon)}"


@dataclass
class ReferenceData:
    """Read model of reference events; mutated in place by apply_reference_event only.

    products / stores / weather hold the event fields without the envelope. stock maps
    product_id -> (store_id, size) -> StockLevel, size "" meaning "no size" (one-size stock).
    """

    products: dict[str, dict[str, Any]] = field(default_factory=dict)
    stores: dict[str, dict[str, Any]] = field(default_factory=dict)
    stock: dict[str, dict[tuple[str, str], StockLevel]] = field(default_factory=dict)
    weather: dict[str, dict[str, Any]] = field(default_factory=dict)
    versions: dict[tuple[str, str], Version] = field(default_factory=dict)
    # product_id -> (store_id, size) -> event time its stock last went from 0 to above 0
    restocked_at: dict[str, dict[tuple[str, str], int]] = field(default_factory=dict)
    # Whether a store is open at epoch ms (True/False), or None when unknown. None here: unknown
    # for every store — decisions treat unknown as allowed and say so. The opening-hours parser
    # (OSM opening_hours) plugs in here.
    open_check: Callable[[Mapping[str, Any], int], bool | None] | None = field(default=None, repr=False)
    _store_products: dict[str, set[str]] = field(default_factory=dict, repr=False)
    _promoted: list[str] | None = field(default=None, repr=False)
    _bestsellers: list[str] | None = field(default=None, repr=False)
    # Orderings of the catalog that decisions ask for on every request (arrivals, theme members),
    # computed once per catalog change: profiled, they were a third of a decision's CPU.
    _catalog_views: dict[object, Any] = field(default_factory=dict, repr=False)
    # Likewise for the stores (nearby-store bounds, the fence index), until a store changes.
    _store_views: dict[object, Any] = field(default_factory=dict, repr=False)
    # catalog.in_stock answers by (product, size, location) until any stock changes: a decision
    # asks ~40 of them, over a few hundred distinct questions in all (bounded, see catalog).
    stock_answers: dict[tuple[str, str | None, str | None], bool] = field(default_factory=dict, repr=False)

    def product_name(self, product_id: str) -> str | None:
        product = self.products.get(product_id)
        return None if product is None else product.get("name")

    def in_stock_anywhere(self, product_id: str) -> bool | None:
        """True/False when any stock is known for the product, None when none is."""
        levels = self.stock.get(product_id)
        if not levels:
            return None
        return any(level.quantity > 0 for level in levels.values())

    def in_stock_at(self, store_id: str, product_id: str, size: str | None = None) -> bool | None:
        """Stock of a product at a store (in `size` when given; one-size stock counts for any
        size). None when nothing is known about that product at that store."""
        levels = self.stock.get(product_id, {})
        known = [
            lvl.quantity
            for (store, sz), lvl in levels.items()
            if store == store_id and (size is None or sz in (size, ""))
        ]
        return any(q > 0 for q in known) if known else None

    def products_in_stock_at(self, store_id: str, limit: int) -> list[str]:
        """Up to `limit` product ids with stock > 0 at the store, smallest id first."""
        return heapq.nsmallest(limit, self._store_products.get(store_id, ()))

    def promoted_ids(self) -> list[str]:
        """Ids of products flagged promoted, smallest first (cached until a product changes)."""
        if self._promoted is None:
            self._promoted = sorted(pid for pid, p in self.products.items() if p.get("promoted"))
        return self._promoted

    def bestseller_ids(self) -> list[str]:
        """Promoted product ids; when none are promoted, every product id, smallest first."""
        if self._bestsellers is None:
            self._bestsellers = self.promoted_ids() or sorted(self.products)
        return self._bestsellers

    def catalog_view(self, key: object, compute: Callable[[ReferenceData], Any]) -> Any:
        """compute(self), cached under `key` until a product changes (compute must depend on
        the products only, and its result must not be mutated by the caller)."""
        try:
            return self._catalog_views[key]
        except KeyError:
            value = self._catalog_views[key] = compute(self)
            return value

    def store_view(self, key: object, compute: Callable[[ReferenceData], Any]) -> Any:
        """compute(self), cached under `key` until a store changes (compute must depend on the
        stores only, and its result must not be mutated by the caller)."""
        try:
            return self._store_views[key]
        except KeyError:
            value = self._store_views[key] = compute(self)
            return value

    def is_open(self, store_id: str, now_ms: int) -> bool | None:
        """Whether the store is open at now_ms; None when unknown (no check plugged in, or the
        check cannot tell)."""
        store = self.stores.get(store_id)
        if store is None or self.open_check is None:
            return None
        return self.open_check(store, now_ms)

    def weather_at(self, lat: float, lon: float) -> dict[str, Any] | None:
        return self.weather.get(weather_cell(lat, lon))

    def forget_rankings(self) -> None:
        """Drop cached product orderings; called when a product changes."""
        self._promoted = self._bestsellers = None
        self._catalog_views.clear()

    def refresh_store_index(self, store_id: str, product_id: str) -> None:
        """Keep products_in_stock_at in step with stock for one (store, product)."""
        stocked = self.in_stock_at(store_id, product_id)
        members = self._store_products.setdefault(store_id, set())
        if stocked:
            members.add(product_id)
        else:
            members.discard(product_id)


def _fields(event: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in event.items() if k not in _ENVELOPE}


def _upsert(
    ref: ReferenceData,
    table: dict[str, dict[str, Any]],
    kind: str,
    key: str,
    event: Mapping[str, Any],
    version: Version,
) -> bool:
    if not is_newer(version, ref.versions.get((kind, key))):
        return False
    ref.versions[(kind, key)] = version
    table[key] = _fields(event)
    return True


def apply_reference_event(ref: ReferenceData, event: Mapping[str, Any]) -> bool:
    """Apply one schema-valid reference event; True when the read model changed.

    Customer events and unknown types return False and change nothing.
    """
    kind = event.get("type")
    if kind not in ev.REFERENCE_EVENT_TYPES:
        return False
    version: Version = (parse_rfc3339_ms(event["occurred_at"]), event["event_id"])
    if kind == ev.PRODUCT_UPSERTED:
        changed = _upsert(ref, ref.products, "product", event["product_id"], event, version)
        if changed:
            ref.forget_rankings()
        return changed
    if kind == ev.STORE_UPSERTED:
        changed = _upsert(ref, ref.stores, "store", event["store_id"], event, version)
        if changed:
            ref._store_views.clear()
        return changed
    if kind == ev.WEATHER_OBSERVED:
        loc = event["location"]
        cell = weather_cell(loc["lat"], loc["lon"])
        return _upsert(ref, ref.weather, "weather", cell, event, version)
    # stock.changed: absolute quantity, last writer by occurred_at wins
    product_id, store_id = event["product_id"], event["store_id"]
    key = (store_id, event.get("size") or "")
    levels = ref.stock.setdefault(product_id, {})
    current = levels.get(key)
    if not is_newer(version, None if current is None else current.version):
        return False
    levels[key] = StockLevel(event["quantity"], version)
    ref.stock_answers.clear()
    if current is not None and current.quantity == 0 and event["quantity"] > 0:
        ref.restocked_at.setdefault(product_id, {})[key] = version[0]
    elif event["quantity"] == 0:
        ref.restocked_at.get(product_id, {}).pop(key, None)
    ref.refresh_store_index(store_id, product_id)
    return True
