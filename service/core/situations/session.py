"""Core layer: the device she is on, her other linked devices, and the resume candidate — a
session abandoned on another device within resume_window_ms, with the screen state to continue.

No resume is offered when she ordered after abandoning (the session's goal is met) or when the
abandoned session ended on the device she is on now (the app restores it itself).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from service.core.situations.config import SituationConfig
from service.core.situations.facts import State


@dataclass(frozen=True, slots=True)
class ResumeCandidate:
    session_id: str
    device_id: str
    device_type: str
    ended_at_ms: int
    screen_state: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class DeviceSession:
    device_id: str
    device_type: str
    known_device: bool  # this device was seen before or linked to her
    other_devices: tuple[tuple[str, str | None], ...]  # (device_id, type) of her other devices
    resume: ResumeCandidate | None
    reason: str


def detect_session(
    state: State, request: Mapping[str, Any], cfg: SituationConfig, now_ms: int
) -> DeviceSession:
    device_id, device_type = request["device"]["id"], request["device"]["type"]
    linked = {ident for kind, ident, _t in state["identities"] if kind == "d"}
    known = device_id in state["devices"] or device_id in linked
    others = tuple(
        sorted(
            {(d, row[0]) for d, row in state["devices"].items() if d != device_id}
            | {(d, None) for d in linked if d != device_id and d not in state["devices"]},
            key=lambda p: p[0],
        )
    )
    last_order_ms = max((r[1] for r in state["orders"]), default=None)
    resume: ResumeCandidate | None = None
    why = "no abandoned session with a screen state"
    for sid, dev_id, dev_type, _started, ended, outcome, screen in state["sessions"]:
        if outcome != "abandoned" or screen is None or ended is None or ended > now_ms:
            continue
        if now_ms - ended > cfg.resume_window_ms:
            why = f"abandoned session {sid} ended {(now_ms - ended) // 60_000} min ago: older than the resume window"
        elif dev_id == device_id:
            why = f"abandoned session {sid} was on this device"
        elif last_order_ms is not None and last_order_ms >= ended:
            why = f"abandoned session {sid}: she ordered after it"
        else:
            resume = ResumeCandidate(sid, dev_id, dev_type, ended, screen)
            why = f"session {sid} abandoned on her {dev_type} {(now_ms - ended) // 60_000} min ago"
        break  # the state keeps a screen state on the newest-ended sessions only
    return DeviceSession(device_id, device_type, known, others, resume, why)
