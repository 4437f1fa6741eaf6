"""kairos replay's plan: reference data first; with --rebase-time no event time is ever after its send."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from service.core.timeutil import parse_rfc3339_ms
from service.tools.files import FileEvents, Options, read_file
from service.tools.schedule import Planned, batches, plan

DATA = Path(__file__).resolve().parents[1] / "data"
START_MS = parse_rfc3339_ms("2026-12-04T12:00:00Z")


def files() -> list[list[dict[str, Any]]]:
    radar = FileEvents(Path("radar.json"), "radar", [
        {"event_id": "r1", "type": "geofence.entered", "occurred_at": "2019-11-15T17:31:18.454Z"},
        {"event_id": "r2", "type": "geofence.exited", "occurred_at": "2019-11-15T17:41:18.454Z"}])
    # read a minute before sending starts: its last position happened then, 20 s apart
    walk = read_file(DATA / "locations/retail_demo_store_customer_route.json",
                     Options(customer="anna", walk_end_ms=START_MS - 60_000, walk_step_ms=20_000))
    metar = read_file(DATA / "weather/metar_avwx/metar/EGLL.json", Options())
    return [radar.events, walk.events, metar.events]


def times(planned: list[Planned]) -> dict[str, tuple[int, str]]:
    return {p.event["event_id"]: (p.due_ms, p.event["occurred_at"]) for p in planned}


def test_rebased_as_fast_as_possible_each_recording_ends_now() -> None:
    planned = plan(files(), START_MS, speed=None, rebase=True)
    got = times(planned)
    assert (got["r1"], got["r2"]) == ((0, "2026-12-04T11:50:00.000Z"), (0, "2026-12-04T12:00:00.000Z"))
    walk = [p for p in planned if p.event["event_id"].startswith("walk-")]
    assert (walk[0].event["occurred_at"], walk[12].event["occurred_at"]) == ("2026-12-04T11:56:00.000Z",
                                                                             "2026-12-04T12:00:00.000Z")
    # weather is reference data: it keeps its time and goes first
    assert [p.event["type"] for p in planned[:4]] == ["weather.observed"] * 4
    assert planned[0].event["occurred_at"] == "2023-10-17T04:20:00.000Z"


def test_rebased_and_paced_each_event_happens_when_it_is_sent() -> None:
    planned = plan(files(), START_MS, speed=10, rebase=True)
    got = times(planned)
    assert (got["r1"], got["r2"]) == ((0, "2026-12-04T12:00:00.000Z"), (60_000, "2026-12-04T12:01:00.000Z"))
    walk = [p for p in planned if p.event["event_id"].startswith("walk-")]
    assert [p.due_ms for p in walk] == [2_000 * i for i in range(13)]
    assert walk[12].event["occurred_at"] == "2026-12-04T12:00:24.000Z"


@pytest.mark.parametrize("speed", [None, 0.5, 1, 10, 60])
def test_a_rebased_event_is_never_after_its_send(speed: float | None) -> None:
    for p in plan(files(), START_MS, speed=speed, rebase=True):
        if p.event["type"] != "weather.observed":
            assert parse_rfc3339_ms(p.event["occurred_at"]) <= START_MS + p.due_ms, p


def test_paced_without_rebasing_keeps_times_and_ignores_reference_dates() -> None:
    planned = plan(files(), START_MS, speed=60, rebase=False)
    got = times(planned)
    assert got["r1"] == (0, "2019-11-15T17:31:18.454Z")
    assert got["r2"] == (10_000, "2019-11-15T17:41:18.454Z")  # ten minutes at 60×
    assert all(p.due_ms == 0 for p in planned if p.event["type"] == "weather.observed")


def test_batches_split_on_due_time_and_size() -> None:
    events: list[dict[str, Any]] = [{"occurred_at": t, "type": "app.opened"} for t in
                                    ("2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z", "2026-01-01T00:00:05Z")]
    paced = plan([events], START_MS, speed=1, rebase=False)
    assert [(due, len(b)) for due, b in batches(paced, 500)] == [(0, 2), (5_000, 1)]
    assert [(due, len(b)) for due, b in batches(plan([events], START_MS, None, False), 2)] == [(0, 2), (0, 1)]
    with pytest.raises(ValueError, match="--speed must be a positive number"):
        plan([events], START_MS, speed=0, rebase=False)
