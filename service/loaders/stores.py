"""Loaders (pure): store files → store.upserted events.

- GeoJSON (FeatureCollection, Feature or bare geometry): a Point is a store with a circular fence
  of `radius_m`; a Polygon is a store whose fence is that polygon (located at its vertex mean).
  OSM properties are read as OpenStreetMap writes them: `name`, `shop` (→ kind), `addr:*`
  (→ address), `opening_hours` (checked with the same library that evaluates it; a string it
  cannot parse is dropped and reported, never guessed).
- Radar geofence objects (`GET /v1/geofences/:id`, or `{geofences: [...]}`): store id from
  `externalId` (else `radar-<_id>`), `description` as name, circle or polygon.

The time zone comes from the coordinates (tzfpy's offline boundaries, passed in as `zone_of`).
Event ids hash the content, so re-loading the same file changes nothing and an edited store wins.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from service.core import events as ev
from service.core.ids import ID_MAX, is_valid_id
from service.core.opening_hours import OpeningHoursError, parse

SOURCE = "kairos-load"
ZoneOf = Callable[[float, float], str | None]  # (lat, lon) -> IANA zone
NAME_MAX = 256  # the store.upserted schema's bound


def _checked_id(store_id: str, where: str, out: StoreLoad) -> bool:
    # Never cut an id to fit: two long ids cut alike would become one store.
    if is_valid_id(store_id):
        return True
    out.problems.append(f"{where}: store id {store_id[:40]!r}{'…' if len(store_id) > 40 else ''} skipped: "
                        f"an id has 1 to {ID_MAX} characters and no control characters or white space at "
                        "either end")
    return False


def _name(name: str, store_id: str, out: StoreLoad) -> str:
    if len(name) > NAME_MAX:
        out.problems.append(f"{store_id}: name shortened from {len(name)} to {NAME_MAX} characters")
    return name[:NAME_MAX]


@dataclass
class StoreLoad:
    events: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class StoreDefaults:
    radius_m: float = 50.0
    store_id: str | None = None  # only for a file with one store
    name: str | None = None
    kind: str | None = None
    opening_hours: str | None = None
    geofence: dict[str, Any] | None = None  # a Polygon to attach (single-store files)
    id_prefix: str = ""


def _features(doc: object) -> list[dict[str, Any]]:
    if not isinstance(doc, dict):
        return []
    if doc.get("type") == "FeatureCollection":
        return [f for f in doc.get("features") or [] if isinstance(f, dict)]
    if doc.get("type") == "Feature":
        return [doc]
    if doc.get("type") in ("Point", "Polygon"):
        return [{"type": "Feature", "properties": {}, "geometry": doc}]
    return []


def first_polygon(doc: object) -> dict[str, Any] | None:
    """The first GeoJSON Polygon geometry in a document, [lon, lat] positions, outer ring closed."""
    for feature in _features(doc):
        geometry = feature.get("geometry") or {}
        if geometry.get("type") == "Polygon" and geometry.get("coordinates"):
            return {"type": "Polygon", "coordinates": [list(map(list, ring)) for ring in geometry["coordinates"]]}
    return None


def stores_from_geojson(doc: object, occurred_at: str, zone_of: ZoneOf, defaults: StoreDefaults) -> StoreLoad:
    out = StoreLoad()
    features = _features(doc)
    if not features:
        out.problems.append("not GeoJSON with Point or Polygon features")
    single = len(features) == 1
    for index, feature in enumerate(features):
        props = feature.get("properties") or {}
        geometry = feature.get("geometry") or {}
        osm_id = str(feature.get("id") or props.get("@id") or "").replace("/", "-")
        store_id = (defaults.store_id if single and defaults.store_id else
                    defaults.id_prefix + (f"osm-{osm_id}" if osm_id else f"store-{index}"))
        if not _checked_id(store_id, f"feature {index}", out):
            continue
        store: dict[str, Any] = {"store_id": store_id}
        if geometry.get("type") == "Point":
            lon, lat = geometry["coordinates"][:2]
            store["radius_m"] = defaults.radius_m
        elif geometry.get("type") == "Polygon":
            ring = geometry["coordinates"][0]
            lon = sum(p[0] for p in ring[:-1]) / max(len(ring) - 1, 1)
            lat = sum(p[1] for p in ring[:-1]) / max(len(ring) - 1, 1)
            store["geofence"] = {"type": "Polygon", "coordinates": geometry["coordinates"][:1]}
        else:
            out.problems.append(f"feature {index}: geometry {str(geometry.get('type'))!r} is not a Point or Polygon")
            continue
        if single and defaults.geofence is not None:
            store["geofence"] = defaults.geofence
        store["location"] = {"lat": round(float(lat), 7), "lon": round(float(lon), 7)}
        name = (defaults.name if single and defaults.name else None) or props.get("name") or props.get("brand")
        kind = defaults.kind or props.get("shop")
        store["name"] = _name(str(name or f"{kind or 'store'} {store_id}"), store_id, out)
        if kind:
            store["kind"] = str(kind)[:64]
        address = _address(props)
        if address:
            store["address"] = address
        hours = props.get("opening_hours") or (defaults.opening_hours if single else None)
        if isinstance(hours, str):
            try:
                parse(hours)
                store["opening_hours"] = hours[:512]
            except OpeningHoursError as exc:
                out.problems.append(f"{store_id}: opening_hours {hours!r} dropped: {exc}")
        zone = zone_of(store["location"]["lat"], store["location"]["lon"])
        if zone:
            store["time_zone"] = zone
        out.events.append(_event(store, occurred_at))
    return out


def stores_from_radar_geofences(doc: object, occurred_at: str, zone_of: ZoneOf) -> StoreLoad:
    out = StoreLoad()
    items = doc.get("geofences") if isinstance(doc, dict) and "geofences" in doc else [doc]
    for index, item in enumerate(items if isinstance(items, list) else []):
        if not isinstance(item, dict) or "_id" not in item:
            out.problems.append(f"geofence {index}: not a Radar geofence object")
            continue
        center = (item.get("geometryCenter") or {}).get("coordinates")
        if not isinstance(center, list) or len(center) < 2:
            out.problems.append(f"geofence {index}: no geometryCenter")
            continue
        store_id = str(item.get("externalId") or f"radar-{item['_id']}")
        if not _checked_id(store_id, f"geofence {index}", out):
            continue
        store: dict[str, Any] = {"store_id": store_id,
                                 "name": _name(str(item.get("description") or item["_id"]), store_id, out),
                                 "location": {"lat": float(center[1]), "lon": float(center[0])}}
        if item.get("type") == "circle" and isinstance(item.get("geometryRadius"), int | float):
            store["radius_m"] = float(item["geometryRadius"])
        elif (item.get("geometry") or {}).get("type") == "Polygon":
            store["geofence"] = {"type": "Polygon", "coordinates": item["geometry"]["coordinates"][:1]}
        if isinstance(item.get("tag"), str):
            store["kind"] = item["tag"][:64]
        zone = zone_of(store["location"]["lat"], store["location"]["lon"])
        if zone:
            store["time_zone"] = zone
        out.events.append(_event(store, occurred_at))
    return out


def _address(props: dict[str, Any]) -> str | None:
    street = " ".join(str(props[k]) for k in ("addr:street", "addr:housenumber") if props.get(k))
    town = " ".join(str(props[k]) for k in ("addr:postcode", "addr:city") if props.get(k))
    text = ", ".join(part for part in (street, town) if part)
    return text[:512] or None


def _event(store: dict[str, Any], occurred_at: str) -> dict[str, Any]:
    digest = hashlib.blake2b(orjson.dumps(store, option=orjson.OPT_SORT_KEYS), digest_size=8).hexdigest()
    return {"event_id": f"store-{store['store_id'][:100]}-{digest}", "type": ev.STORE_UPSERTED,
            "occurred_at": occurred_at, "source": SOURCE, **store}
