"""`kairos replay` against a recording HTTP server on 127.0.0.1: no event time is ever in the future of its send.

The stand-in (tests/component/ingest_stand_in.py) answers like ingest and notes when each batch
arrived, by the same system clock the replay reads.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

from service.adapters.clock import SystemClock
from service.cli import main
from service.core.timeutil import parse_rfc3339_ms
from tests.component.ingest_stand_in import StandIn, serve

ROUTE = Path(__file__).resolve().parents[1] / "data/locations/retail_demo_store_customer_route.json"


@pytest.fixture
def stand_in() -> Iterator[StandIn]:
    yield from serve()


def replayed(stand_in: StandIn, *flags: str) -> list[tuple[int, int]]:
    code = main(["replay", str(ROUTE), "--customer", "carla", "--url", stand_in.url, "--key", "k", *flags])
    assert code == 0
    assert len(stand_in.received) == 13
    return [(at_ms, parse_rfc3339_ms(e["occurred_at"])) for at_ms, e in stand_in.received]


def test_rebased_and_paced_each_event_happens_when_it_is_sent(
        stand_in: StandIn) -> None:
    started_ms = SystemClock().now_ms()
    times = replayed(stand_in, "--rebase-time", "--speed", "10", "--walk-step-s", "2")
    assert all(occurred <= sent for sent, occurred in times), times
    occurred = [o for _sent, o in times]
    # 2 s apart in the recording, at speed 10: 0.2 s apart in event time as on the wire
    assert [b - a for a, b in itertools.pairwise(occurred)] == [200] * 12
    assert occurred[0] >= started_ms


def test_rebased_as_fast_as_possible_the_walk_ends_now(
        stand_in: StandIn) -> None:
    started_ms = SystemClock().now_ms()
    times = replayed(stand_in, "--rebase-time", "--walk-step-s", "30")
    assert all(occurred <= sent for sent, occurred in times), times
    occurred = [o for _sent, o in times]
    assert [b - a for a, b in itertools.pairwise(occurred)] == [30_000] * 12
    assert occurred[-1] >= started_ms  # the last position is "now", the first 6 minutes before


def test_a_walk_without_rebasing_is_never_in_the_future_either(
        stand_in: StandIn) -> None:
    times = replayed(stand_in, "--walk-step-s", "30")
    assert all(occurred <= sent for sent, occurred in times), times
