"""Core layer: near a store vs in a store, from geofence events, fixes and the store's own fence.

- in a store: inside its fence (fence_track's hysteresis) for at least min_dwell_ms;
- near a store: her position within approach_radius_m of the store point, or inside a fence
  of the store but not yet for min_dwell_ms (a provider's approach fence, or just arrived);
- a stale entry (arrived more than stale_entry_ms after it occurred) is dropped: the geofence
  row keeps the arrival (received_at) of its latest enter/dwell (state layout, slot 7); a row
  from an older build has none, and its entry is taken as timely. An entry older than the last
  exit never puts her inside: the replay is in event-time order, whatever the arrival order.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal, NamedTuple

from service.core.reference import ReferenceData
from service.core.situations import geo
from service.core.situations.config import SituationConfig
from service.core.situations.facts import Fix, State, fixes, good, position, record
from service.core.situations.fence_track import Evidence, Track, replay

Row = list[Any]


@dataclass(frozen=True, slots=True)
class StoreStatus:
    """One store she is in or near, and why."""

    store_id: str
    status: Literal["in", "near"]
    distance_m: float | None  # from her position to the store point; None without either
    geofence_ids: tuple[str, ...]  # provider fences of this store in her state
    inside_fence: bool
    since_ms: int | None  # start of the current stay inside the fence
    dwell_ms: int | None  # now_ms - since_ms while inside
    last_confirmed_ms: int | None
    reasons: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class StoreSituation:
    in_store: StoreStatus | None
    near: tuple[StoreStatus, ...]  # nearest first (unknown distance last), never the in_store one
    position: Fix | None  # where she is now, if a good recent fix (or the request) says so
    reasons: tuple[str, ...]


def _store_of(geofence_id: str, row: Row, ref: ReferenceData) -> str | None:
    if row[4] is not None:
        return str(row[4])
    return geofence_id if geofence_id in ref.stores else None


def _event_evidence(geofence_id: str, row: Row, cfg: SituationConfig, reasons: list[str]) -> list[Evidence]:
    entered, seen, exited, dwell_s = row[0], row[1], row[2], row[3]
    received = row[6] if len(row) > 6 else None
    out: list[Evidence] = []
    stale = seen is not None and received is not None and received - seen > cfg.stale_entry_ms
    if stale:
        reasons.append(f"stale_entry:{geofence_id}")
    if seen is not None and exited is not None and seen <= exited:
        reasons.append(f"entry_before_exit:{geofence_id}")
    if entered is not None and not (stale and entered == seen):
        out.append(Evidence(entered, "enter"))
    if seen is not None and seen != entered and not stale:
        out.append(Evidence(seen, "dwell", dwell_ms=None if dwell_s is None else int(dwell_s * 1000)))
    if exited is not None:
        out.append(Evidence(exited, "exit"))
    return out


def _fix_evidence(all_fixes: list[Fix], fence: geo.Fence, cfg: SituationConfig) -> list[Evidence]:
    return [
        Evidence(f.t_ms, "fix", side=geo.fence_side(f.point, fence, cfg.exit_margin_m), good=good(f, cfg))
        for f in all_fixes
    ]


def _evaluate(
    store_id: str,
    rows: list[tuple[str, Row]],
    ref: ReferenceData,
    all_fixes: list[Fix],
    here: Fix | None,
    cfg: SituationConfig,
    now_ms: int,
) -> tuple[Track, float | None, list[str]]:
    reasons: list[str] = []
    evidence: list[Evidence] = []
    for gid, row in rows:
        evidence.extend(_event_evidence(gid, row, cfg, reasons))
    store = ref.stores.get(store_id)
    fence = None if store is None else geo.store_fence(store, cfg.store_radius_m)
    if fence is None:
        reasons.append(f"store_fence_unknown:{store_id}")
    else:
        evidence.extend(_fix_evidence(all_fixes, fence, cfg))
    track = replay(evidence, cfg, now_ms)
    if track.how is not None:
        reasons.append(f"{track.how}:{store_id}")
    distance = None
    if here is not None and store is not None and isinstance(store.get("location"), Mapping):
        distance = geo.distance_m(here.point, (store["location"]["lat"], store["location"]["lon"]))
    return track, distance, reasons


class _Reach(NamedTuple):
    """A located store, its own fence, and the latitudes from which the tests below may find her
    near it (a necessary condition, widened a hair so float rounding never excludes a store)."""

    store_id: str
    point: geo.LatLon
    fence: geo.Fence | None
    lat_lo: float
    lat_hi: float


_WIDEN_DEG = 1e-9


def _reaches(ref: ReferenceData, cfg: SituationConfig) -> list[_Reach]:
    out = []
    for store_id, store in sorted(ref.stores.items()):
        loc = store.get("location")
        if not isinstance(loc, Mapping):
            continue
        point = (loc["lat"], loc["lon"])
        fence = geo.store_fence(store, cfg.store_radius_m)
        lo, hi = geo.latitude_reach(point, cfg.approach_radius_m)
        if fence is not None:
            flo, fhi = geo.fence_latitude_reach(fence, cfg.exit_margin_m)
            lo, hi = min(lo, flo), max(hi, fhi)
        out.append(_Reach(store_id, point, fence, lo - _WIDEN_DEG, hi + _WIDEN_DEG))
    return out


def _candidates(
    state: State, ref: ReferenceData, here: Fix | None, cfg: SituationConfig
) -> dict[str, list[tuple[str, Row]]]:
    """Stores worth evaluating: those with a geofence row in her state, and those whose point
    or own fence is close to where she is (cheap latitude tests first: many stores, one her).

    The stores' points, fences and latitude reach are computed once per store change
    (ReferenceData.store_view): profiled on the stream, rebuilding them for 196 stores on every
    location fix was a tenth of the worker's CPU."""
    by_store: dict[str, list[tuple[str, Row]]] = {}
    for gid, row in sorted(state["geofences"].items()):
        store_id = _store_of(gid, row, ref)
        if store_id is not None:
            by_store.setdefault(store_id, []).append((gid, row))
    if here is not None:
        lat = here.point[0]
        key = ("presence", cfg.store_radius_m, cfg.approach_radius_m, cfg.exit_margin_m)
        reaches: list[_Reach] = ref.store_view(key, lambda r: _reaches(r, cfg))
        for s in reaches:
            if not s.lat_lo <= lat <= s.lat_hi or s.store_id in by_store:
                continue
            near = not geo.surely_farther(here.point, s.point, cfg.approach_radius_m)
            fence = s.fence if not near else None
            if near or (fence is not None and not geo.surely_outside(here.point, fence, cfg.exit_margin_m)):
                by_store[s.store_id] = []
    return by_store


def detect_stores(
    state: State | None,
    request: Mapping[str, Any] | None,
    ref: ReferenceData,
    cfg: SituationConfig,
    now_ms: int,
) -> StoreSituation:
    """In which store she is (at most one) and which she is near, at now_ms (epoch ms)."""
    rec = record(state)
    all_fixes = fixes(rec, request, now_ms)
    here = position(all_fixes, cfg, now_ms)
    reasons: list[str] = []
    if not all_fixes:
        reasons.append("no_location")
    elif here is None:
        reasons.append("no_recent_good_fix")
    poor = sum(1 for f in all_fixes if not good(f, cfg))
    if poor:
        reasons.append(f"poor_accuracy_fixes_ignored:{poor}")
    inside: list[StoreStatus] = []
    near: list[StoreStatus] = []
    for store_id, rows in _candidates(rec, ref, here, cfg).items():
        track, distance, why = _evaluate(store_id, rows, ref, all_fixes, here, cfg, now_ms)
        dwell = None if track.since_ms is None else now_ms - track.since_ms
        status: Literal["in", "near"] | None = None
        if dwell is not None and dwell >= cfg.min_dwell_ms:
            status = "in"
            why.append(f"dwell_reached:{store_id}")
        elif dwell is not None:
            status = "near"
            why.append(f"dwell_below_threshold:{store_id}")
        elif distance is not None and distance <= cfg.approach_radius_m:
            status = "near"
            why.append(f"within_approach_radius:{store_id}")
        reasons.extend(why)
        if status is None:
            continue
        found = StoreStatus(
            store_id,
            status,
            distance,
            tuple(gid for gid, _ in rows),
            track.inside,
            track.since_ms,
            dwell,
            track.last_confirmed_ms,
            tuple(why),
        )
        (inside if status == "in" else near).append(found)
    # Overlapping fences (shops in a mall): the latest confirmed stay, then the nearest store.
    inside.sort(key=lambda s: (-(s.last_confirmed_ms or 0), s.distance_m is None, s.distance_m or 0.0, s.store_id))
    in_store = inside[0] if inside else None
    if in_store is not None:
        reasons.append(f"in_store:{in_store.store_id}")
    # A second store whose fence she is in (adjacent shops in a mall): near, not in.
    near.extend(
        replace(s, status="near", reasons=(*s.reasons, f"inside_another_store:{s.store_id}")) for s in inside[1:]
    )
    near.sort(key=lambda s: (s.distance_m is None, s.distance_m or 0.0, s.store_id))
    reasons.extend(f"near_store:{s.store_id}" for s in near)
    return StoreSituation(in_store, tuple(near), here, tuple(reasons))
