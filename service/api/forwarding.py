"""Scale-out (API layer): a request about a customer whose state another worker owns is forwarded
to that worker, once, within a bounded time; if it does not answer, it is answered here, marked
degraded — never a silent cold start because her state lives elsewhere.

Workers learn each other's URLs from the group assignment (service/stream/ownership.py): each
advertises `KAIROS_ADVERTISED_URL` as faust's canonical_url, which faust's partition assignor
shares with every member. A forwarded request carries `X-Kairos-Forwarded-By` and is never
forwarded again (one hop at most, no loops while two workers disagree during a rebalance).
"""

from __future__ import annotations

import asyncio
import logging
import socket
from dataclasses import dataclass, field
from typing import Protocol

import aiohttp
from aiohttp import web
from prometheus_client import Counter

from service.settings import Settings
from service.stream.ownership import Owner

log = logging.getLogger("kairos.forwarding")

FORWARDED_BY = "X-Kairos-Forwarded-By"
SERVED_BY = "X-Kairos-Served-By"
# Request headers the owner needs to answer as this worker would (auth, tracing, body type).
PASSED_HEADERS = ("Authorization", "Content-Type", "X-Request-Id")
RESULTS = ("ok", "unreachable", "timeout", "owner_error")


class OwnershipLike(Protocol):
    self_url: str

    def owner(self, key: bytes) -> Owner: ...

    def assignment(self) -> dict[str, list[int]]: ...


@dataclass
class Routed:
    """What to do with a request: `response` is the owner's answer (return it as is); otherwise
    answer here, adding `degraded` to the degraded reasons and `reason` to the reasons."""

    response: web.Response | None = None
    degraded: list[str] = field(default_factory=list)
    reason: dict[str, str] | None = None


LOCAL = Routed()


def advertised_url(settings: Settings, hostname: str | None = None) -> str:
    """The URL other workers reach this one at: KAIROS_ADVERTISED_URL, else the listen address
    (the host name when listening on every address)."""
    if settings.advertised_url:
        return settings.advertised_url.rstrip("/")
    host = settings.host
    if host in {"", "0.0.0.0", "::"}:
        host = hostname or socket.gethostname()
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{settings.port}"


class Forwarder:
    def __init__(self, ownership: OwnershipLike, timeout_s: float, forwards: Counter) -> None:
        self._ownership = ownership
        self._timeout_s = timeout_s
        self._forwards = forwards
        self._session: aiohttp.ClientSession | None = None
        self._failing: set[str] = set()

    @property
    def self_url(self) -> str:
        return self._ownership.self_url

    def assignment(self) -> dict[str, list[int]]:
        return self._ownership.assignment()

    async def start(self) -> None:
        # Keep-alive connections to the other workers: a forwarded decision costs one round trip.
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=self._timeout_s),
            connector=aiohttp.TCPConnector(limit=256, ttl_dns_cache=30),
            auto_decompress=False, skip_auto_headers=("User-Agent",))

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def route(self, request: web.Request, body: bytes, key: bytes) -> Routed:
        """Where a request about `key` is answered: here, or by the owner (then its response)."""
        owner = self._ownership.owner(key)
        forwarded_by = request.headers.get(FORWARDED_BY)
        if forwarded_by is not None:
            if owner.local:
                return Routed(reason={"code": "forwarded", "detail": _clip(
                    f"answered by {self.self_url}, which holds this customer's state, for {forwarded_by}")})
            # The sender's view of the group is older than ours: answer, but say so (no 2nd hop).
            return Routed(degraded=["not_owner"], reason={"code": "not_owner", "detail": _clip(
                f"forwarded here by {forwarded_by} while the group was rebalancing; this worker does "
                "not hold this customer's state")})
        if owner.local:
            return LOCAL
        if owner.url is None:
            return Routed(degraded=["owner_unknown"], reason={"code": "owner_unknown", "detail": (
                "no worker of the group holds this customer's state right now (the group is rebalancing)")})
        return await self._forward(request, body, owner.url)

    async def _forward(self, request: web.Request, body: bytes, url: str) -> Routed:
        assert self._session is not None, "Forwarder.start() was not awaited"
        headers = {name: request.headers[name] for name in PASSED_HEADERS if name in request.headers}
        headers[FORWARDED_BY] = self.self_url
        result = "unreachable"
        try:
            async with self._session.request(request.method, url + request.rel_url.path_qs, data=body or None,
                                             headers=headers) as resp:
                payload = await resp.read()
                if resp.status < 500:
                    self._forwards.labels("ok").inc()
                    self._recovered(url)
                    out = {SERVED_BY: url, "Content-Type": resp.headers.get("Content-Type", "application/json")}
                    if "Retry-After" in resp.headers:
                        out["Retry-After"] = resp.headers["Retry-After"]
                    return Routed(response=web.Response(body=payload, status=resp.status, headers=out))
                result = "owner_error"
        except TimeoutError:
            result = "timeout"
        except (aiohttp.ClientError, OSError):
            result = "unreachable"
        self._forwards.labels(result).inc()
        self._failed(url, result)
        return Routed(degraded=["owner_unreachable"], reason={"code": "owner_unreachable", "detail": _clip(
            f"the worker holding this customer's state ({url}) did not answer ({result}, bound "
            f"{self._timeout_s:g} s); answered by {self.self_url} without her state")})

    def _failed(self, url: str, result: str) -> None:
        # One line when an owner starts failing, one when it answers again: not one per request.
        if url not in self._failing:
            self._failing.add(url)
            log.warning("a worker that owns customer state does not answer; its customers get degraded "
                        "decisions here", extra={"owner": url, "result": result})

    def _recovered(self, url: str) -> None:
        if url in self._failing:
            self._failing.discard(url)
            log.info("the owning worker answers again", extra={"owner": url})


def _clip(text: str, limit: int = 512) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


async def close_quietly(forwarder: Forwarder | None) -> None:
    if forwarder is not None:
        try:
            await asyncio.wait_for(forwarder.close(), 2.0)
        except Exception:  # shutting down: nothing left to do about it
            log.debug("forwarder session did not close cleanly")

