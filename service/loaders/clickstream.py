"""Loaders (pure): the retentioneering `ecom` clickstream (CSV) → Kairos app events.

Columns: user_id, session_id, event, timestamp (no zone: read as UTC), platform (mobile → phone,
tablet → tablet, desktop → web), and cohort fields Kairos does not use. Per session:
session.started at its first row (device `<user_id>-<platform>`), session.ended at its last
(`completed` when it holds a purchase, else `abandoned`); `home` → app.opened; `product_view`,
`wishlist_add`, `add_to_cart` → product.viewed / wishlist.added / cart.added; `purchase` →
order.placed (online) of what the session put in the cart. Other screens (catalog, search, cart,
checkout pages, errors …) are counted as ignored; every row of the mapped kinds becomes an event.

The source has no product ids: each product_view is given one from the catalog passed in, chosen
by a seeded hash of (user, session, position), and wishlist/cart rows refer to the session's last
viewed product — DERIVED, so the events have the shape Kairos needs; said in docs/INPUT.md. A
wishlist/cart row before any view in its session, and a purchase with nothing added in its
session, get a product by the same hash. Customers are `<prefix><user_id>`. Event ids are deterministic (re-imports are
duplicates).
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from service.core import events as ev
from service.core.timeutil import format_rfc3339_ms

DEVICE_TYPES = {"mobile": "phone", "tablet": "tablet", "desktop": "web"}
SOURCE = "ecom-clickstream"


@dataclass
class ClickstreamLoad:
    events: list[dict[str, Any]] = field(default_factory=list)
    ignored: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)
    rows: int = 0


def _pick(products: list[tuple[str, float]], *parts: str) -> tuple[str, float]:
    digest = hashlib.blake2b("\x00".join(parts).encode(), digest_size=8).digest()
    return products[int.from_bytes(digest, "big") % len(products)]


def clickstream_events(text: str, products: Iterable[tuple[str, float]], customer_prefix: str = "",
                       currency: str = "GBP") -> ClickstreamLoad:
    """`products` are (product_id, price) to draw viewed products from (e.g. the demo catalog)."""
    catalog = sorted(products)
    out = ClickstreamLoad()
    if not catalog:
        out.problems.append("no products to attribute product views to")
        return out
    sessions: dict[str, list[tuple[int, dict[str, str]]]] = {}
    for line, row in enumerate(csv.DictReader(io.StringIO(text)), start=2):
        out.rows += 1
        if not row.get("user_id") or not row.get("session_id") or not row.get("timestamp"):
            out.problems.append(f"line {line}: needs user_id, session_id and timestamp")
            continue
        if row.get("platform") not in DEVICE_TYPES:
            out.problems.append(f"line {line}: platform {row.get('platform')!r} is not mobile, tablet or desktop")
            continue
        sessions.setdefault(row["session_id"], []).append((line, row))
    for session_id, rows in sessions.items():
        out.events.extend(_session(session_id, rows, catalog, customer_prefix, currency, out))
    return out


def _ms(text: str) -> int:
    return int(dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC).timestamp() * 1000)


def _session(session_id: str, rows: list[tuple[int, dict[str, str]]], catalog: list[tuple[str, float]],
             prefix: str, currency: str, out: ClickstreamLoad) -> list[dict[str, Any]]:
    rows = sorted(rows, key=lambda r: (r[1]["timestamp"], r[0]))
    first = rows[0][1]
    customer = f"{prefix}{first['user_id']}"[:128]
    device = {"id": f"{first['user_id']}-{first['platform']}"[:128], "type": DEVICE_TYPES[first["platform"]]}

    def base(n: int, etype: str, at_ms: int) -> dict[str, Any]:
        return {"event_id": f"ecom-{session_id}-{n}", "type": etype, "occurred_at": format_rfc3339_ms(at_ms),
                "source": SOURCE, "customer_id": customer}

    events = [{**base(0, ev.SESSION_STARTED, _ms(first["timestamp"])), "session_id": session_id, "device": device}]
    last_viewed: tuple[str, float] | None = None
    cart: list[tuple[str, float]] = []
    purchased = False
    for n, (_line, row) in enumerate(rows, start=1):
        at, kind = _ms(row["timestamp"]), row["event"]
        if kind == "home":
            events.append({**base(n, ev.APP_OPENED, at), "device": device})
        elif kind == "product_view":
            last_viewed = _pick(catalog, row["user_id"], session_id, str(n))
            events.append({**base(n, ev.PRODUCT_VIEWED, at), "product_id": last_viewed[0], "device": device})
        elif kind in ("wishlist_add", "add_to_cart"):
            # added from a list page (no product_view before it in the session): derived like a view
            product = last_viewed or _pick(catalog, row["user_id"], session_id, str(n))
            etype = ev.WISHLIST_ADDED if kind == "wishlist_add" else ev.CART_ADDED
            events.append({**base(n, etype, at), "product_id": product[0]})
            if kind == "add_to_cart":
                cart.append(product)
        elif kind == "purchase":
            # nothing added in this session (a cart kept from an earlier visit): one derived product
            bought = cart or [_pick(catalog, row["user_id"], session_id, str(n))]
            lines = [{"product_id": pid, "quantity": 1, "price": price, "currency": currency} for pid, price in bought]
            events.append({**base(n, ev.ORDER_PLACED, at), "order_id": f"ecom-{session_id}-{n}", "channel": "online",
                           "lines": lines[:100]})
            cart, purchased = [], True
        else:
            out.ignored[kind] += 1
    last = rows[-1][1]
    events.append({**base(len(rows) + 1, ev.SESSION_ENDED, _ms(last["timestamp"])), "session_id": session_id,
                   "device": device, "outcome": "completed" if purchased else "abandoned"})
    return events
