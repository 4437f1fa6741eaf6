"""Adapters: the push/email delivery gateway webhook — each notification written to the topic is
also POSTed (JSON, the notification record) to KAIROS_NOTIFY_WEBHOOK_URL, as a convenience: the
topic is the primary output and holds every notification.

Never blocks the stream: `submit` puts the record on a bounded queue (full: dropped and counted)
that a few workers drain. Each POST has a total timeout; connection errors, timeouts, 408, 429
and 5xx are retried with exponential backoff (`retries` times; a Retry-After in seconds is
honoured up to max_backoff_s); any other 4xx is final (rejected). The request carries
`Authorization: Bearer <token>` (from a file) and `Idempotency-Key: <notification_id>`: a
notification written twice after a crash has the same id, so the gateway can drop the copy.
Results are counted per channel: delivered, retried (per retry), rejected, failed (gave up),
dropped (queue full or still queued at shutdown).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

import aiohttp
import orjson

log = logging.getLogger("kairos.notify.gateway")

Result = Callable[[str, str], None]  # (channel, result)


class NotifyGateway:
    def __init__(self, url: str, token: str | None = None, timeout_s: float = 5.0, retries: int = 3,
                 backoff_s: float = 0.5, max_backoff_s: float = 30.0, queue_size: int = 10_000, workers: int = 4,
                 on_result: Result | None = None) -> None:
        self._url = url
        self._headers = {"Content-Type": "application/json", "User-Agent": "kairos-notify/1"}
        if token:
            self._headers["Authorization"] = f"Bearer {token}"
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._retries = retries
        self._backoff_s = backoff_s
        self._max_backoff_s = max_backoff_s
        self._queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=queue_size)
        self._workers = workers
        self._on_result = on_result or (lambda channel, result: None)
        self._tasks: list[asyncio.Task[None]] = []
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(timeout=self._timeout)
        self._tasks = [asyncio.create_task(self._work()) for _ in range(self._workers)]

    def submit(self, notification: dict[str, Any]) -> bool:
        """Queues one notification for delivery; False (counted as dropped) when the queue is full."""
        try:
            self._queue.put_nowait(notification)
        except asyncio.QueueFull:
            self._on_result(str(notification.get("channel")), "dropped")
            log.warning("notification not queued for the gateway: the queue is full (it is on the topic)")
            return False
        return True

    async def drain(self, timeout_s: float) -> bool:
        """Waits until everything queued has been tried (True) or the timeout passes (False)."""
        try:
            await asyncio.wait_for(self._queue.join(), timeout_s)
        except TimeoutError:
            return False
        return True

    async def stop(self, timeout_s: float = 5.0) -> None:
        """Delivers what is queued within timeout_s, then stops (the rest counted as dropped)."""
        await self.drain(timeout_s)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        while not self._queue.empty():
            self._on_result(str(self._queue.get_nowait().get("channel")), "dropped")
        if self._session is not None:
            await self._session.close()

    async def _work(self) -> None:
        while True:
            notification = await self._queue.get()
            try:
                await self.deliver(notification)
            except Exception:  # a defect: the worker must keep draining
                log.exception("notification delivery failed unexpectedly")
            finally:
                self._queue.task_done()

    async def deliver(self, notification: dict[str, Any]) -> str:
        """POSTs one notification with retries; returns and counts the result."""
        assert self._session is not None, "start() first"
        channel = str(notification.get("channel"))
        body = orjson.dumps(notification)
        headers = {**self._headers, "Idempotency-Key": str(notification.get("notification_id"))}
        wait_s = 0.0
        last = "no attempt"
        for attempt in range(self._retries + 1):
            if attempt:
                self._on_result(channel, "retried")
                await asyncio.sleep(min(max(wait_s, self._backoff_s * 2 ** (attempt - 1)), self._max_backoff_s))
            wait_s = 0.0
            try:
                async with self._session.post(self._url, data=body, headers=headers) as response:
                    await response.read()
                    if 200 <= response.status < 300:
                        return self._done(channel, "delivered")
                    last = f"HTTP {response.status}"
                    if response.status not in (408, 429) and response.status < 500:
                        log.warning("the gateway rejected a notification", extra={"status": response.status})
                        return self._done(channel, "rejected")
                    wait_s = _retry_after_s(response.headers.get("Retry-After"))
            except (aiohttp.ClientError, TimeoutError) as exc:
                last = f"{type(exc).__name__}: {exc}"[:200]
        log.warning("the gateway did not take a notification; giving up (it is on the topic)",
                    extra={"attempts": self._retries + 1, "last": last})
        return self._done(channel, "failed")

    def _done(self, channel: str, result: str) -> str:
        self._on_result(channel, result)
        return result


def _retry_after_s(value: str | None) -> float:
    if value is None:
        return 0.0
    try:
        return max(float(value), 0.0)
    except ValueError:
        return 0.0  # an HTTP date: fall back to the backoff
