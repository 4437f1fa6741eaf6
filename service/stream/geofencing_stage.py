"""Stream layer: server-side geofencing on the customer stream — a newly applied raw position
(location.updated) against the stores' fences gives the same geofence events a provider would.

Thin glue around the pure core (service/core/geofencing.py): presence comes from the customer's
own state (the geofence rows these events write), the fences from the store reference data.
The derived events have ids computed from the position's event id, so a redelivered position
(already in her state: a duplicate, never re-applied) derives nothing, and a re-derived event
after a crash is a duplicate by id.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from service.core import events as ev
from service.core.geofencing import FenceIndex, Fix, GeofencingConfig, Presence, Transition, fences_from_stores, track
from service.core.reference import ReferenceData
from service.core.timeutil import parse_rfc3339_ms
from service.telemetry.input_metrics import InputMetrics

SOURCE = "kairos-geofencing"
_TYPES = {"entered": ev.GEOFENCE_ENTERED, "exited": ev.GEOFENCE_EXITED, "dwelled": ev.GEOFENCE_DWELLED}


class GeofencingStage:
    def __init__(self, reference: ReferenceData, cfg: GeofencingConfig, metrics: InputMetrics | None = None) -> None:
        self._reference = reference
        self._cfg = cfg
        self._metrics = metrics

    def fences(self) -> FenceIndex:
        """The fence index, rebuilt when a store was added or replaced."""
        return self._indexed()[0]

    def _indexed(self) -> tuple[FenceIndex, frozenset[str]]:
        # Kept by the reference data until a store changes: with 196 stores, checking every
        # store for a change and collecting the fence ids cost ~10 µs per location fix.
        def build(ref: ReferenceData) -> tuple[FenceIndex, frozenset[str]]:
            index = fences_from_stores(ref.stores, self._cfg)
            return index, frozenset(f.fence_id for f in index.fences)

        indexed: tuple[FenceIndex, frozenset[str]] = self._reference.store_view(("geofencing", self._cfg), build)
        return indexed

    def __call__(self, state: Mapping[str, Any], event: Mapping[str, Any]) -> list[dict[str, Any]]:
        if event.get("type") != ev.LOCATION_UPDATED:
            return []
        at_ms = parse_rfc3339_ms(event["occurred_at"])
        newest = state.get("locations") or []
        if newest and newest[0][0] > at_ms:
            return []  # an older fix arriving late does not move her
        index, ids = self._indexed()
        if not index.fences:
            return []
        presence = {gid: _presence(row) for gid, row in (state.get("geofences") or {}).items() if gid in ids}
        loc = event["location"]
        fix = Fix(float(loc["lat"]), float(loc["lon"]), event.get("accuracy_m"), at_ms)
        out = [_event(t, event) for t in track(fix, presence, index, self._cfg)]
        if self._metrics is not None:
            for derived in out:
                self._metrics.geofence_transitions.labels(derived["type"].rpartition(".")[2]).inc()
        return out


def _presence(row: list[Any]) -> Presence:
    entered, seen, exited = row[0], row[1], row[2]
    inside = seen is not None and (exited is None or seen > exited)
    # Only this stage writes these rows: a dwell moved last_seen past the entry.
    return Presence(inside, entered, inside and entered is not None and seen > entered)


def _event(transition: Transition, position: Mapping[str, Any]) -> dict[str, Any]:
    digest = hashlib.blake2b(f"{position['event_id']}\x00{transition.fence_id}\x00{transition.kind}".encode(),
                             digest_size=12).hexdigest()
    derived: dict[str, Any] = {
        "event_id": f"geo-{transition.kind}-{digest}", "type": _TYPES[transition.kind],
        "occurred_at": position["occurred_at"], "source": SOURCE, "customer_id": position["customer_id"],
        "geofence_id": transition.fence_id, "store_id": transition.store_id, "tag": "store",
        "location": dict(position["location"]),
    }
    if transition.dwell_s is not None:
        derived["dwell_s"] = round(transition.dwell_s, 3)
    if "received_at" in position:
        derived["received_at"] = position["received_at"]
    return derived
