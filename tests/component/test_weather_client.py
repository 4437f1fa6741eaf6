"""The Open-Meteo client against a real HTTP server on 127.0.0.1 replaying the recorded responses
(tests/data/weather/openmeteo, VCR.py cassettes), including the recorded 400 and failures."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp import web

from service.adapters.clock import ManualClock
from service.adapters.weather import OpenMeteoClient, WeatherError, poll_weather

CASSETTES = Path(__file__).resolve().parents[1] / "data" / "weather" / "openmeteo"


def recorded(name: str, index: int = 0) -> tuple[int, bytes]:
    interaction = yaml.safe_load((CASSETTES / name).read_text())["interactions"][index]
    return interaction["response"]["status"]["code"], interaction["response"]["body"]["string"].encode()


class FakeOpenMeteo:
    """Answers /v1/forecast by latitude with a recorded response; `script` can queue failures first."""

    def __init__(self) -> None:
        self.by_latitude = {"51.5074": recorded("current_weather_london.yaml"),
                            "40.7128": recorded("current_weather_celsius.yaml"),
                            "200.0000": recorded("error_invalid_coords.yaml")}
        self.script: list[str] = []  # "503" or "hang", consumed one per request
        self.requests: list[dict[str, str]] = []

    async def forecast(self, request: web.Request) -> web.Response:
        self.requests.append(dict(request.query))
        step = self.script.pop(0) if self.script else None
        if step == "503":
            return web.json_response({"error": True, "reason": "busy"}, status=503)
        if step == "hang":
            await asyncio.sleep(1)
        status, body = self.by_latitude[request.query["latitude"]]
        return web.Response(status=status, body=body, content_type="application/json")


@pytest.fixture
async def fake() -> AsyncIterator[tuple[FakeOpenMeteo, str]]:
    server = FakeOpenMeteo()
    app = web.Application()
    app.router.add_get("/v1/forecast", server.forecast)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield server, f"http://127.0.0.1:{port}/v1/forecast"
    await runner.cleanup()


async def test_observation_parsed_and_cached_per_cell_for_the_ttl(fake: tuple[FakeOpenMeteo, str]) -> None:
    server, url = fake
    clock = ManualClock(1_800_000_000_000)
    outcomes: list[str] = []
    async with OpenMeteoClient(url, clock, ttl_s=600, on_outcome=outcomes.append) as client:
        event = await client.observe(51.5074, -0.1278)
        assert (event["condition"], event["temperature_c"], event["occurred_at"]) == (
            "clouds", 9.0, "2025-01-15T17:00:00.000Z")
        assert server.requests[0] == {"latitude": "51.5074", "longitude": "-0.1278",
                                      "current": "temperature_2m,precipitation,weather_code", "timezone": "GMT"}
        # the same 0.1° cell within the TTL: no request
        assert await client.observe(51.5074, -0.1278) == event
        clock.set_ms(clock.now_ms() + 600_000)
        await client.observe(51.5074, -0.1278)
    assert len(server.requests) == 2
    assert outcomes == ["ok", "cached", "ok"]


async def test_recorded_400_is_final_not_retried(fake: tuple[FakeOpenMeteo, str]) -> None:
    server, url = fake
    async with OpenMeteoClient(url, ManualClock(0), retries=3, backoff_s=0.01) as client:
        with pytest.raises(WeatherError) as err:
            await client.observe(200.0, -74.0)
    assert "Latitude must be in range of -90 to 90" in str(err.value) and not err.value.retryable
    assert len(server.requests) == 1


async def test_5xx_and_timeouts_are_retried_with_backoff(fake: tuple[FakeOpenMeteo, str]) -> None:
    server, url = fake
    server.script = ["503", "hang"]
    async with OpenMeteoClient(url, ManualClock(0), timeout_s=0.3, retries=2, backoff_s=0.01) as client:
        event = await client.observe(40.7128, -74.006)
    assert (event["temperature_c"], event["condition"]) == (7.5, "clouds")
    assert len(server.requests) == 3
    server.script = ["503"] * 3
    async with OpenMeteoClient(url, ManualClock(0), retries=2, backoff_s=0.01) as client:
        with pytest.raises(WeatherError) as err:
            await client.observe(40.7128, -74.006)
    assert err.value.retryable and "after 3 attempts (HTTP 503: busy)" in str(err.value)


async def test_latest_never_waits(fake: tuple[FakeOpenMeteo, str]) -> None:
    server, url = fake
    server.script = ["hang"]
    clock = ManualClock(0)
    async with OpenMeteoClient(url, clock, timeout_s=2.0, retries=0) as client:
        assert client.latest(51.5074, -0.1278) is None  # returns at once; the fetch runs behind
        for _ in range(100):
            await asyncio.sleep(0.05)
            if (latest := client.latest(51.5074, -0.1278)) is not None:
                break
        else:
            pytest.fail("no observation after the background refresh")
    assert latest["temperature_c"] == 9.0


async def test_poller_publishes_each_cell_once(fake: tuple[FakeOpenMeteo, str]) -> None:
    _server, url = fake
    published: list[dict[str, Any]] = []
    stop = asyncio.Event()

    async def publish(event: dict[str, Any]) -> None:
        published.append(event)
        if len(published) == 2:
            stop.set()

    async with OpenMeteoClient(url, ManualClock(0)) as client:
        places = [(51.5074, -0.1278), (51.5001, -0.1299), (40.7128, -74.006), (200.0, -74.0)]
        await asyncio.wait_for(poll_weather(client, lambda: places, publish, 0.05, stop), 5)
    assert sorted(json.dumps(e["location"]) for e in published) == [
        '{"lat": 40.7128, "lon": -74.006}', '{"lat": 51.5074, "lon": -0.1278}']
