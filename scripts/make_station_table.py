"""Writes service/data/metar_stations.csv: ICAO id, latitude, longitude, elevation, country and name of
every METAR-reporting station, from the station list bundled in avwx-engine (MIT; itself built
from OurAirports, public domain). Needs avwx-engine installed (not a Kairos dependency).

Run: python scripts/make_station_table.py
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import avwx  # type: ignore[import-not-found]

OUT = Path(__file__).resolve().parents[1] / "service" / "data" / "metar_stations.csv"


def main() -> None:
    source = Path(avwx.__file__).parent / "data" / "files" / "stations.json"
    stations = json.loads(source.read_text())
    rows = sorted((s["icao"], f"{s['latitude']:.5f}", f"{s['longitude']:.5f}", s.get("elevation_m") or "",
                   s.get("country") or "", s.get("name") or "")
                  for s in stations.values() if s.get("reporting") and s.get("icao"))
    with OUT.open("w", newline="", encoding="utf-8") as f:
        f.write("# METAR stations from avwx-engine's station list (MIT), built from OurAirports (public domain)\n")
        writer = csv.writer(f)
        writer.writerow(["icao", "lat", "lon", "elevation_m", "country", "name"])
        writer.writerows(rows)
    print(f"wrote {len(rows)} stations to {OUT}")


if __name__ == "__main__":
    main()
