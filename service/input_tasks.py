"""Composition helpers started by bootstrap: the demo customer's walk into the London store
(`kairos serve --demo`) and the Open-Meteo weather poller (KAIROS_WEATHER). Both feed the same
ingest path as everything else.

The walk: the 13 positions of the retail demo store's customer route (MIT-0,
service/data/demo_walk_route.json), sent as location.updated for customer `anna` one every
KAIROS_DEMO_WALK_INTERVAL_S (3 s), event time = now. Server-side geofencing turns the sixth
position into exactly one geofence.entered for store-london-01 (its polygon); the rest of the
walk stays inside, so there is no exit and no flapping. Before she walks, her profile (English,
London, size M, push consent) and a wishlist item in stock at the London store in M are sent, so
arriving near the store triggers one real wishlist push ("… 360 m away") — unless it is quiet
hours in London (21:00-08:00): then it is held and, a 15-minute message, counted expired.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from service.api.deps import ApiDeps
from service.api.ingest_path import ingest_entries
from service.core.reference import ReferenceData
from service.loaders.routes import route_positions, walk_events
from service.settings import Settings

log = logging.getLogger("kairos.demo")
ROUTE = Path(__file__).resolve().parent / "data" / "demo_walk_route.json"
DEMO_CUSTOMER = "anna"
# Urban Chic Trench Coat: 5 in M at store-london-01, none in M online (service/data/demo_catalog.ndjson).
DEMO_WISH = "da045e5a-9383-482d-956b-8a3b6d705bdc"


def demo_profile(customer_id: str, at: str) -> list[dict[str, Any]]:
    """Her profile and one wished item, sent before the walk (so the walk triggers a push)."""
    return [
        {"event_id": "demo-profile", "type": "profile.updated", "occurred_at": at, "source": "kairos-demo",
         "customer_id": customer_id, "locale": "en-GB", "time_zone": "Europe/London", "sizes": {"apparel": "M"},
         "consent": {"push": True, "email": True}},
        {"event_id": "demo-wish", "type": "wishlist.added", "occurred_at": at, "source": "kairos-demo",
         "customer_id": customer_id, "product_id": DEMO_WISH, "size": "M"},
    ]


async def run_demo_walk(deps: ApiDeps, ready: Callable[[], bool], interval_s: float, announce: Callable[[str], None],
                        route: Path = ROUTE) -> None:
    """Waits for readiness, then walks; each position goes through the ingest path."""
    while not ready():
        await asyncio.sleep(0.2)
    positions = route_positions(orjson.loads(route.read_bytes()))
    start_ms = deps.clock.now_ms()
    events = walk_events(positions, DEMO_CUSTOMER, start_ms, int(interval_s * 1000), id_prefix="demo-walk")
    try:
        await ingest_entries(deps, [(e, None) for e in demo_profile(DEMO_CUSTOMER, _now(deps))], "http")
    except Exception as exc:  # the demo must never take Kairos down
        log.warning("demo profile not sent", extra={"reason": repr(exc)[:200]})
    announce(f"Demo: customer '{DEMO_CUSTOMER}' walks into the London store, one position every {interval_s:g} s "
             f"({len(events)} positions); watch GET /admin/customers/{DEMO_CUSTOMER}/state, her decisions and "
             f"GET /admin/customers/{DEMO_CUSTOMER}/notifications (a wishlist push when she comes near the store)")
    for index, event in enumerate(events):
        # Event time is when the position is sent, as a live app would report it.
        live: dict[str, Any] = {**event, "occurred_at": _now(deps)}
        try:
            await ingest_entries(deps, [(live, None)], "http")
        except Exception as exc:  # the demo must never take Kairos down
            log.warning("demo walk position not sent", extra={"index": index, "reason": repr(exc)[:200]})
        await asyncio.sleep(interval_s)
    announce(f"Demo: the walk is done; '{DEMO_CUSTOMER}' is inside store-london-01")


def start_input_tasks(settings: Settings, deps: ApiDeps, stops: list[Callable[[], Any]], reference: ReferenceData,
                      ready: Callable[[], bool], announce: Callable[[str], None]) -> None:
    """The demo walk (with --demo and the demo catalog) and the weather poller (KAIROS_WEATHER);
    their stop hooks go to `stops` (run at shutdown)."""
    if settings.demo and settings.demo_catalog:
        walk = asyncio.create_task(run_demo_walk(deps, ready, settings.demo_walk_interval_s, announce))
        stops.append(walk.cancel)
    if settings.weather:
        from service.adapters.weather import OpenMeteoClient, poll_weather

        assert deps.webhooks is not None
        outcomes = deps.webhooks.metrics.weather_fetches
        client = OpenMeteoClient(settings.weather_url, deps.clock, settings.weather_timeout_s, settings.weather_retries,
                                 settings.weather_ttl_s, on_outcome=lambda o: outcomes.labels(o).inc())
        stop = asyncio.Event()

        async def publish(event: dict[str, Any]) -> None:
            await ingest_entries(deps, [(event, None)], "reference")

        def places() -> list[tuple[float, float]]:
            return [(s["location"]["lat"], s["location"]["lon"]) for s in reference.stores.values()]

        poller = asyncio.create_task(poll_weather(client, places, publish, settings.weather_ttl_s, stop))
        stops.extend([stop.set, poller.cancel, lambda: asyncio.ensure_future(client.close())])


def _now(deps: ApiDeps) -> str:
    from service.core.timeutil import format_rfc3339_ms

    return format_rfc3339_ms(deps.clock.now_ms())
