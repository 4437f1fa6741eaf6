"""Drives a running Kairos the way the journey's users do: apps post events and ask for decisions
over HTTP, the location provider posts signed Radar webhooks, the test clock is moved between
steps, and the delivery systems read the notifications topic (and the fake gateway)."""

from __future__ import annotations

import hashlib
import hmac
import json
import math
from dataclasses import dataclass, field
from typing import Any

import orjson

from service.core.state import DIGEST_CHARS, event_digest
from service.core.timeutil import format_rfc3339_ms, parse_rfc3339_ms
from tests.integration.harness import Kairos, eventually, http, metric_value
from tests.integration.kafka_tools import read_all

STORE_POINT = {"lat": 51.5215282, "lon": -0.1133287}  # Retail Demo Store London (the demo catalog)
RADAR_GEOFENCE = "5e5055b3b0145e00e8d43a01"  # Radar's id of the store's geofence, mapped to store-london-01


def offset(point: dict[str, float], north_m: float, east_m: float) -> dict[str, float]:
    lat = point["lat"] + north_m / 111_132.0
    lon = point["lon"] + east_m / (111_320.0 * math.cos(math.radians(point["lat"])))
    return {"lat": lat, "lon": lon}


@dataclass
class Driver:
    kairos: Kairos
    bootstrap: str
    topic: str
    radar_token: str
    anna: str = "anna"
    olga: str = "olga"
    now_ms: int = 0
    seq: int = 0
    devices: dict[str, dict[str, str]] = field(default_factory=dict)

    # -- the clock -------------------------------------------------------------------------
    def at(self, when: str) -> None:
        res = http("POST", self.kairos.url + "/admin/clock", json.dumps({"set": when}).encode())
        assert res.status == 200, res.body
        self.now_ms = parse_rfc3339_ms(when)

    @property
    def now(self) -> str:
        return format_rfc3339_ms(self.now_ms)

    # -- apps -------------------------------------------------------------------------------
    def event(self, customer: str, kind: str, **fields: Any) -> dict[str, Any]:
        self.seq += 1
        return {"event_id": f"{customer}-{self.seq}", "type": kind, "occurred_at": fields.pop("at", self.now),
                "source": "app", "customer_id": customer, **fields}

    def post(self, *events: dict[str, Any]) -> None:
        res = self.kairos.post_events(list(events))
        assert res.status == 202, res.body
        body = res.json()
        assert body["accepted"] == len(events), body

    def send(self, customer: str, *events: dict[str, Any]) -> dict[str, Any]:
        """Posts her events and waits until her state holds the last one."""
        self.post(*events)
        return self.synced(customer, events[-1]["event_id"])

    def reference(self, kind: str, **fields: Any) -> None:
        self.seq += 1
        event = {"event_id": f"ref-{self.seq}", "type": kind, "occurred_at": self.now, "source": "commerce",
                 **fields}
        self.post(event)

    def decide(self, customer: str, placement: str, device: str, **extra: Any) -> dict[str, Any]:
        body = {"customer_id": customer, "placement": placement, "device": self.devices[device], **extra}
        res = http("POST", self.kairos.url + "/v1/decisions", json.dumps(body).encode())
        assert res.status == 200, res.body
        decision: dict[str, Any] = res.json()
        return decision

    # -- the location provider -------------------------------------------------------------
    def radar(self, user_id: str, kind: str, where: dict[str, float] | None, radar_id: str) -> None:
        event: dict[str, Any] = {
            "_id": radar_id, "type": f"user.{kind}_geofence", "createdAt": self.now, "actualCreatedAt": self.now,
            "live": True, "confidence": 2, "locationAccuracy": 10,
            "geofence": {"_id": RADAR_GEOFENCE, "tag": "store", "externalId": "london-01",
                         "description": "Retail Demo Store London"},
            "user": {"userId": user_id, "deviceId": f"{user_id}-device"}}
        if where is not None:
            event["location"] = {"type": "Point", "coordinates": [where["lon"], where["lat"]]}
        body = json.dumps({"event": event, "user": event.pop("user")}).encode()
        signature = hmac.new(self.radar_token.encode(), radar_id.encode(), hashlib.sha1).hexdigest()
        res = http("POST", self.kairos.url + "/v1/webhooks/radar", body, api_key=None,
                   headers={"X-Radar-Signing-Id": radar_id, "X-Radar-Signature": signature})
        assert res.status == 202, res.body
        assert res.json()["accepted"] == 1, res.body

    # -- what comes out -------------------------------------------------------------------
    def topic_notifications(self, customer: str) -> list[dict[str, Any]]:
        return [orjson.loads(r.value) for r in read_all(self.bootstrap, self.topic, timeout_s=2.0)
                if r.key == customer.encode()]

    def notifications(self, customer: str, count: int, timeout_s: float = 20.0) -> list[dict[str, Any]]:
        """Her notifications on the topic once there are `count` (never more)."""
        def enough() -> list[dict[str, Any]] | None:
            found = self.topic_notifications(customer)
            return found if len(found) >= count else None

        found: list[dict[str, Any]] = eventually(enough, timeout_s=timeout_s, interval_s=0.2)
        assert len(found) == count, [n["trigger"] for n in found]
        return found

    def funnel(self, kind: str, stage: str) -> float:
        return metric_value(self.kairos.metrics(), "kairos_trigger_funnel_total", kind=kind, stage=stage)

    def outcome(self, kind: str, stage: str, reason: str) -> float:
        return metric_value(self.kairos.metrics(), "kairos_trigger_outcomes_total", kind=kind, stage=stage,
                            reason=reason)

    def funnel_reaches(self, kind: str, stage: str, value: float) -> None:
        eventually(lambda: self.funnel(kind, stage) == value, timeout_s=20, interval_s=0.2)

    def admin(self, customer: str) -> dict[str, Any]:
        res = http("GET", f"{self.kairos.url}/admin/customers/{customer}/notifications")
        assert res.status == 200, res.body
        result: dict[str, Any] = res.json()
        return result

    def state(self, customer: str) -> dict[str, Any]:
        state = self.kairos.state(customer)
        assert state is not None
        return state

    def synced(self, customer: str, event_id: str) -> dict[str, Any]:
        """Her state once the event is in it (its id in her de-dup ring): what the next decision reads."""
        token = event_digest(event_id)

        def seen() -> dict[str, Any] | None:
            state = self.kairos.state(customer)
            ring = "" if state is None else state["seen_ids"]
            hit = any(ring[i:i + DIGEST_CHARS] == token for i in range(0, len(ring), DIGEST_CHARS))
            return state if hit else None

        result: dict[str, Any] = eventually(seen, timeout_s=20, interval_s=0.05)
        return result


def blocks(decision: dict[str, Any]) -> list[str]:
    return [b["id"] for b in decision["blocks"]]


def items(decision: dict[str, Any], block_id: str) -> list[str]:
    for block in decision["blocks"]:
        if block["id"] == block_id:
            return [i["product_id"][:8] for i in block["items"]]
    raise AssertionError(f"no block {block_id} in {blocks(decision)}")


def block(decision: dict[str, Any], block_id: str) -> dict[str, Any]:
    for b in decision["blocks"]:
        if b["id"] == block_id:
            return b
    raise AssertionError(f"no block {block_id} in {blocks(decision)}")


def codes(decision: dict[str, Any], code: str) -> list[str]:
    return [r["detail"] for r in decision["reasons"] if r["code"] == code]
