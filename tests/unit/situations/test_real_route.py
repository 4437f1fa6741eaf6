"""The real demo route into the London store's polygon fence, with seeded GPS jitter: one entry, no flapping."""

from __future__ import annotations

import itertools
import json
import math
import random
from pathlib import Path
from typing import Any

from service.core.situations import geo
from service.core.situations.presence import detect_stores
from service.core.state import CustomerState, apply_event
from tests.factories import T0, request
from tests.unit.situations.builders import CFG, fix, make_ref, offset

DATA = Path(__file__).resolve().parents[2] / "data" / "locations"
STEP_M = 3.0  # one fix every 2.5 s at a 1.2 m/s walk: many fixes near the edge
JITTER_M = 15.0  # half the 30 m exit margin


def _route() -> list[tuple[float, float]]:
    coords = json.loads((DATA / "retail_demo_store_customer_route.json").read_text())["features"][0]["geometry"][
        "coordinates"]
    return [(lat, lon) for lon, lat in coords]


def _store() -> dict[str, Any]:
    fence = json.loads((DATA / "retail_demo_store_store_geofence.json").read_text())["features"][0]["geometry"]
    point = json.loads((DATA / "retail_demo_store_store_location.json").read_text())["features"][0]["geometry"]
    return {"name": "Retail Demo Store London", "location": {"lat": point["coordinates"][1],
                                                             "lon": point["coordinates"][0]}, "geofence": fence}


def _walk(seed: int) -> list[dict[str, float]]:
    """Points every STEP_M along the route, each moved by a seeded jitter of up to JITTER_M."""
    rng = random.Random(seed)
    points: list[dict[str, float]] = []
    route = _route()
    for a, b in itertools.pairwise(route):
        steps = max(1, round(geo.distance_m(a, b) / STEP_M))
        for i in range(steps):
            f = i / steps
            true = {"lat": a[0] + f * (b[0] - a[0]), "lon": a[1] + f * (b[1] - a[1])}
            r, theta = JITTER_M * math.sqrt(rng.random()), rng.random() * 2 * math.pi
            points.append(offset(true, r * math.cos(theta), r * math.sin(theta)))
    return points


def test_the_jittered_route_enters_the_store_once_and_never_flaps() -> None:
    ref = make_ref({"store-london-01": _store()})
    fence = geo.store_fence(ref.stores["store-london-01"], CFG.store_radius_m)
    assert isinstance(fence, geo.Polygon)
    for seed in range(5):
        points = _walk(seed)
        # without hysteresis the raw in/out sequence flips more than once: the jitter is real
        raw = [geo.outside_m((p["lat"], p["lon"]), fence) <= 0 for p in points]
        assert sum(1 for x, y in itertools.pairwise(raw) if x != y) > 1, seed
        state: CustomerState | None = None
        inside: list[bool] = []
        for i, p in enumerate(points):
            t = T0 + i * 2_500
            state = apply_event(state, fix(t, p, accuracy_m=12.0), t + 500).state
            found = detect_stores(state, request(), ref, CFG, t)
            statuses = ([found.in_store] if found.in_store else []) + list(found.near)
            inside.append(any(s.inside_fence for s in statuses))
        flips = sum(1 for x, y in itertools.pairwise(inside) if x != y)
        assert (inside[0], inside[-1], flips) == (False, True, 1), seed
        # The state keeps 20 fixes (50 s at this rate), so fixes alone cannot show a 120 s dwell
        # yet: inside the fence, not yet "in" the store.
        assert found.in_store is None and [s.status for s in found.near] == ["near"]
        # She stays where the route ends, her phone reporting every 30 s: in the store once the
        # fixes the state keeps span the dwell threshold.
        end, t_end = points[-1], T0 + (len(points) - 1) * 2_500
        for k in range(1, 6):
            t = t_end + k * 30_000
            state = apply_event(state, fix(t, end, accuracy_m=12.0), t + 500).state
        found = detect_stores(state, request(), ref, CFG, t_end + 5 * 30_000)
        assert found.in_store is not None and found.in_store.store_id == "store-london-01"
