"""Core layer: geodesic distances and store fences (circle or polygon) — the one module using geopy.

Distances are WGS-84 geodesics (geopy, Karney's algorithm). Polygon edges are measured in a
local equirectangular projection centred on the point: for store-sized fences (well under
10 km) its error is far below GPS accuracy, and geopy has no point-to-segment distance.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from geopy.distance import geodesic

LatLon = tuple[float, float]
"""(latitude, longitude) in degrees."""

FenceSide = Literal["in", "band", "out"]

# The shortest meridian degree (at the equator): a latitude gap of d degrees is at least
# d * this many metres apart, which makes a cheap, never-wrong "too far" test.
_MIN_METRES_PER_DEG_LAT = 110_574.0
_METRES_PER_DEG = 111_320.0  # equatorial degree, for the local projection only
_FAR_M = 10_000.0  # the local projection is used up to this distance from a polygon's edge


def distance_m(a: LatLon, b: LatLon) -> float:
    """Geodesic distance in metres between two (lat, lon) points on the WGS-84 ellipsoid."""
    return float(geodesic(a, b).meters)


def surely_farther(a: LatLon, b: LatLon, limit_m: float) -> bool:
    """True when a and b are certainly more than limit_m apart (latitude gap alone); False
    means "maybe not": measure with distance_m. Saves the geodesic for far-away stores."""
    return abs(a[0] - b[0]) * _MIN_METRES_PER_DEG_LAT > limit_m


def latitude_reach(p: LatLon, limit_m: float) -> tuple[float, float]:
    """The latitudes of the points for which surely_farther(point, p, limit_m) is False."""
    gap = limit_m / _MIN_METRES_PER_DEG_LAT
    return p[0] - gap, p[0] + gap


def roughly_within(a: LatLon, b: LatLon, limit_m: float) -> bool:
    """False when a and b are certainly more than limit_m apart (a flat-earth bound with 1 %
    margin: far below the geodesic's error at the distances it screens); True means "maybe"."""
    if surely_farther(a, b, limit_m):
        return False
    dlon = (a[1] - b[1] + 180.0) % 360.0 - 180.0  # the short way round, across the antimeridian too
    dx = dlon * _METRES_PER_DEG * math.cos(math.radians((a[0] + b[0]) / 2))
    dy = (a[0] - b[0]) * _METRES_PER_DEG
    return math.hypot(dx, dy) <= limit_m * 1.01 + 1.0


@dataclass(frozen=True, slots=True)
class Circle:
    center: LatLon
    radius_m: float


@dataclass(frozen=True, slots=True)
class Polygon:
    """A simple polygon: one outer ring of (lat, lon) vertices, not closed, no holes."""

    ring: tuple[LatLon, ...]


Fence = Circle | Polygon


def polygon_from_geojson(geometry: Mapping[str, Any]) -> Polygon:
    """A Polygon from a GeoJSON Polygon geometry ([lon, lat] pairs; holes are ignored)."""
    if geometry.get("type") != "Polygon" or not geometry.get("coordinates"):
        raise ValueError("expected a GeoJSON Polygon geometry")
    ring = [(float(lat), float(lon)) for lon, lat, *_ in geometry["coordinates"][0]]
    if len(ring) > 1 and ring[0] == ring[-1]:
        ring.pop()
    if len(ring) < 3:
        raise ValueError("a polygon needs at least 3 distinct vertices")
    return Polygon(tuple(ring))


def store_fence(store: Mapping[str, Any], default_radius_m: float) -> Fence | None:
    """The store's own fence: its GeoJSON `geofence` polygon when it has one, else a circle of
    `radius_m` (or default_radius_m) around its location; None without a location."""
    geometry = store.get("geofence")
    if isinstance(geometry, Mapping) and geometry.get("type") == "Polygon":
        try:
            return polygon_from_geojson(geometry)
        except (ValueError, TypeError):
            pass  # a degenerate ring (schema-valid: 4 equal points): fall back to the circle
    loc = store.get("location")
    if not isinstance(loc, Mapping):
        return None
    radius = store.get("radius_m")
    return Circle((loc["lat"], loc["lon"]), float(radius) if radius else default_radius_m)


def _inside_ring(p: LatLon, ring: tuple[LatLon, ...]) -> bool:
    # Even-odd ray casting along the latitude axis; fine for fences that do not span the
    # antimeridian or a pole, which no store does.
    lat, lon = p
    inside = False
    j = len(ring) - 1
    for i in range(len(ring)):
        (ai, oi), (aj, oj) = ring[i], ring[j]
        if (ai > lat) != (aj > lat) and lon < (oj - oi) * (lat - ai) / (aj - ai) + oi:
            inside = not inside
        j = i
    return inside


def _edge_distance_m(p: LatLon, ring: tuple[LatLon, ...]) -> float:
    kx = _METRES_PER_DEG * math.cos(math.radians(p[0]))
    ky = _METRES_PER_DEG
    pts = [((lon - p[1]) * kx, (lat - p[0]) * ky) for lat, lon in ring]
    best = math.inf
    for i, (x1, y1) in enumerate(pts):
        x2, y2 = pts[(i + 1) % len(pts)]
        dx, dy = x2 - x1, y2 - y1
        span = dx * dx + dy * dy
        t = 0.0 if span == 0 else max(0.0, min(1.0, -(x1 * dx + y1 * dy) / span))
        best = min(best, math.hypot(x1 + t * dx, y1 + t * dy))
    return best


def outside_m(p: LatLon, fence: Fence) -> float:
    """Signed metres from the fence edge: > 0 outside by that much, <= 0 inside (its depth)."""
    if isinstance(fence, Circle):
        return distance_m(p, fence.center) - fence.radius_m
    edge = _edge_distance_m(p, fence.ring)
    if edge > _FAR_M:
        # Far beyond the fence the local projection's error grows with distance (London seen
        # from Helsinki: -7 %): the nearest vertex, measured geodesically, is within a fence's
        # size of the right answer instead.
        return min(distance_m(p, vertex) for vertex in fence.ring)
    return -edge if _inside_ring(p, fence.ring) else edge


def surely_outside(p: LatLon, fence: Fence, margin_m: float) -> bool:
    """True when p is certainly more than margin_m beyond the fence (latitude test only)."""
    return _surely_out(p, fence, margin_m)


def _surely_out(p: LatLon, fence: Fence, margin_m: float) -> bool:
    if isinstance(fence, Circle):
        return surely_farther(p, fence.center, fence.radius_m + margin_m)
    gap_deg = margin_m / _MIN_METRES_PER_DEG_LAT
    lats = [lat for lat, _ in fence.ring]
    return p[0] < min(lats) - gap_deg or p[0] > max(lats) + gap_deg


def fence_latitude_reach(fence: Fence, margin_m: float) -> tuple[float, float]:
    """The latitudes of the points for which surely_outside(point, fence, margin_m) is False."""
    if isinstance(fence, Circle):
        return latitude_reach(fence.center, fence.radius_m + margin_m)
    gap_deg = margin_m / _MIN_METRES_PER_DEG_LAT
    lats = [lat for lat, _ in fence.ring]
    return min(lats) - gap_deg, max(lats) + gap_deg


def fence_side(p: LatLon, fence: Fence, margin_m: float) -> FenceSide:
    """"in" inside the fence, "band" outside but within margin_m of its edge, "out" beyond."""
    if _surely_out(p, fence, margin_m):
        return "out"
    beyond = outside_m(p, fence)
    return "in" if beyond <= 0 else "band" if beyond <= margin_m else "out"
