"""Tools (edge): `kairos replay` and `kairos load` — send events through a running Kairos's ingest
path (POST /v1/events), as fast as possible or at a scaled real-time pace, with a progress bar and
a summary.

Files are read and normalised locally (service/tools/files.py, the same normalisers the webhooks
use), so what arrives is exactly what a webhook would have produced. When each event is sent and
with which time (`--speed`, `--rebase-time`) is planned by service/tools/schedule.py: no event
time is ever later than its send.
Geofence transitions are read from Kairos's /metrics before and after; notifications are counted
on the notifications topic when a broker is given (`--kafka-broker`).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from service.tools.api_key import ApiKey, refused
from service.tools.files import FileEvents
from service.tools.schedule import batches, plan


@dataclass
class Summary:
    accepted: int = 0
    duplicates: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    ignored: Counter[str] = field(default_factory=Counter)
    unmapped: Counter[str] = field(default_factory=Counter)
    warnings: Counter[str] = field(default_factory=Counter)
    geofence_transitions: dict[str, float] | None = None
    notifications: int | None = None
    sent: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {"sent": self.sent, "accepted": self.accepted, "duplicates": self.duplicates,
                "rejected": sum(self.rejected.values()), "rejected_reasons": dict(self.rejected.most_common(10)),
                "ignored": sum(self.ignored.values()), "ignored_reasons": dict(self.ignored.most_common(10)),
                "unmapped": sum(self.unmapped.values()), "unmapped_reasons": dict(self.unmapped.most_common(10)),
                "warnings": sum(self.warnings.values()), "warning_reasons": dict(self.warnings.most_common(10)),
                "geofence_transitions": self.geofence_transitions, "notifications": self.notifications}


class KeyRefused(RuntimeError):
    """Kairos answered 401 or 403; the message names the key's source and what to do."""


class Sender:
    """POSTs batches to /v1/events; retries 503 (broker down) and 429 after Retry-After, bounded."""

    def __init__(self, url: str, key: ApiKey, session: aiohttp.ClientSession, attempts: int = 5) -> None:
        self._url = url.rstrip("/")
        self._key = key
        self._headers = {"Authorization": f"Bearer {key.key}", "Content-Type": "application/json"}
        self._session = session
        self._attempts = attempts

    async def send(self, batch: list[dict[str, Any]], summary: Summary) -> None:
        for attempt in range(self._attempts):
            async with self._session.post(self._url + "/v1/events", data=orjson.dumps(batch),
                                          headers=self._headers) as response:
                body = await response.read()
                if response.status in (429, 503) and attempt + 1 < self._attempts:
                    await asyncio.sleep(min(float(response.headers.get("Retry-After", "1")), 10.0))
                    continue
                if response.status in (401, 403):
                    raise KeyRefused(refused(self._url, self._key, response.status))
                if response.status != 202:
                    text = body[:300].decode("utf-8", "replace")
                    raise RuntimeError(f"POST /v1/events answered {response.status}: {text}")
                result = orjson.loads(body)
                summary.sent += len(batch)
                summary.accepted += result["accepted"]
                summary.duplicates += result["duplicates"]
                for item in result["results"]:
                    if item["status"] == "rejected":
                        error = item["errors"][0]
                        summary.rejected[f"{error['pointer']}: {error['reason']}"[:120]] += 1
                return

    async def metric(self, name: str) -> dict[str, float] | None:
        try:
            async with self._session.get(self._url + "/metrics", headers=self._headers) as response:
                if response.status != 200:
                    return None
                text = (await response.read()).decode()
        except aiohttp.ClientError:
            return None
        out: dict[str, float] = {}
        for line in text.splitlines():
            if line.startswith(name + "{"):
                labels, _, value = line.rpartition(" ")
                kind = labels.partition('kind="')[2].partition('"')[0]
                out[kind] = float(value)
        return out


async def notifications_count(bootstrap: str | None, topic: str) -> int | None:
    if not bootstrap:
        return None
    from aiokafka import AIOKafkaConsumer
    from aiokafka.structs import TopicPartition

    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    try:
        await asyncio.wait_for(consumer.start(), 10)
        parts = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        if not parts:
            return 0
        begin, end = await consumer.beginning_offsets(parts), await consumer.end_offsets(parts)
        return int(sum(end[p] - begin[p] for p in parts))
    except (TimeoutError, OSError):
        return None
    finally:
        await consumer.stop()


async def replay(files: list[FileEvents], url: str, key: ApiKey, speed: float | None, rebase: bool,
                 batch_size: int, bootstrap: str | None, notifications_topic: str, console: Console,
                 now_ms: Callable[[], int], settle_s: float = 5.0) -> Summary:
    """Sends the files' events; `now_ms` is the wall clock (event times), pacing runs on a monotonic one."""
    summary = Summary()
    for f in files:
        summary.ignored.update(f.ignored)
        summary.unmapped.update(f.unmapped)
        summary.rejected.update({f"{f.path.name}: {k}": v for k, v in f.rejected.items()})
        summary.warnings.update({f"{f.path.name}: {k}": v for k, v in f.warnings.items()})
    notifications_before = await notifications_count(bootstrap, notifications_topic)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:
        sender = Sender(url, key, session)
        before = await sender.metric("kairos_geofence_transitions_total")
        total = sum(len(f.events) for f in files)
        columns = (TextColumn("[bold]replay"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns, console=console, transient=False) as progress:
            task = progress.add_task("events", total=total)
            # Event times are planned from this instant and sending is paced from the same one, so
            # an event is never stamped later than the moment it goes out.
            started, start_ms = time.monotonic(), now_ms()
            for due_ms, batch in batches(plan([f.events for f in files], start_ms, speed, rebase), batch_size):
                wait = due_ms / 1000 - (time.monotonic() - started)
                if wait > 0:
                    await asyncio.sleep(wait)
                await sender.send(batch, summary)
                progress.advance(task, len(batch))
        summary.geofence_transitions = await _settled(sender, before, settle_s)
    after = await notifications_count(bootstrap, notifications_topic)
    if after is not None and notifications_before is not None:
        summary.notifications = after - notifications_before
    return summary


async def _settled(sender: Sender, before: dict[str, float] | None, settle_s: float) -> dict[str, float] | None:
    """Geofence transitions since the start, once the count stops moving (the stream caught up)."""
    if before is None:
        return None
    deadline, last = time.monotonic() + settle_s, None
    while True:
        await asyncio.sleep(0.5)
        now = await sender.metric("kairos_geofence_transitions_total") or {}
        delta = {k: v - before.get(k, 0.0) for k, v in now.items() if v - before.get(k, 0.0)}
        if delta == last or time.monotonic() > deadline:
            return delta
        last = delta
