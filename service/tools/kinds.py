"""Tools (edge): what kind of real input file a decoded document is, judged by its content alone.

Order matters where shapes overlap: a Radar user object carries a `geofences` list (the fences she
is in) but is not a store file; a Radar context response carries full geofence objects but is the
answer to "what is at this point", not a list of the brand's stores; a TAF recording has the same
envelope as a METAR one but is a forecast. Kinds Kairos recognises but cannot use are named with a
sentence saying why and what to use instead (UNSUPPORTED), so nothing is sent half-understood.
"""

from __future__ import annotations

import re
from typing import Any

from service.loaders.routes import route_positions
from service.providers import aws_location, radar

UNSUPPORTED = {
    "taf": "a TAF (terminal aerodrome forecast): a forecast, not an observation. Kairos takes observed "
           "weather only (METAR reports, NWS observations, Open-Meteo `current`), so nothing of it is sent",
    "radar-context": "a Radar context response (`GET /v1/context`: the geofences, place and regions at one "
                     "point): it has no user and no time, so it is neither events nor the brand's store list. "
                     "Load stores from Radar geofence objects or a geofence search (`kairos load stores`)",
    "radar-places": "Radar place search results: places are Radar's points of interest, not the brand's stores. "
                    "To use a place's entry and exit events, map it to a store in the mapping file "
                    "(`geofence_id: {\"place:<place _id>\": <store id>}`)",
}
_TAF_RAW = re.compile(r"(?:TAF )?(?:AMD |COR )?[A-Z][A-Z0-9]{3} \d{6}Z \d{4}/\d{4}\b")
_CONTEXT_KEYS = ("live", "place", "country", "state", "dma", "postalCode")


def first(doc: Any) -> dict[str, Any]:
    item = doc[0] if isinstance(doc, list) and doc else doc
    return item if isinstance(item, dict) else {}


def _is_kairos(doc: Any) -> bool:
    item = first(doc)
    return "event_id" in item and "occurred_at" in item and "type" in item


def _is_catalog(doc: Any) -> bool:
    return isinstance(doc, list) and bool(doc) and isinstance(doc[0], dict) \
        and {"id", "category", "price"} <= set(doc[0])


def _is_radar_body(doc: Any) -> bool:
    return isinstance(doc, dict) and (isinstance(doc.get("events"), list) or isinstance(doc.get("event"), dict))


def _is_radar_geofence(item: object) -> bool:
    return isinstance(item, dict) and "_id" in item and "geometryCenter" in item


def _radar_geofences_kind(doc: Any) -> str | None:
    if not isinstance(doc, dict):
        return None
    if isinstance(doc.get("context"), dict) and "geofences" in doc["context"]:
        return "radar-context"
    if _is_radar_geofence(doc):
        return "radar-geofences"
    fences = doc.get("geofences")
    if isinstance(fences, list) and fences and all(_is_radar_geofence(f) for f in fences):
        # a bare context object (radar-python) is geofences *and* the regions of the point
        return "radar-context" if any(k in doc for k in _CONTEXT_KEYS) else "radar-geofences"
    return None


def _is_metar_recording(doc: Any) -> bool:
    return isinstance(doc, dict) and isinstance(doc.get("data"), dict) and "raw" in doc["data"]


def _is_taf(doc: dict[str, Any]) -> bool:
    data = doc["data"]
    return isinstance(data.get("forecast"), list) or bool(_TAF_RAW.match(" ".join(str(data["raw"]).split())))


def kind_of(doc: Any) -> str | None:
    """The kind name of a decoded JSON/YAML document, or None when Kairos does not know it."""
    if isinstance(doc, dict) and isinstance(doc.get("interactions"), list):
        return "vcr-cassette"
    if _is_catalog(doc):
        return "catalog"
    if _is_kairos(doc):
        return "kairos-events"
    if _is_radar_body(doc):
        return "radar"
    if radar.is_user_object(doc):
        return "radar-user"
    fences = _radar_geofences_kind(doc)
    if fences:
        return fences
    if isinstance(doc, dict) and isinstance(doc.get("places"), list):
        return "radar-places"
    if aws_location.is_eventbridge(first(doc)):
        return "aws-location"
    if str(first(doc).get("eventType", first(doc).get("type", ""))).startswith("Microsoft."):
        return "azure-maps"
    if _is_metar_recording(doc):
        return "taf" if _is_taf(doc) else "metar"
    if isinstance(doc, dict) and "current" in doc and "latitude" in doc:
        return "open-meteo"
    if route_positions(doc):
        return "walk"
    if isinstance(doc, dict) and doc.get("type") in ("FeatureCollection", "Feature"):
        return "geojson-stores"
    return None
