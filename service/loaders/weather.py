"""Loaders (pure): weather reports → weather.observed events.

- Open-Meteo `current` blocks (`/v1/forecast?current=…`), in whatever units the response says
  (`current_units`: °F → °C, inch → mm); its `time` is local to `utc_offset_seconds`.
- METAR reports, parsed by the `metar` library. Several reports run together in one string
  (as in avwx's recordings) are split before each "<ICAO> ddhhmmZ" group. METAR gives only day and
  time: month and year come from a reference time the caller passes (never the clock).
- NWS (api.weather.gov) `observations/latest` features (temperature in wmoUnit:degC).

Conditions: clear, clouds, rain, snow, fog, storm, unknown (WMO weather codes for Open-Meteo;
present-weather and sky groups for METAR).
"""

from __future__ import annotations

import datetime as dt
import re
import warnings
from collections.abc import Mapping
from typing import Any

from metar import Metar

from service.core import events as ev
from service.core.timeutil import format_rfc3339_ms, parse_rfc3339_ms

_UNPARSED = re.compile(r"Unparsed groups in \w+ '([^']*)'")


class WeatherParseError(ValueError):
    """The report cannot be turned into an observation; the message says why."""


def wmo_condition(code: int) -> str:
    """WMO 4677 weather interpretation code (Open-Meteo `weather_code`) → Kairos condition."""
    if code in (0, 1):
        return "clear"
    if code in (2, 3):
        return "clouds"
    if code in (45, 48):
        return "fog"
    if 51 <= code <= 67 or 80 <= code <= 82:
        return "rain"
    if 71 <= code <= 77 or code in (85, 86):
        return "snow"
    if 95 <= code <= 99:
        return "storm"
    return "unknown"


def _observed(event_id: str, at_ms: int, source: str, lat: float, lon: float, condition: str,
              temperature_c: float, precipitation_mm: float | None) -> dict[str, Any]:
    event: dict[str, Any] = {"event_id": event_id[:128], "type": ev.WEATHER_OBSERVED,
                             "occurred_at": format_rfc3339_ms(at_ms), "source": source,
                             "location": {"lat": round(lat, 5), "lon": round(lon, 5)},
                             "condition": condition, "temperature_c": round(temperature_c, 1)}
    if precipitation_mm is not None and precipitation_mm >= 0:
        event["precipitation_mm"] = round(precipitation_mm, 2)
    return event


def from_open_meteo(body: Mapping[str, Any], lat: float, lon: float) -> dict[str, Any]:
    """weather.observed for the location asked for, from an Open-Meteo forecast response's `current`."""
    current, units = body.get("current"), body.get("current_units") or {}
    if not isinstance(current, Mapping) or "temperature_2m" not in current or "time" not in current:
        raise WeatherParseError("the response has no current.temperature_2m / current.time")
    temperature = float(current["temperature_2m"])
    if str(units.get("temperature_2m", "°C")).endswith("F"):
        temperature = (temperature - 32) * 5 / 9
    precipitation = current.get("precipitation")
    precipitation_mm = None if precipitation is None else float(precipitation)
    if precipitation_mm is not None and str(units.get("precipitation", "mm")).startswith("inch"):
        precipitation_mm *= 25.4
    offset_s = int(body.get("utc_offset_seconds") or 0)
    local = dt.datetime.fromisoformat(str(current["time"])).replace(tzinfo=dt.UTC)
    at_ms = int(local.timestamp() * 1000) - offset_s * 1000
    code = current.get("weather_code")
    condition = wmo_condition(int(code)) if isinstance(code, int | float) else "unknown"
    return _observed(f"open-meteo-{lat:.4f},{lon:.4f}-{at_ms}", at_ms, "open-meteo", lat, lon, condition,
                     temperature, precipitation_mm)


def split_metar(raw: str) -> list[str]:
    """Reports run together ("EGLL 170550Z … EGLL 170520Z …") as one report each."""
    text = " ".join(raw.split())
    starts = [m.start() for m in re.finditer(r"(?:^|(?<=\s))(?:METAR |SPECI )?[A-Z][A-Z0-9]{3} \d{6}Z\b", text)]
    return [text[a:b].strip() for a, b in zip(starts, [*starts[1:], len(text)], strict=True)] or [text]


def _metar_condition(report: Metar.Metar) -> str:
    codes = " ".join("".join(part or "" for part in group) for group in report.weather)
    if "TS" in codes:
        return "storm"
    if any(c in codes for c in ("SN", "SG", "PL", "IC", "GS")):
        return "snow"
    if any(c in codes for c in ("RA", "DZ", "GR", "UP")):
        return "rain"
    if any(c in codes for c in ("FG", "BR", "HZ", "FU")):
        return "fog"
    cover = {sky[0] for sky in report.sky}
    if cover & {"BKN", "OVC", "VV"}:
        return "clouds"
    if cover & {"SCT"}:
        return "clouds"
    return "clear"


def from_metar(report: str, reference: dt.datetime, stations: Mapping[str, tuple[float, float]],
               notes: list[str] | None = None) -> dict[str, Any]:
    """weather.observed from one METAR; `reference` (aware) gives month and year, `stations` ICAO → (lat, lon).
    Groups the parser skipped are described in `notes` (when given)."""
    try:
        # The parser reports groups it does not know as a RuntimeWarning printed on the terminal;
        # they are collected into `notes` (the caller's summary) instead.
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            parsed = Metar.Metar(report, month=reference.month, year=reference.year, strict=False)
    except Metar.ParserError as exc:
        raise WeatherParseError(f"not a METAR report: {str(exc)[:200]}") from None
    for warning in caught:
        found = _UNPARSED.search(str(warning.message))
        if notes is not None and found:
            notes.append(f"{report.split(' ')[0]}: the METAR parser skipped groups it does not know "
                         f"({found.group(1)[:60]}); the rest of the report is used")
    if parsed.station_id is None or parsed.time is None:
        raise WeatherParseError("the report has no station or time group")
    if parsed.temp is None:
        raise WeatherParseError(f"{parsed.station_id}: the report has no temperature")
    where = stations.get(parsed.station_id)
    if where is None:
        raise WeatherParseError(f"station {parsed.station_id} is not in the station table")
    at = parsed.time.replace(tzinfo=dt.UTC)
    if at - reference.astimezone(dt.UTC) > dt.timedelta(days=2):  # a day-of-month from the month before
        month_back = (at.replace(day=1) - dt.timedelta(days=1))
        at = at.replace(year=month_back.year, month=month_back.month)
    at_ms = int(at.timestamp() * 1000)
    precipitation = parsed.precip_1hr.value("IN") * 25.4 if parsed.precip_1hr is not None else None
    return _observed(f"metar-{parsed.station_id}-{at_ms}", at_ms, "metar", where[0], where[1], _metar_condition(parsed),
                     float(parsed.temp.value("C")), precipitation)


def from_nws_observation(feature: Mapping[str, Any]) -> dict[str, Any]:
    """weather.observed from an api.weather.gov observation feature (station point, degC)."""
    props, geometry = feature.get("properties") or {}, feature.get("geometry") or {}
    temperature = (props.get("temperature") or {}).get("value")
    coords = geometry.get("coordinates")
    if temperature is None or not isinstance(coords, list) or "timestamp" not in props:
        raise WeatherParseError("the observation has no temperature, timestamp or station point")
    at_ms = parse_rfc3339_ms(str(props["timestamp"]))
    text = str(props.get("textDescription") or "").lower()
    condition = next((c for words, c in ((("thunder",), "storm"), (("snow", "sleet", "ice"), "snow"),
                                         (("rain", "drizzle", "shower"), "rain"), (("fog", "mist", "haze"), "fog"),
                                         (("cloud", "overcast"), "clouds"), (("clear", "sunny", "fair"), "clear"))
                      if any(w in text for w in words)), "unknown")
    precipitation = (props.get("precipitationLastHour") or {}).get("value")
    station = str(props.get("station") or "").rstrip("/").rpartition("/")[2] or "nws"
    return _observed(f"nws-{station}-{at_ms}", at_ms, "nws", float(coords[1]), float(coords[0]), condition,
                     float(temperature), None if precipitation is None else float(precipitation))
