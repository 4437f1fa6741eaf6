"""Tools (edge): recognise a real input file by its content and turn it into Kairos v1 events.

Kinds: Kairos events (JSON array/object, NDJSON), Radar webhook/track bodies and user objects,
Radar geofences (→ stores), Amazon Location EventBridge events, Azure Maps Event Grid/CloudEvents,
GeoJSON stores (points, polygons), a GeoJSON LineString walk (→ location.updated, with --customer),
the retail demo store products.yaml (→ catalog), the ecom clickstream CSV(.gz), avwx METAR
recordings, Open-Meteo responses and VCR cassettes of Open-Meteo / NWS (→ weather.observed).
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import tzfpy
import yaml

from service.loaders.catalog import catalog_events
from service.loaders.clickstream import clickstream_events
from service.loaders.routes import route_positions, walk_events
from service.loaders.stores import StoreDefaults, stores_from_geojson, stores_from_radar_geofences
from service.loaders.weather import WeatherParseError, from_metar, from_nws_observation, from_open_meteo, split_metar
from service.providers import aws_location, azure_maps, radar
from service.providers.mapping import EMPTY_MAP, IdentityMap
from service.providers.outcome import Outcome
from service.tools.kinds import UNSUPPORTED, kind_of

DATA_DIR = Path(__file__).resolve().parents[1] / "data"
STATIONS = DATA_DIR / "metar_stations.csv"


@dataclass
class FileEvents:
    """What one file gave: its kind, the events to send, and what was not used (and why)."""

    path: Path
    kind: str
    events: list[dict[str, Any]] = field(default_factory=list)
    ignored: Counter[str] = field(default_factory=Counter)
    unmapped: Counter[str] = field(default_factory=Counter)
    rejected: Counter[str] = field(default_factory=Counter)
    warnings: Counter[str] = field(default_factory=Counter)  # kept, but not entirely understood


@dataclass(frozen=True)
class Options:
    mapping: IdentityMap = EMPTY_MAP
    occurred_at: str = "2026-01-01T00:00:00Z"  # for generated reference data (stores, catalog)
    customer: str | None = None  # for a LineString walk
    walk_end_ms: int = 0  # a walk's last position happens then (none in the future of reading it)
    walk_step_ms: int = 20_000
    store_ids: tuple[str, ...] = ("store-london-01",)
    products: tuple[tuple[str, float], ...] = ()  # for clickstream product attribution
    store_defaults: StoreDefaults = field(default_factory=StoreDefaults)


def zone_of(lat: float, lon: float) -> str | None:
    return tzfpy.get_tz(lon, lat) or None


@cache
def station_table(path: Path = STATIONS) -> dict[str, tuple[float, float]]:
    rows = csv.reader(line for line in path.read_text(encoding="utf-8").splitlines() if not line.startswith("#"))
    next(rows)
    return {r[0]: (float(r[1]), float(r[2])) for r in rows}


def _read(path: Path) -> bytes:
    raw = path.read_bytes()
    return gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw


def read_file(path: Path, opts: Options) -> FileEvents:
    """Raises ValueError with a sentence when the file is of no kind Kairos knows."""
    raw = _read(path)
    name = path.name.lower().removesuffix(".gz")
    if name.endswith(".csv"):
        out = FileEvents(path, "clickstream")
        load = clickstream_events(raw.decode("utf-8"), opts.products)
        out.events, out.ignored = load.events, load.ignored
        out.rejected.update(load.problems)
        return out
    if name.endswith((".ndjson", ".jsonl")):
        out = FileEvents(path, "kairos-events")
        out.events = [json.loads(line) for line in raw.splitlines() if line.strip()]
        return out
    # The C loader when built: products.yaml (1.4 MB) parses in 0.3 s instead of 3 s.
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    document = yaml.load(raw, Loader=loader) if name.endswith((".yaml", ".yml")) else json.loads(raw)
    return read_document(path, document, opts)


def _outcomes(path: Path, kind: str, outcomes: list[Outcome]) -> FileEvents:
    out = FileEvents(path, kind)
    for outcome in outcomes:
        if outcome.status == "event" and outcome.event is not None:
            out.events.append(outcome.event)
        elif outcome.status == "ignored":
            out.ignored[(outcome.reason or "")[:120]] += 1
        elif outcome.status == "unmapped":
            out.unmapped[(outcome.reason or "")[:120]] += 1
        else:
            out.rejected[(outcome.reason or "")[:120]] += 1
    return out


class UnsupportedFile(ValueError):
    """A file Kairos recognises but cannot use; the message says what it is and what to use instead."""


def read_document(path: Path, doc: Any, opts: Options) -> FileEvents:
    """Raises UnsupportedFile for a kind Kairos knows but does not use, ValueError for an unknown one."""
    kind = kind_of(doc)
    if kind in UNSUPPORTED:
        raise UnsupportedFile(f"{path}: {UNSUPPORTED[kind]}")
    readers: dict[str, Callable[[Any], FileEvents]] = {
        "vcr-cassette": lambda d: _cassette(path, d),
        "catalog": lambda d: _events(path, "catalog",
                                     catalog_events(d, None, opts.occurred_at, list(opts.store_ids)).events),
        "kairos-events": lambda d: _events(path, "kairos-events", d if isinstance(d, list) else [d]),
        "radar-geofences": lambda d: _radar_stores(path, d, opts),
        "radar": lambda d: _outcomes(path, "radar", radar.normalise(d, opts.mapping)),
        "radar-user": lambda d: _outcomes(path, "radar-user", radar.normalise(d, opts.mapping)),
        "aws-location": lambda d: _outcomes(path, "aws-location", aws_location.normalise(d, opts.mapping)),
        "azure-maps": lambda d: _outcomes(path, "azure-maps", azure_maps.normalise(d, opts.mapping)),
        "metar": lambda d: _metar(path, d),
        "open-meteo": lambda d: _events(path, "open-meteo",
                                        [from_open_meteo(d, float(d["latitude"]), float(d["longitude"]))]),
        "walk": lambda d: _walk(path, d, opts),
        "geojson-stores": lambda d: _stores(path, d, opts),
    }
    if kind is None:
        raise ValueError(f"{path}: not a kind of file Kairos reads (see docs/INPUT.md, replay)")
    return readers[kind](doc)


def _events(path: Path, kind: str, events: list[dict[str, Any]]) -> FileEvents:
    return FileEvents(path, kind, list(events))


def _radar_stores(path: Path, doc: Any, opts: Options) -> FileEvents:
    load = stores_from_radar_geofences(doc, opts.occurred_at, zone_of)
    out = FileEvents(path, "radar-geofences", load.events)
    out.rejected.update(load.problems)
    return out


def _stores(path: Path, doc: Any, opts: Options) -> FileEvents:
    load = stores_from_geojson(doc, opts.occurred_at, zone_of, opts.store_defaults)
    out = FileEvents(path, "geojson-stores", load.events)
    out.rejected.update(load.problems)
    return out


def _walk(path: Path, doc: Any, opts: Options) -> FileEvents:
    if opts.customer is None:
        raise ValueError(f"{path}: a route (LineString) is a customer's walk: say whose with --customer")
    positions = route_positions(doc)
    start_ms = opts.walk_end_ms - (len(positions) - 1) * opts.walk_step_ms
    return FileEvents(path, "walk", walk_events(positions, opts.customer, start_ms, opts.walk_step_ms,
                                                id_prefix=f"walk-{path.stem}"[:60]))


def _metar(path: Path, doc: dict[str, Any]) -> FileEvents:
    out = FileEvents(path, "metar")
    data = doc["data"]
    stamp = (data.get("time") or {}).get("dt") or f"{doc.get('created', '1970-01-01')}T00:00:00+00:00"
    reference = dt.datetime.fromisoformat(stamp)
    notes: list[str] = []
    for report in split_metar(str(data["raw"])):
        try:
            out.events.append(from_metar(report, reference, station_table(), notes))
        except WeatherParseError as exc:
            out.rejected[str(exc)[:120]] += 1
    out.warnings.update(notes)
    return out


def _cassette(path: Path, doc: dict[str, Any]) -> FileEvents:
    out = FileEvents(path, "vcr-cassette")
    for interaction in doc["interactions"]:
        response = interaction.get("response") or {}
        uri = str((interaction.get("request") or {}).get("uri", ""))
        status = (response.get("status") or {}).get("code")
        if status != 200:
            out.ignored[f"HTTP {status} response"] += 1
            continue
        try:
            body = json.loads((response.get("body") or {}).get("string") or "null")
        except json.JSONDecodeError:
            out.ignored["not JSON"] += 1
            continue
        if "open-meteo" in uri and isinstance(body, dict) and "current" in body:
            out.events.append(from_open_meteo(body, float(body["latitude"]), float(body["longitude"])))
        elif "observations" in uri and isinstance(body, dict) and "properties" in body:
            out.events.append(from_nws_observation(body))
        else:
            out.ignored[uri.split("?")[0][-60:]] += 1
    return out
