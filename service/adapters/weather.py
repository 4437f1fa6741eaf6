"""Adapters: the Open-Meteo current-weather client, a cache per grid cell, and the poller that
publishes weather.observed reference events for every store's cell.

Never on a decision's path: decisions read the last observation from the reference read model
(weather.observed carries its own occurred_at, so its age is known). `latest()` answers from the
cache at once and refreshes a stale cell in the background; `observe()` is the awaited fetch.

A request has a total timeout; connection errors, timeouts, 429 and 5xx are retried with
exponential backoff (`retries` times, 0.2 s, 0.4 s, … by default); any other 4xx (Open-Meteo says
why in `reason`) is final. One fetch per cell at a time, however many callers ask.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson

from service.adapters.clock import Clock
from service.core.reference import weather_cell
from service.loaders.weather import WeatherParseError, from_open_meteo

log = logging.getLogger("kairos.weather")
CURRENT = "temperature_2m,precipitation,weather_code"


class WeatherError(RuntimeError):
    """No observation could be had; `retryable` says whether trying later may help."""

    def __init__(self, message: str, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


@dataclass
class _Cached:
    event: dict[str, Any]
    fetched_ms: int


class OpenMeteoClient:
    def __init__(self, url: str, clock: Clock, timeout_s: float = 3.0, retries: int = 2, ttl_s: float = 900.0,
                 backoff_s: float = 0.2, on_outcome: Callable[[str], None] | None = None) -> None:
        self._url = url
        self._clock = clock
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._retries = retries
        self._ttl_ms = int(ttl_s * 1000)
        self._backoff_s = backoff_s
        self._on_outcome = on_outcome or (lambda outcome: None)
        self._cache: dict[str, _Cached] = {}
        self._inflight: dict[str, asyncio.Task[dict[str, Any]]] = {}
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> OpenMeteoClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        for task in self._inflight.values():
            task.cancel()
        if self._session is not None:
            await self._session.close()

    def latest(self, lat: float, lon: float) -> dict[str, Any] | None:
        """The cell's last observation at once (None before the first); a stale cell is refreshed
        in the background."""
        cell = weather_cell(lat, lon)
        cached = self._cache.get(cell)
        if cached is None or self._clock.now_ms() - cached.fetched_ms >= self._ttl_ms:
            self._refresh(cell, lat, lon)
        return None if cached is None else cached.event

    async def observe(self, lat: float, lon: float) -> dict[str, Any]:
        """The cell's observation: from the cache within the TTL, else fetched (raises WeatherError)."""
        cell = weather_cell(lat, lon)
        cached = self._cache.get(cell)
        if cached is not None and self._clock.now_ms() - cached.fetched_ms < self._ttl_ms:
            self._on_outcome("cached")
            return cached.event
        return await asyncio.shield(self._refresh(cell, lat, lon))

    def _refresh(self, cell: str, lat: float, lon: float) -> asyncio.Task[dict[str, Any]]:
        task = self._inflight.get(cell)
        if task is None or task.done():
            task = asyncio.ensure_future(self._fetch(cell, lat, lon))
            self._inflight[cell] = task
            task.add_done_callback(lambda t: t.cancelled() or t.exception())  # never "never retrieved"
        return task

    async def _fetch(self, cell: str, lat: float, lon: float) -> dict[str, Any]:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        params = {"latitude": f"{lat:.4f}", "longitude": f"{lon:.4f}", "current": CURRENT, "timezone": "GMT"}
        last = "no attempt"
        for attempt in range(self._retries + 1):
            if attempt:
                await asyncio.sleep(self._backoff_s * 2 ** (attempt - 1))
            try:
                async with self._session.get(self._url, params=params) as response:
                    raw = await response.read()
                    if response.status == 200:
                        event = from_open_meteo(orjson.loads(raw), lat, lon)
                        self._cache[cell] = _Cached(event, self._clock.now_ms())
                        self._on_outcome("ok")
                        return event
                    last = f"HTTP {response.status}: {_reason(raw)}"
                    if response.status != 429 and response.status < 500:
                        self._on_outcome("error")
                        raise WeatherError(f"Open-Meteo refused {lat:.4f},{lon:.4f}: {last}", retryable=False)
            except (aiohttp.ClientError, TimeoutError) as exc:
                last = f"{type(exc).__name__}: {exc}"[:200]
            except (orjson.JSONDecodeError, WeatherParseError, ValueError) as exc:
                self._on_outcome("error")
                raise WeatherError(f"Open-Meteo answered something that is not a current-weather response: {exc}",
                                   retryable=False) from None
        self._on_outcome("error")
        raise WeatherError(f"Open-Meteo did not answer after {self._retries + 1} attempts ({last})", retryable=True)


def _reason(raw: bytes) -> str:
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return raw[:120].decode("utf-8", "replace")
    return str(body.get("reason", body))[:200] if isinstance(body, dict) else str(body)[:200]


async def poll_weather(client: OpenMeteoClient, places: Callable[[], Iterable[tuple[float, float]]],
                       publish: Callable[[dict[str, Any]], Awaitable[None]], every_s: float,
                       stop: asyncio.Event) -> None:
    """Every `every_s`: one observation per distinct cell of `places()`, each published once."""
    published: set[str] = set()
    while not stop.is_set():
        cells: dict[str, tuple[float, float]] = {}
        for lat, lon in places():
            cells.setdefault(weather_cell(lat, lon), (lat, lon))
        for lat, lon in cells.values():
            try:
                event = await client.observe(lat, lon)
            except WeatherError as exc:
                log.warning("weather not observed", extra={"reason": str(exc)[:300]})
                continue
            if event["event_id"] not in published:
                await publish(event)
                if len(published) > 100_000:  # bounded: an id repeats only within one TTL anyway
                    published.clear()
                published.add(event["event_id"])
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every_s)
