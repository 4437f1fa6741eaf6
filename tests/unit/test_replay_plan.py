"""kairos replay's plan: reference data first, then event time; --rebase-time per file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from service.core.timeutil import parse_rfc3339_ms
from service.tools.files import FileEvents, Options, read_file
from service.tools.replay import _batches, order_events, rebase_files

DATA = Path(__file__).resolve().parents[1] / "data"
NOW_MS = parse_rfc3339_ms("2026-12-04T12:00:00Z")


def test_recordings_from_different_years_all_start_now() -> None:
    radar = FileEvents(Path("radar.json"), "radar", [
        {"event_id": "r1", "type": "geofence.entered", "occurred_at": "2019-11-15T17:31:18.454Z"},
        {"event_id": "r2", "type": "geofence.exited", "occurred_at": "2019-11-15T17:41:18.454Z"}])
    walk = read_file(DATA / "locations/retail_demo_store_customer_route.json",
                     Options(customer="anna", walk_start_ms=NOW_MS - 60_000, walk_step_ms=20_000))
    metar = read_file(DATA / "weather/metar_avwx/metar/EGLL.json", Options())
    events = order_events(rebase_files([radar, walk, metar], NOW_MS))
    times = {e["event_id"]: e["occurred_at"] for e in events}
    assert (times["r1"], times["r2"]) == ("2026-12-04T12:00:00.000Z", "2026-12-04T12:10:00.000Z")
    assert times[walk.events[0]["event_id"]] == "2026-12-04T12:00:00.000Z"
    assert times[walk.events[12]["event_id"]] == "2026-12-04T12:04:00.000Z"
    # weather is reference data: it keeps its time and goes first
    assert [e["type"] for e in events[:4]] == ["weather.observed"] * 4
    assert events[0]["occurred_at"] == "2023-10-17T04:20:00.000Z"


def test_paced_batches_split_on_event_time() -> None:
    events: list[dict[str, Any]] = [{"occurred_at": t} for t in
                                    ("2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z", "2026-01-01T00:00:05Z")]
    assert [len(b) for b in _batches(events, 500, paced=True)] == [2, 1]
    assert [len(b) for b in _batches(events, 2, paced=False)] == [2, 1]
