"""Core layer: server-side geofencing — a raw position fix against store fences → enter/exit/dwell.

Fences come from store.upserted reference data: the store's own GeoJSON polygon when it has one,
else a circle of `radius_m` around its location. The geometry (geodesic circles, polygons on a
local projection) is service/core/situations/geo.py's, the same the decision-time presence
detector uses, so the stream and the decision agree on where a fence's edge is.

Rules (GeofencingConfig):
- accuracy gating: a fix less accurate than `max_accuracy_m` changes nothing;
- enter when the fix is inside (signed distance ≤ 0);
- exit only when the fix is clearly outside — farther than `exit_margin_m` *and* than its own
  accuracy radius beyond the boundary (hysteresis: GPS jitter at the edge never flaps);
- dwell once per visit, at the first fix `dwell_after_s` or more after the entry.

Pure: the presence per fence is given (the edge reads it from the customer's state), the fix
carries its own event time; nothing is read from a clock.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from service.core.situations import geo

__all__ = ["Fence", "FenceIndex", "Fix", "GeofencingConfig", "Presence", "Transition", "fences_from_stores",
           "track"]

EARTH_RADIUS_M = 6_371_008.8
_M_PER_DEG_LAT = math.pi * EARTH_RADIUS_M / 180

TransitionKind = Literal["entered", "exited", "dwelled"]


@dataclass(frozen=True, slots=True)
class GeofencingConfig:
    max_accuracy_m: float = 100.0
    exit_margin_m: float = 30.0
    dwell_after_s: float = 300.0


@dataclass(frozen=True, slots=True)
class Fix:
    """A position: degrees, its accuracy radius in metres (None = unknown) and event time (epoch ms)."""

    lat: float
    lon: float
    accuracy_m: float | None
    at_ms: int


@dataclass(frozen=True, slots=True)
class Presence:
    """What the customer's state says about one fence: inside since `entered_at_ms`, dwell reported."""

    inside: bool
    entered_at_ms: int | None = None
    dwelled: bool = False


@dataclass(frozen=True, slots=True)
class Transition:
    kind: TransitionKind
    fence_id: str
    store_id: str
    distance_m: float  # signed: ≤ 0 inside
    dwell_s: float | None = None


@dataclass(frozen=True)
class Fence:
    """One store's fence: its shape (service/core/situations/geo.py, shared with the decision-time
    presence detector, so both agree on where the edge is) and a padded lat/lon bounding box."""

    fence_id: str
    store_id: str
    shape: geo.Fence
    bbox: tuple[float, float, float, float] = field(default=(0.0, 0.0, 0.0, 0.0), compare=False)  # lat/lon min/max

    def signed_distance_m(self, lat: float, lon: float) -> float:
        """Metres from the fence boundary: negative inside, positive outside."""
        return geo.outside_m((lat, lon), self.shape)


def make_fence(store_id: str, lat: float, lon: float, radius_m: float | None,
               ring: Sequence[Sequence[float]] | None, reach_m: float) -> Fence | None:
    """A fence for one store (polygon preferred), or None when it has neither polygon nor radius.

    `ring` is a GeoJSON outer ring ([lon, lat] positions). `reach_m` widens the bounding box used
    to find candidate fences for a fix (exit margin plus the worst accepted accuracy), so a fix
    just outside still reaches the fence for its exit."""
    pad_lat = reach_m / _M_PER_DEG_LAT
    if ring is not None:
        try:
            polygon = geo.polygon_from_geojson({"type": "Polygon", "coordinates": [ring]})
        except (ValueError, TypeError):
            polygon = None  # a degenerate ring: the radius, if any, still makes a fence
        if polygon is not None:
            lats, lons = [p[0] for p in polygon.ring], [p[1] for p in polygon.ring]
            pad_lon = pad_lat / max(math.cos(math.radians(lats[0])), 0.01)
            bbox = (min(lats) - pad_lat, max(lats) + pad_lat, min(lons) - pad_lon, max(lons) + pad_lon)
            return Fence(store_id, store_id, polygon, bbox)
    if radius_m is None or radius_m <= 0:
        return None
    pad = pad_lat + radius_m / _M_PER_DEG_LAT
    pad_lon = pad / max(math.cos(math.radians(lat)), 0.01)
    return Fence(store_id, store_id, geo.Circle((lat, lon), float(radius_m)),
                 (lat - pad, lat + pad, lon - pad_lon, lon + pad_lon))


@dataclass(frozen=True)
class FenceIndex:
    fences: tuple[Fence, ...] = ()

    def near(self, lat: float, lon: float) -> list[Fence]:
        return [f for f in self.fences if f.bbox[0] <= lat <= f.bbox[1] and f.bbox[2] <= lon <= f.bbox[3]]

    def by_id(self) -> dict[str, Fence]:
        return {f.fence_id: f for f in self.fences}


def fences_from_stores(stores: Mapping[str, Mapping[str, Any]], cfg: GeofencingConfig) -> FenceIndex:
    """One fence per store.upserted entry that has a polygon `geofence` or a `radius_m`."""
    reach = cfg.exit_margin_m + cfg.max_accuracy_m
    out: list[Fence] = []
    for store_id, store in sorted(stores.items()):
        loc = store.get("location") or {}
        polygon = store.get("geofence")
        ring = polygon["coordinates"][0] if isinstance(polygon, Mapping) and polygon.get("coordinates") else None
        fence = make_fence(store_id, float(loc.get("lat", 0.0)), float(loc.get("lon", 0.0)), store.get("radius_m"),
                           ring, reach)
        if fence is not None:
            out.append(fence)
    return FenceIndex(tuple(out))


def track(fix: Fix, presence: Mapping[str, Presence], index: FenceIndex, cfg: GeofencingConfig) -> list[Transition]:
    """Transitions this fix causes, given where the customer is (per fence id) before it.

    Fences far from the fix are skipped unless she is inside them (a jump far away still exits)."""
    if fix.accuracy_m is not None and fix.accuracy_m > cfg.max_accuracy_m:
        return []
    accuracy = fix.accuracy_m or 0.0
    candidates = {f.fence_id: f for f in index.near(fix.lat, fix.lon)}
    fences = index.by_id() if any(p.inside for p in presence.values()) else candidates
    out: list[Transition] = []
    for fence_id in sorted(set(candidates) | {fid for fid, p in presence.items() if p.inside and fid in fences}):
        fence = fences[fence_id]
        state = presence.get(fence_id, Presence(False))
        distance = fence.signed_distance_m(fix.lat, fix.lon)
        if not state.inside:
            if distance <= 0:
                out.append(Transition("entered", fence_id, fence.store_id, distance))
            continue
        stayed_s = (fix.at_ms - state.entered_at_ms) / 1000 if state.entered_at_ms is not None else None
        if distance > cfg.exit_margin_m and distance > accuracy:
            out.append(Transition("exited", fence_id, fence.store_id, distance, stayed_s))
        elif (distance <= 0 and not state.dwelled and stayed_s is not None
              and stayed_s >= cfg.dwell_after_s):
            out.append(Transition("dwelled", fence_id, fence.store_id, distance, stayed_s))
    return out
