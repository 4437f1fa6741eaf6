"""Property tests: the store views kept per store change (ReferenceData.store_view) — the nearby
stores a position is tested against, and the stream's fence index — give exactly what the plain
scan over every store gives, also after stores are added, moved or re-fenced."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from service.core.geofencing import GeofencingConfig, fences_from_stores
from service.core.policy import DEFAULT_POLICY, load_policy
from service.core.reference import ReferenceData, apply_reference_event
from service.core.situations import geo, presence
from service.core.situations.config import SituationConfig
from service.core.situations.facts import Fix, record
from service.stream.geofencing_stage import GeofencingStage
from tests.factories import ref_event

CFG: SituationConfig = load_policy(DEFAULT_POLICY).situations
BASE = (51.5, -0.12)
T0 = 1_796_000_000_000
STORE_IDS = [f"S{n}" for n in range(8)]

offsets = st.floats(-0.02, 0.02, allow_nan=False)
stores = st.fixed_dictionaries(
    {"dlat": offsets, "dlon": offsets},
    optional={"radius_m": st.floats(5, 400), "polygon": st.booleans()})
store_sets = st.dictionaries(st.sampled_from(STORE_IDS), stores, min_size=1)


def store_event(store_id: str, spec: Mapping[str, Any], t_ms: int) -> dict[str, Any]:
    lat, lon = BASE[0] + spec["dlat"], BASE[1] + spec["dlon"]
    fields: dict[str, Any] = {"store_id": store_id, "name": store_id, "location": {"lat": lat, "lon": lon}}
    if "radius_m" in spec:
        fields["radius_m"] = spec["radius_m"]
    if spec.get("polygon"):
        d = 0.0006
        fields["geofence"] = {"type": "Polygon", "coordinates": [[[lon - d, lat - d], [lon + d, lat - d],
                                                                   [lon + d, lat + d], [lon - d, lat + d],
                                                                   [lon - d, lat - d]]]}
    return ref_event("store.upserted", t_ms, f"{store_id}@{t_ms}", **fields)


def plain_candidates(state: Mapping[str, Any], ref: ReferenceData, here: Fix | None) -> dict[str, list[Any]]:
    """presence._candidates as first written: every store tested on every call."""
    by_store: dict[str, list[Any]] = {}
    for gid, row in sorted(state["geofences"].items()):
        store_id = row[4] if row[4] is not None else gid if gid in ref.stores else None
        if store_id is not None:
            by_store.setdefault(store_id, []).append((gid, row))
    if here is not None:
        for store_id, store in sorted(ref.stores.items()):
            loc = store.get("location")
            if store_id in by_store or not isinstance(loc, Mapping):
                continue
            near = not geo.surely_farther(here.point, (loc["lat"], loc["lon"]), CFG.approach_radius_m)
            fence = geo.store_fence(store, CFG.store_radius_m) if not near else None
            if near or (fence is not None and not geo.surely_outside(here.point, fence, CFG.exit_margin_m)):
                by_store[store_id] = []
    return by_store


@given(store_sets, store_sets, st.lists(st.tuples(offsets, offsets), min_size=1, max_size=6))
def test_nearby_stores_and_fences_follow_the_stores(first: dict[str, Any], changed: dict[str, Any],
                                                   points: list[tuple[float, float]]) -> None:
    ref = ReferenceData()
    stage = GeofencingStage(ref, GeofencingConfig())
    state = record(None)
    for batch, t_ms in ((first, T0), (changed, T0 + 60_000)):
        for store_id, spec in batch.items():
            event = store_event(store_id, spec, t_ms)
            apply_reference_event(ref, event)
        for dlat, dlon in points:
            here = Fix(T0, BASE[0] + dlat, BASE[1] + dlon, 10.0, None)
            assert presence._candidates(state, ref, here, CFG) == plain_candidates(state, ref, here)
        assert stage.fences() == fences_from_stores(ref.stores, GeofencingConfig())
