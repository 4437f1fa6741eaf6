"""The Forwarder over real loopback sockets: a fake owning worker (aiohttp on 127.0.0.1) that
answers, answers slowly, fails or is not there at all; and the worker in front that forwards."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from multidict import CIMultiDict
from prometheus_client import CollectorRegistry

from service.api.forwarding import FORWARDED_BY, SERVED_BY, Forwarder, Routed
from service.stream.ownership import Owner
from service.telemetry.metrics import build_metrics
from tests.integration.harness import free_port

SELF = "http://front:8080"
TIMEOUT_S = 0.2


@dataclass
class FakeOwnership:
    """Owners by key, as the group assignment would give them."""

    owners: dict[bytes, str | None]
    self_url: str = SELF

    def owner(self, key: bytes) -> Owner:
        url = self.owners[key]
        return Owner(url=url, local=url == self.self_url, partition=0)

    def assignment(self) -> dict[str, list[int]]:
        return {}


@dataclass
class Owner_:
    """The owning worker: records what it was sent."""

    received: list[dict[str, Any]] = field(default_factory=list)

    def app(self) -> web.Application:
        async def decide(request: web.Request) -> web.Response:
            body = await request.read()
            self.received.append({"headers": CIMultiDict(request.headers), "body": body, "path": request.path_qs})
            mode = json.loads(body)["customer_id"] if body else request.match_info.get("customer_id", "")
            if mode == "slow":
                await asyncio.sleep(TIMEOUT_S * 5)
            if mode == "broken":
                return web.json_response({"error": {"code": "internal"}}, status=500)
            if mode == "limited":
                return web.json_response({"error": {"code": "rate_limited"}}, status=429, headers={"Retry-After": "2"})
            return web.json_response({"decision_id": "d-1", "by": "owner"})

        app = web.Application()
        app.router.add_post("/v1/decisions", decide)
        app.router.add_get("/admin/customers/{customer_id}/state", decide)
        return app


@pytest.fixture
async def owner() -> AsyncIterator[tuple[Owner_, str]]:
    fake = Owner_()
    server = TestServer(fake.app(), host="127.0.0.1")
    await server.start_server()
    yield fake, f"http://127.0.0.1:{server.port}"
    await server.close()


async def front(ownership: FakeOwnership) -> tuple[TestClient[Any, Any], Forwarder, Any]:
    """A worker whose handlers ask the Forwarder, then show what it decided."""
    metrics = build_metrics(CollectorRegistry())
    forwarder = Forwarder(ownership, TIMEOUT_S, metrics.decision_forwards)
    await forwarder.start()

    async def handle(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        key = (json.loads(body)["customer_id"] if body else request.match_info["customer_id"]).encode()
        routed: Routed = await forwarder.route(request, body, key)
        if routed.response is not None:
            return routed.response
        return web.json_response({"here": True, "degraded": routed.degraded, "reason": routed.reason})

    app = web.Application()
    app.router.add_post("/v1/decisions", handle)
    app.router.add_get("/admin/customers/{customer_id}/state", handle)
    client: TestClient[Any, Any] = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    return client, forwarder, metrics


def forwards(metrics: Any) -> dict[str, float]:
    return {result: metrics.decision_forwards.labels(result)._value.get()
            for result in ("ok", "unreachable", "timeout", "owner_error")}


async def test_a_request_for_another_workers_customer_is_answered_by_it(owner: tuple[Owner_, str]) -> None:
    fake, url = owner
    client, forwarder, metrics = await front(FakeOwnership({b"anna": url}))
    try:
        body = b'{"customer_id": "anna", "placement": "app.home"}'
        res = await client.post("/v1/decisions", data=body, headers={
            "Authorization": "Bearer kairos_x_y", "Content-Type": "application/json", "X-Request-Id": "r-1",
            "Cookie": "not-passed"})
        assert (res.status, await res.json()) == (200, {"decision_id": "d-1", "by": "owner"})
        assert res.headers[SERVED_BY] == url
        (sent,) = fake.received
        assert sent["body"] == body and sent["path"] == "/v1/decisions"
        assert {k: sent["headers"].get(k) for k in ("Authorization", "X-Request-Id", FORWARDED_BY, "Cookie")} == {
            "Authorization": "Bearer kairos_x_y", "X-Request-Id": "r-1", FORWARDED_BY: SELF, "Cookie": None}
        # A GET (state read) goes to the same path on the owner.
        res = await client.get("/admin/customers/anna/state")
        assert res.status == 200 and fake.received[1]["path"] == "/admin/customers/anna/state"
        # The owner's refusal is the client's answer (with its Retry-After), not a local guess.
        fake_limited = FakeOwnership({b"limited": url})
        client2, forwarder2, _ = await front(fake_limited)
        res = await client2.post("/v1/decisions", data=b'{"customer_id": "limited"}')
        assert (res.status, res.headers["Retry-After"]) == (429, "2")
        await client2.close()
        await forwarder2.close()
        assert forwards(metrics) == {"ok": 2, "unreachable": 0, "timeout": 0, "owner_error": 0}
    finally:
        await client.close()
        await forwarder.close()


@pytest.mark.parametrize(("customer", "result"), [("slow", "timeout"), ("broken", "owner_error"),
                                                  ("gone", "unreachable")])
async def test_an_owner_that_does_not_answer_gives_a_degraded_local_answer(
        owner: tuple[Owner_, str], customer: str, result: str) -> None:
    _, url = owner
    target = f"http://127.0.0.1:{free_port()}" if customer == "gone" else url
    client, forwarder, metrics = await front(FakeOwnership({customer.encode(): target}))
    try:
        res = await client.post("/v1/decisions", data=json.dumps({"customer_id": customer}).encode())
        answer = await res.json()
        assert (res.status, answer["here"], answer["degraded"]) == (200, True, ["owner_unreachable"])
        assert answer["reason"] == {"code": "owner_unreachable", "detail": (
            f"the worker holding this customer's state ({target}) did not answer ({result}, bound 0.2 s); "
            f"answered by {SELF} without her state")}
        assert forwards(metrics)[result] == 1
    finally:
        await client.close()
        await forwarder.close()


async def test_forwarded_requests_are_never_forwarded_again(owner: tuple[Owner_, str]) -> None:
    fake, url = owner
    client, forwarder, _ = await front(FakeOwnership({b"mine": SELF, b"theirs": url, b"nobody": None}))
    try:
        hop = {FORWARDED_BY: "http://other:8080"}
        res = await client.post("/v1/decisions", data=b'{"customer_id": "mine"}', headers=hop)
        assert await res.json() == {"here": True, "degraded": [], "reason": {"code": "forwarded", "detail": (
            "answered by http://front:8080, which holds this customer's state, for http://other:8080")}}
        # The sender's view was stale: answered here, degraded, and not sent on (no loops).
        res = await client.post("/v1/decisions", data=b'{"customer_id": "theirs"}', headers=hop)
        answer = await res.json()
        assert (answer["degraded"], answer["reason"]["code"]) == (["not_owner"], "not_owner")
        assert fake.received == []
        # Local customers are answered here without a hop; unknown owners are said to be unknown.
        res = await client.post("/v1/decisions", data=b'{"customer_id": "mine"}')
        assert await res.json() == {"here": True, "degraded": [], "reason": None}
        res = await client.post("/v1/decisions", data=b'{"customer_id": "nobody"}')
        assert (await res.json())["degraded"] == ["owner_unknown"]
        assert fake.received == []
    finally:
        await client.close()
        await forwarder.close()
