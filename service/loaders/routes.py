"""Loaders (pure): a GeoJSON LineString route (a customer's walk) → location.updated events, one per vertex."""

from __future__ import annotations

from typing import Any

from service.core import events as ev
from service.core.timeutil import format_rfc3339_ms


def route_positions(doc: object) -> list[tuple[float, float]]:
    """(lat, lon) of every vertex of the first LineString in the document ([lon, lat] in GeoJSON)."""
    features = doc.get("features", []) if isinstance(doc, dict) and doc.get("type") == "FeatureCollection" else [doc]
    for feature in features:
        geometry = feature.get("geometry", feature) if isinstance(feature, dict) else {}
        if isinstance(geometry, dict) and geometry.get("type") == "LineString":
            return [(float(p[1]), float(p[0])) for p in geometry["coordinates"]]
    return []


def walk_events(positions: list[tuple[float, float]], customer_id: str, start_ms: int, step_ms: int,
                accuracy_m: float = 10.0, source: str = "kairos-demo", id_prefix: str = "walk") -> list[dict[str, Any]]:
    """One location.updated per position, `step_ms` apart from `start_ms` (event time)."""
    return [{"event_id": f"{id_prefix}-{start_ms}-{i}", "type": ev.LOCATION_UPDATED,
             "occurred_at": format_rfc3339_ms(start_ms + i * step_ms), "source": source, "customer_id": customer_id,
             "location": {"lat": lat, "lon": lon}, "accuracy_m": accuracy_m}
            for i, (lat, lon) in enumerate(positions)]
