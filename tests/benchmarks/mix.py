"""The stated workload: the per-customer event mix, ingest batches and decision requests.

Everything is deterministic (seeded per customer), so two runs send the same events.

Per customer the seed mix is, in event-time order over the last 7 days:
  clickstream  app.opened + session.started + session.ended (10 % abandoned with a small
               screen_state), 8 product views over the 48 demo-catalog products (skewed, so some
               repeat), wishlist.added (50 %), cart.added (40 %), content.clicked (50 %)
  context      3 location.updated fixes; geofence.entered + geofence.exited at the demo store (30 %)
  commerce     order.placed with 1-2 lines (20 %); profile.updated with locale and a size (30 %)
on average 16.5 events per customer.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import orjson

from service.core.timeutil import format_rfc3339_ms

CATALOG = Path(__file__).resolve().parents[2] / "service" / "data" / "demo_catalog.ndjson"
DAY_MS = 86_400_000
DEVICE_TYPES = ("phone", "phone", "phone", "tablet", "web")
MEAN_EVENTS_PER_CUSTOMER = 16.5


@cache
def catalog() -> tuple[tuple[str, ...], str, tuple[float, float]]:
    """(product ids, the demo store's id, its location) from the bundled demo catalog."""
    products: list[str] = []
    store_id, where = "", (0.0, 0.0)
    for line in CATALOG.read_bytes().splitlines():
        if not line.strip():
            continue
        event = orjson.loads(line)
        if event["type"] == "product.upserted":
            products.append(event["product_id"])
        elif event["type"] == "store.upserted":
            store_id, where = event["store_id"], (event["location"]["lat"], event["location"]["lon"])
    return tuple(products), store_id, where


def customer_id(n: int, prefix: str = "c") -> str:
    return f"{prefix}-{n:07d}"


def wall_ms() -> int:
    # The load generator stamps events with real time, like any client would.
    return int(time.time() * 1000)  # noqa: TID251


@dataclass
class Stamp:
    """Unique event ids for one generator process."""

    tag: str
    seq: int = 0

    def next(self) -> str:
        self.seq += 1
        return f"{self.tag}-{self.seq}"


def _event(kind: str, cid: str, t_ms: int, event_id: str, **fields: Any) -> dict[str, Any]:
    return {"event_id": event_id, "type": kind, "occurred_at": format_rfc3339_ms(t_ms), "source": "bench",
            "customer_id": cid, **fields}


def _pick_product(rng: random.Random, products: tuple[str, ...]) -> str:
    # Skewed popularity: low indices are viewed far more often.
    return products[min(int(rng.paretovariate(1.2)) - 1, len(products) - 1)]


def customer_events(n: int, now_ms: int, prefix: str = "c") -> list[dict[str, Any]]:
    """The seed mix for customer n, oldest first, ending shortly before now_ms."""
    rng = random.Random(n)
    products, store_id, (lat, lon) = catalog()
    cid = customer_id(n, prefix)
    device = {"id": f"{cid}-d{rng.randrange(3)}", "type": rng.choice(DEVICE_TYPES)}
    start = now_ms - rng.randrange(1, 7) * DAY_MS
    times = sorted(rng.randrange(start, now_ms - 60_000) for _ in range(24))
    it = iter(times)
    stamp = Stamp(f"{cid}-s")
    out: list[dict[str, Any]] = []

    def add(kind: str, **fields: Any) -> None:
        out.append(_event(kind, cid, next(it), stamp.next(), **fields))

    if rng.random() < 0.3:
        add("profile.updated", locale=rng.choice(["en-GB", "de-DE", "fr-FR"]), sizes={"apparel": rng.choice("SML")})
    add("app.opened", device=device)
    session = f"{cid}-sess{rng.randrange(1000)}"
    add("session.started", session_id=session, device=device)
    for _ in range(3):
        add("location.updated", location={"lat": round(lat + rng.uniform(-0.05, 0.05), 6),
                                          "lon": round(lon + rng.uniform(-0.05, 0.05), 6)},
            accuracy_m=rng.choice([5.0, 12.0, 30.0]))
    viewed = [_pick_product(rng, products) for _ in range(8)]
    for pid in viewed:
        add("product.viewed", product_id=pid, device=device)
    if rng.random() < 0.5:
        add("wishlist.added", product_id=rng.choice(viewed), size=rng.choice("SML"))
    if rng.random() < 0.4:
        add("cart.added", product_id=rng.choice(viewed), size=rng.choice("SML"), quantity=1)
    if rng.random() < 0.3:
        geofence = f"gf-{store_id}"
        add("geofence.entered", geofence_id=geofence, store_id=store_id, confidence=2)
        add("geofence.exited", geofence_id=geofence, store_id=store_id)
    if rng.random() < 0.2:
        lines = [{"product_id": pid, "size": rng.choice("SML"), "quantity": 1, "price": 49.99, "currency": "GBP"}
                 for pid in dict.fromkeys(rng.sample(viewed, rng.randint(1, 2)))]
        add("order.placed", order_id=f"{cid}-o{rng.randrange(10**6)}", channel=rng.choice(["online", "store"]),
            lines=lines)
    if rng.random() < 0.5:
        add("content.clicked", decision_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)), block_id="last_seen",
            product_id=viewed[0])
    abandoned = rng.random() < 0.1
    add("session.ended", session_id=session, device=device, outcome="abandoned" if abandoned else "completed",
        **({"screen_state": {"screen": "checkout", "cart": viewed[:2]}} if abandoned else {}))
    return out


def live_event(rng: random.Random, cid: str, now_ms: int, stamp: Stamp) -> dict[str, Any]:
    """One new event for an existing customer, as an app sends them while she uses it
    (mostly views, some locations, app opens, wishlist and cart adds)."""
    products, _store, (lat, lon) = catalog()
    kind = rng.choices(["product.viewed", "location.updated", "app.opened", "wishlist.added", "cart.added"],
                       [6, 2, 1, 0.5, 0.5])[0]
    fields: dict[str, Any]
    if kind == "location.updated":
        fields = {"location": {"lat": round(lat + rng.uniform(-0.05, 0.05), 6),
                               "lon": round(lon + rng.uniform(-0.05, 0.05), 6)}, "accuracy_m": 12.0}
    elif kind == "app.opened":
        fields = {"device": {"id": f"{cid}-d0", "type": "phone"}}
    elif kind == "product.viewed":
        fields = {"product_id": _pick_product(rng, products)}
    else:
        fields = {"product_id": _pick_product(rng, products), "size": "M"}
    return _event(kind, cid, now_ms, stamp.next(), **fields)


def ingest_bodies(count: int, events: int, customers_per_body: int, population: int, seed: int,
                  prefix: str = "c") -> Iterator[bytes]:
    """POST /v1/events bodies: `events` new events each, spread evenly over `customers_per_body`
    customers drawn from the first `population` customers."""
    rng = random.Random(seed)
    stamp = Stamp(f"live{seed}")
    per = max(events // customers_per_body, 1)
    for _ in range(count):
        now = wall_ms()
        batch: list[dict[str, Any]] = []
        for _c in range(customers_per_body):
            cid = customer_id(rng.randrange(population), prefix)
            batch.extend(live_event(rng, cid, now, stamp) for _ in range(per))
        yield orjson.dumps(batch)


def decision_body(rng: random.Random, population: int, prefix: str = "c") -> bytes:
    """A decision request for a random known customer: placement app.home, device type mixed
    (phone 60 %, tablet 20 %, web 20 %)."""
    cid = customer_id(rng.randrange(population), prefix)
    dtype = rng.choice(DEVICE_TYPES)
    return orjson.dumps({"customer_id": cid, "placement": "app.home", "device": {"id": f"{cid}-d0", "type": dtype}})
