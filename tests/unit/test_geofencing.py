"""Server-side geofencing on the real demo walk and fences: one entry, no flapping, accuracy gating, dwell."""

from __future__ import annotations

import json
from pathlib import Path

from service.core.geofencing import Fix, GeofencingConfig, Presence, Transition, fences_from_stores, track
from service.loaders.routes import route_positions

LOCATIONS = Path(__file__).resolve().parents[1] / "data" / "locations"
CFG = GeofencingConfig(max_accuracy_m=100.0, exit_margin_m=30.0, dwell_after_s=300.0)


def load(name: str) -> dict:  # type: ignore[type-arg]
    return json.loads((LOCATIONS / name).read_text())


def london_store(with_polygon: bool = True) -> dict:  # type: ignore[type-arg]
    lon, lat = load("retail_demo_store_store_location.json")["features"][0]["geometry"]["coordinates"]
    store = {"location": {"lat": lat, "lon": lon}, "radius_m": 60}
    if with_polygon:
        store["geofence"] = load("retail_demo_store_store_geofence.json")["features"][0]["geometry"]
    return {"store-london-01": store}


def walk(positions: list[tuple[float, float]], index_stores: dict, step_s: float = 60.0,  # type: ignore[type-arg]
         accuracy_m: float | None = 10.0) -> list[tuple[int, Transition]]:
    """Runs the positions through track(), applying each transition to the presence as the state would."""
    index = fences_from_stores(index_stores, CFG)
    presence: dict[str, Presence] = {}
    out = []
    for i, (lat, lon) in enumerate(positions):
        t = int(i * step_s * 1000)
        for tr in track(Fix(lat, lon, accuracy_m, t), presence, index, CFG):
            out.append((i, tr))
            if tr.kind == "entered":
                presence[tr.fence_id] = Presence(True, t)
            elif tr.kind == "dwelled":
                presence[tr.fence_id] = Presence(True, presence[tr.fence_id].entered_at_ms, True)
            else:
                presence[tr.fence_id] = Presence(False)
    return out


def test_the_demo_walk_enters_the_london_store_polygon_exactly_once() -> None:
    route = route_positions(load("retail_demo_store_customer_route.json"))
    assert len(route) == 13
    transitions = walk(route, london_store())
    assert [(i, t.kind, t.store_id) for i, t in transitions] == [
        (5, "entered", "store-london-01"),   # (51.52443, -0.11096): the first position inside the polygon
        (10, "dwelled", "store-london-01"),  # five minutes (300 s) after the entry at one position a minute
    ]
    assert transitions[1][1].dwell_s == 300.0


def test_the_route_never_reaches_the_60_m_circle_around_the_store_point() -> None:
    # The route passes ~140 m from the store point: with only the point and radius, no entry.
    assert walk(route_positions(load("retail_demo_store_customer_route.json")), london_store(False)) == []


def test_jitter_at_the_edge_does_not_flap() -> None:
    stores = london_store(False)
    lat, lon = stores["store-london-01"]["location"]["lat"], stores["store-london-01"]["location"]["lon"]
    metre = 1 / 111_195  # degrees of latitude per metre
    # 55 m, 65 m, 58 m, 80 m, 62 m north: inside once, then within the 30 m exit margin
    track_ = [(lat + d * metre, lon) for d in (55, 65, 58, 80, 62)]
    assert [t.kind for _, t in walk(track_, stores, step_s=10)] == ["entered"]
    # 95 m (35 m beyond the radius, more than the margin and the accuracy): one exit
    assert [(i, t.kind) for i, t in walk([*track_, (lat + 95 * metre, lon)], stores, step_s=10)] == [
        (0, "entered"), (5, "exited")]


def test_inaccurate_fixes_change_nothing() -> None:
    stores = london_store(False)
    inside = (stores["store-london-01"]["location"]["lat"], stores["store-london-01"]["location"]["lon"])
    assert walk([inside], stores, accuracy_m=150.0) == []
    assert [t.kind for _, t in walk([inside], stores, accuracy_m=None)] == ["entered"]


def test_a_far_jump_still_exits_a_fence_she_is_inside() -> None:
    index = fences_from_stores(london_store(), CFG)
    helsinki = Fix(60.1699, 24.9384, 5.0, 1000)
    out = track(helsinki, {"store-london-01": Presence(True, 0)}, index, CFG)
    assert [(t.kind, t.fence_id, t.dwell_s) for t in out] == [("exited", "store-london-01", 1.0)]
    assert out[0].distance_m > 1_800_000
