"""Unit tests for the per-customer state record: apply, de-dup, lateness, expiry, caps, codec."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import orjson
import pytest

from service.core.state import (
    STATE_VERSION,
    CustomerState,
    StateConfig,
    StateFormatError,
    StateVersionError,
    apply_event,
    decode_state,
    encode_state,
    event_digest,
    expire,
)
from tests.factories import CUSTOMER, DAY, HOUR, MIN, PHONE, T0, event, one_of_each, view

NOW = T0 + 400 * DAY  # received_at: later than every event unless a test exercises clock skew
CFG = StateConfig()


def run(events: list[dict[str, Any]], cfg: StateConfig = CFG) -> tuple[CustomerState, list[str]]:
    state: CustomerState | None = None
    outcomes: list[str] = []
    for ev in events:
        result = apply_event(state, ev, NOW, cfg)
        state = result.state
        outcomes.append(result.outcome)
    assert state is not None
    return state, outcomes


def test_one_of_each_builds_the_documented_record() -> None:
    state, outcomes = run(one_of_each(T0))
    assert outcomes == ["applied"] * 18
    m = MIN
    assert {k: v for k, v in state.items() if k != "seen_ids"} == {
        "v": 1,
        "customer_id": CUSTOMER,
        "first_seen_ms": T0,
        "updated_at_ms": T0 + 17 * m,
        "events_applied": 18,
        "late_count": 0,
        "clamped_count": 0,
        "locations": [[T0 + 2 * m, 51.52153, -0.11333, 8.0, 1.2]],
        "geofences": {"g-s1": [T0 + 3 * m, T0 + 4 * m, T0 + 5 * m, 600, "S1", 1, NOW]},
        "devices": {"dev-tablet": ["tablet", T0 + m], "dev-phone": ["phone", T0 + 9 * m]},
        "sessions": [
            [
                "s1",
                "dev-phone",
                "phone",
                T0 + 7 * m,
                T0 + 8 * m,
                "abandoned",
                {"screen": "checkout", "cart": ["p1"]},
            ]
        ],
        "views": [["p1", T0 + 9 * m]],
        "scans": [["p2", "4006381333931", "S1", T0 + 10 * m]],
        "wishlist": {"p3": [None, T0 + 12 * m, 0]},
        "cart": [["p1", "M", 2, T0 + 13 * m]],
        "orders": [["o1", T0 + 14 * m, "online", None, [["p1", "M", 1, 49.5, "EUR"]]]],
        "loyalty": [900, "silver", "gold", 1000, T0 + 15 * m],
        "contacts": [["c", T0 + 17 * m, "d1", "last_seen", "p1"], ["n", T0 + 16 * m, "n1", None, None]],
        "profile": {
            "locale": ["de-DE", T0],
            "time_zone": ["Europe/Berlin", T0],
            "home_area": [[52.5, 13.4], T0],
            "consent.push": [True, T0],
            "size.apparel": ["M", T0],
        },
        "identities": [["d", "dev-tablet", T0 + m], ["a", "anon-1", T0 + m]],
        "affinity": {
            "p1": [1, 0, 0, 1, 1, 1, T0 + 17 * m],
            "p2": [0, 1, 0, 0, 0, 0, T0 + 10 * m],
            "p3": [0, 0, 1, 0, 0, 0, T0 + 11 * m],
        },
    }
    assert len(state["seen_ids"]) == 18 * 12


def test_apply_does_not_modify_its_input() -> None:
    state, _ = run(one_of_each(T0))
    before = copy.deepcopy(state)
    for ev in one_of_each(T0 + HOUR):
        apply_event(state, ev, NOW, CFG)
    assert state == before


@pytest.mark.parametrize("ev", one_of_each(T0), ids=lambda e: e["type"])
def test_same_event_twice_is_a_duplicate_and_changes_nothing(ev: dict[str, Any]) -> None:
    first = apply_event(None, ev, NOW, CFG)
    second = apply_event(first.state, ev, NOW, CFG)
    assert (first.outcome, first.changed) == ("applied", True)
    assert (second.outcome, second.changed) == ("duplicate", False)
    assert second.state is first.state


def test_redelivery_after_other_events_counts_nothing_twice() -> None:
    events = one_of_each(T0)
    state, _ = run(events)
    encoded = encode_state(state)
    again, outcomes = run(events + events)
    assert outcomes == ["applied"] * 18 + ["duplicate"] * 18
    assert encode_state(again) == encoded
    assert again["events_applied"] == 18
    assert again["affinity"]["p1"] == [1, 0, 0, 1, 1, 1, T0 + 17 * MIN]


def test_same_order_under_new_event_id_counts_units_once() -> None:
    order = {
        "order_id": "o1",
        "channel": "store",
        "store_id": "S1",
        "lines": [{"product_id": "p1", "quantity": 3, "price": 10, "currency": "EUR"}],
    }
    state, outcomes = run(
        [
            event("order.placed", T0, "e1", **order),
            event("order.placed", T0, "e2", **order),
        ]
    )
    assert outcomes == ["applied", "applied"]
    assert state["orders"] == [["o1", T0, "store", "S1", [["p1", None, 3, 10, "EUR"]]]]
    assert state["affinity"]["p1"] == [0, 0, 0, 0, 3, 0, T0]


@pytest.mark.parametrize(
    ("offset_ms", "outcome", "late_count", "views"),
    [
        (-10 * MIN - 1, "late", 1, [["p-new", T0]]),
        (-10 * MIN, "applied", 0, [["p-new", T0], ["p-old", T0 - 10 * MIN]]),
        (-1, "applied", 0, [["p-new", T0], ["p-old", T0 - 1]]),
        (+1, "applied", 0, [["p-old", T0 + 1], ["p-new", T0]]),
    ],
)
def test_lateness_is_measured_against_the_customer_watermark(
    offset_ms: int, outcome: str, late_count: int, views: list[list[Any]]
) -> None:
    state, outcomes = run([view("p-new", T0), view("p-old", T0 + offset_ms)])
    assert outcomes == ["applied", outcome]
    assert state["late_count"] == late_count
    assert state["views"] == views
    assert state["events_applied"] == 2 - late_count
    assert state["updated_at_ms"] == max(T0, T0 + offset_ms if outcome == "applied" else T0)


def test_late_event_redelivered_is_a_duplicate_and_not_counted_twice() -> None:
    late = view("p-old", T0 - HOUR)
    state, outcomes = run([view("p-new", T0), late, late])
    assert outcomes == ["applied", "late", "duplicate"]
    assert state["late_count"] == 1


def test_lateness_ignores_the_wall_clock() -> None:
    # received a day after it happened, but the customer has nothing newer: applied.
    result = apply_event(None, view("p1", T0), T0 + DAY, CFG)
    assert result.outcome == "applied"


def test_out_of_order_within_grace_merges_sorted() -> None:
    t = [T0 + 5 * MIN, T0 + 1 * MIN, T0 + 3 * MIN]
    state, outcomes = run(
        [
            view("a", t[0]),
            view("b", t[1]),
            view("c", t[2]),
            event("location.updated", t[0], location={"lat": 1.0, "lon": 2.0}),
            event("location.updated", t[1], location={"lat": 1.1, "lon": 2.1}),
            event("location.updated", t[2], location={"lat": 1.2, "lon": 2.2}),
            event("loyalty.updated", t[0], points=50, tier="silver"),
            event("loyalty.updated", t[1], points=10, tier="bronze"),
            event("profile.updated", t[0], locale="en-GB"),
            event("profile.updated", t[1], locale="de-DE"),
        ]
    )
    assert outcomes == ["applied"] * 10
    assert state["views"] == [["a", t[0]], ["c", t[2]], ["b", t[1]]]
    assert [r[0] for r in state["locations"]] == [t[0], t[2], t[1]]
    assert state["loyalty"] == [50, "silver", None, None, t[0]]
    assert state["profile"] == {"locale": ["en-GB", t[0]]}


@pytest.mark.parametrize(
    ("kinds_and_offsets", "wishlist"),
    [
        ([("wishlist.added", 0)], {"p": ["M", T0, 1]}),
        ([("wishlist.added", 0), ("wishlist.removed", 1)], {"p": [None, T0 + 1, 0]}),
        ([("wishlist.removed", 1), ("wishlist.added", 0)], {"p": [None, T0 + 1, 0]}),
        ([("wishlist.removed", 0), ("wishlist.added", 0)], {"p": [None, T0, 0]}),  # tie: removal
        ([("wishlist.removed", 0), ("wishlist.added", 1)], {"p": ["M", T0 + 1, 1]}),
    ],
)
def test_wishlist_latest_wins_by_event_time(kinds_and_offsets: list[tuple[str, int]], wishlist: dict[str, Any]) -> None:
    events = [
        event(kind, T0 + off, product_id="p", **({"size": "M"} if kind == "wishlist.added" else {}))
        for kind, off in kinds_and_offsets
    ]
    state, _ = run(events)
    assert state["wishlist"] == wishlist


def test_removal_tombstone_expires_after_the_grace_window() -> None:
    state, _ = run(
        [
            event("wishlist.removed", T0, product_id="p"),
            view("x", T0 + 10 * MIN),
        ]
    )
    assert state["wishlist"] == {"p": [None, T0, 0]}
    state, _ = run([event("wishlist.removed", T0, product_id="p"), view("x", T0 + 10 * MIN + 1)])
    assert state["wishlist"] == {}


@pytest.mark.parametrize(
    ("sequence", "row"),
    [
        (["geofence.entered@0"], [T0, T0, None, None, "S1", 0, NOW]),
        (["geofence.entered@0", "geofence.exited@5"], [T0, T0, T0 + 5, None, "S1", 0, NOW]),
        (["geofence.exited@5", "geofence.entered@0"], [T0, T0, T0 + 5, None, "S1", 0, NOW]),
        (["geofence.entered@0", "geofence.dwelled@3"], [T0, T0 + 3, None, None, "S1", 1, NOW]),
        (["geofence.exited@0", "geofence.entered@5"], [T0 + 5, T0 + 5, T0, None, "S1", 0, NOW]),
    ],
)
def test_geofence_presence_merges_by_event_time(sequence: list[str], row: list[Any]) -> None:
    events = []
    for item in sequence:
        kind, off = item.split("@")
        events.append(event(kind, T0 + int(off), geofence_id="g1", store_id="S1"))
    state, _ = run(events)
    assert state["geofences"] == {"g1": row}


def test_geofence_row_keeps_the_arrival_of_the_evidence_behind_last_seen() -> None:
    g = {"geofence_id": "g1", "store_id": "S1"}
    entered = event("geofence.entered", T0, **g)
    dwelled = event("geofence.dwelled", T0 + MIN, **g)
    exited = event("geofence.exited", T0 + 2 * MIN, **g)
    state = apply_event(None, entered, T0 + 5_000).state
    assert state is not None and state["geofences"]["g1"][6] == T0 + 5_000
    # a newer dwell replaces the arrival; an exit never changes it
    state = apply_event(state, dwelled, T0 + MIN + 700).state
    state = apply_event(state, exited, T0 + 9 * MIN).state
    assert state is not None and state["geofences"]["g1"] == [T0, T0 + MIN, T0 + 2 * MIN, None, "S1", 1, T0 + MIN + 700]
    # an older enter arriving late changes neither last_seen nor its arrival
    late = event("geofence.entered", T0 - 30_000, "late-enter", **g)
    after = apply_event(state, late, T0 + 10 * MIN).state
    assert after is not None and after["geofences"]["g1"][1:] == [T0 + MIN, T0 + 2 * MIN, None, "S1", 1, T0 + MIN + 700]


def test_geofence_arrival_at_equal_event_times_is_the_earliest_whatever_the_order() -> None:
    g = {"geofence_id": "g1", "store_id": "S1"}
    a = event("geofence.entered", T0, "copy-a", **g)
    b = event("geofence.entered", T0, "copy-b", **g)
    for first, second in ((a, b), (b, a)):
        s1 = apply_event(None, first, T0 + 40 * MIN).state
        s2 = apply_event(s1, second, T0 + 1_000).state
        assert s2 is not None and s2["geofences"]["g1"][6] == T0 + 1_000


def test_a_six_slot_geofence_row_from_an_older_build_is_read_and_upgraded() -> None:
    old = {"v": 1, "customer_id": CUSTOMER, "updated_at_ms": T0, "geofences": {"g1": [T0, T0, None, None, "S1", 0]}}
    state = decode_state(orjson.dumps(old))
    assert state["geofences"]["g1"] == [T0, T0, None, None, "S1", 0]
    state = apply_event(state, event("geofence.exited", T0 + MIN, geofence_id="g1"), T0 + MIN).state
    assert state is not None and state["geofences"]["g1"] == [T0, T0, T0 + MIN, None, "S1", 0, None]


def test_geofence_store_falls_back_to_the_provider_external_id() -> None:
    state, _ = run(
        [
            event("geofence.entered", T0, geofence_id="g1", external_id="ext-7"),
            event("geofence.dwelled", T0 + 1, geofence_id="g2", store_id="S2"),
            event("geofence.exited", T0 + 2, geofence_id="g2", external_id="ext-9"),
        ]
    )
    assert state["geofences"]["g1"][4] == "ext-7"
    assert state["geofences"]["g2"][4] == "S2"


def test_future_occurred_at_is_clamped_to_received_at_plus_skew() -> None:
    result = apply_event(None, view("p1", T0 + HOUR), T0, CFG)
    assert result.state is not None
    assert result.state["updated_at_ms"] == T0 + 5 * MIN
    assert result.state["views"] == [["p1", T0 + 5 * MIN]]
    assert result.state["clamped_count"] == 1


@pytest.mark.parametrize(
    ("ev", "collection", "window_ms"),
    [
        (view("p1", T0), "views", 30 * DAY),
        (event("location.updated", T0, location={"lat": 1, "lon": 2}), "locations", DAY),
        (event("session.started", T0, session_id="s", device=PHONE), "sessions", 48 * HOUR),
        (event("product.scanned", T0, gtin="12345678"), "scans", 30 * DAY),
        (event("notification.opened", T0, notification_id="n"), "contacts", 90 * DAY),
        (event("cart.added", T0, product_id="p"), "cart", 30 * DAY),
        (
            event(
                "order.placed",
                T0,
                order_id="o",
                channel="online",
                lines=[{"product_id": "p", "quantity": 1, "price": 1, "currency": "EUR"}],
            ),
            "orders",
            365 * DAY,
        ),
        (event("geofence.entered", T0, geofence_id="g"), "geofences", 12 * HOUR),
        (event("geofence.dwelled", T0, geofence_id="g"), "geofences", 30 * DAY),
        (event("geofence.entered", T0, geofence_id="g", confidence=3), "geofences", 30 * DAY),
        (event("app.opened", T0, device=PHONE), "devices", 90 * DAY),
        (event("product.viewed", T0, product_id="only-affinity"), "affinity", 90 * DAY),
    ],
    ids=lambda v: v["type"] if isinstance(v, dict) else str(v),
)
def test_facts_expire_by_event_time(ev: dict[str, Any], collection: str, window_ms: int) -> None:
    state, _ = run([ev])
    assert len(state[collection]) == 1
    kept = run([ev, event("loyalty.updated", T0 + window_ms, points=1, tier="t")])[0]
    gone = run([ev, event("loyalty.updated", T0 + window_ms + 1, points=1, tier="t")])[0]
    assert len(kept[collection]) == 1
    assert len(gone[collection]) == 0
    # the same through expire() with an explicit now_ms, without modifying its input
    assert len(expire(state, T0 + window_ms, CFG)[collection]) == 1
    assert len(expire(state, T0 + window_ms + 1, CFG)[collection]) == 0
    assert len(state[collection]) == 1


def _n(kind: str, i: int) -> dict[str, Any]:
    t = T0 + i * MIN
    build: dict[str, Callable[[], dict[str, Any]]] = {
        "views": lambda: view(f"p{i}", t),
        "locations": lambda: event("location.updated", t, location={"lat": 1, "lon": i % 180}),
        "sessions": lambda: event("session.started", t, session_id=f"s{i}", device=PHONE),
        "scans": lambda: event("product.scanned", t, product_id=f"p{i}"),
        "wishlist": lambda: event("wishlist.added", t, product_id=f"p{i}"),
        "cart": lambda: event("cart.added", t, product_id=f"p{i}"),
        "orders": lambda: event(
            "order.placed",
            t,
            order_id=f"o{i}",
            channel="online",
            lines=[{"product_id": "p", "quantity": 1, "price": 1, "currency": "EUR"}],
        ),
        "contacts": lambda: event("notification.opened", t, notification_id=f"n{i}"),
        "identities": lambda: event("identity.linked", t, anonymous_id=f"a{i}"),
        "devices": lambda: event("app.opened", t, device={"id": f"d{i}", "type": "web"}),
        "geofences": lambda: event("geofence.entered", t, geofence_id=f"g{i}"),
        "affinity": lambda: event("content.clicked", t, product_id=f"p{i}"),
    }
    return build[kind]()


@pytest.mark.parametrize(
    ("collection", "cap"),
    [
        ("views", 50),
        ("locations", 20),
        ("sessions", 10),
        ("scans", 20),
        ("wishlist", 100),
        ("cart", 50),
        ("orders", 20),
        ("contacts", 50),
        ("identities", 20),
        ("devices", 10),
        ("geofences", 20),
        ("affinity", 100),
    ],
)
def test_caps_hold_and_keep_the_newest(collection: str, cap: int) -> None:
    state, _ = run([_n(collection, i) for i in range(cap + 5)])
    assert len(state[collection]) == cap
    # every row carries its event time, and event i happened at T0 + i minutes
    blob = orjson.dumps(state[collection]).decode()
    assert str(T0 + (cap + 4) * MIN) in blob
    assert str(T0 + 5 * MIN) in blob
    assert str(T0 + 4 * MIN) not in blob


def test_only_the_newest_screen_state_is_kept() -> None:
    state, _ = run(
        [
            event(
                "session.ended", T0 + i, session_id=f"s{i}", device=PHONE, outcome="abandoned", screen_state={"step": i}
            )
            for i in range(3)
        ]
    )
    assert [r[6] for r in state["sessions"]] == [{"step": 2}, None, None]


def test_dedup_ring_is_bounded_and_forgets_the_oldest() -> None:
    cfg = StateConfig(dedup_ring_size=3)
    events = [view(f"p{i}", T0 + i) for i in range(4)]
    state, _ = run(events, cfg)
    assert state["seen_ids"] == "".join(event_digest(e["event_id"]) for e in events[1:])
    assert apply_event(state, events[0], NOW, cfg).outcome == "applied"
    assert apply_event(state, events[1], NOW, cfg).outcome == "duplicate"


@pytest.mark.parametrize(
    "ev",
    [
        {
            "event_id": "r1",
            "type": "stock.changed",
            "occurred_at": "2026-01-01T00:00:00Z",
            "source": "erp",
            "store_id": "S1",
            "product_id": "p1",
            "quantity": 3,
        },
        {
            "event_id": "r2",
            "type": "something.new",
            "occurred_at": "2026-01-01T00:00:00Z",
            "source": "x",
            "customer_id": CUSTOMER,
        },
    ],
)
def test_non_customer_events_are_ignored(ev: dict[str, Any]) -> None:
    assert apply_event(None, ev, NOW, CFG) == apply_event(None, ev, NOW, CFG)
    result = apply_event(None, ev, NOW, CFG)
    assert (result.state, result.outcome, result.changed) == (None, "ignored", False)
    state, _ = run([view("p", T0)])
    result = apply_event(state, ev, NOW, CFG)
    assert (result.state, result.outcome, result.changed) == (state, "ignored", False)


def test_encode_decode_roundtrip() -> None:
    state, _ = run(one_of_each(T0))
    raw = encode_state(state)
    assert decode_state(raw) == state
    assert encode_state(decode_state(raw)) == raw


def test_unknown_future_field_is_preserved_through_decode_apply_encode() -> None:
    state, _ = run([view("p1", T0)])
    record = {**state, "x_next_best_action": {"model": "m7", "score": 0.4}}
    decoded = decode_state(orjson.dumps(record))
    after = apply_event(decoded, view("p2", T0 + 1), NOW, CFG).state
    assert after is not None
    assert orjson.loads(encode_state(after))["x_next_best_action"] == {"model": "m7", "score": 0.4}


def test_v0_record_migrates_to_current_version() -> None:
    v0 = {
        "customer_id": CUSTOMER,
        "updated_at_ms": T0,
        "first_seen_ms": T0 - DAY,
        "views": ["p3", "p1", "p3", "p2"],  # pre-release: product ids only, newest first
        "legacy_flag": True,
    }
    state = decode_state(orjson.dumps(v0))
    assert state["v"] == STATE_VERSION == 1
    assert state["views"] == [["p3", T0], ["p1", T0 - 1], ["p2", T0 - 2]]
    assert state["legacy_flag"] is True
    assert (state["wishlist"], state["seen_ids"], state["loyalty"]) == ({}, "", None)
    after = apply_event(state, view("p9", T0 + 1), NOW, CFG).state
    assert after is not None
    assert after["views"][:2] == [["p9", T0 + 1], ["p3", T0]]


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        (b'{"v": 2, "customer_id": "c"}', StateVersionError),
        (b'{"v": "1"}', StateFormatError),
        (b'{"v": -1}', StateFormatError),
        (b"[1, 2]", StateFormatError),
        (b"not json", StateFormatError),
    ],
)
def test_decode_rejects_what_it_cannot_read(raw: bytes, error: type[Exception]) -> None:
    with pytest.raises(error):
        decode_state(raw)
    assert issubclass(error, ValueError)


UUID = "6579c22f-be2b-444c-a52b-0116dd82df6c"  # product ids in the demo catalogue are UUIDs


@pytest.mark.parametrize(
    ("views", "fixes", "max_bytes"),
    [
        (3, 3, 2048),  # the journey customer: one event of each kind, a few products viewed
        (15, 7, 4096),  # a heavy browsing afternoon: each product id is stored twice (views, affinity)
    ],
)
def test_typical_customers_encode_small(views: int, fixes: int, max_bytes: int) -> None:
    events = one_of_each(T0)
    events += [view(f"{UUID[:-2]}{i:02d}", T0 + HOUR + i * MIN) for i in range(views)]
    events += [
        event("location.updated", T0 + 2 * HOUR + i * MIN, location={"lat": 51.5 + i / 1000, "lon": -0.1})
        for i in range(fixes)
    ]
    state, _ = run(events)
    assert state["events_applied"] == 18 + views + fixes
    assert len(encode_state(state)) < max_bytes


def test_worst_case_record_is_bounded_by_the_caps() -> None:
    # Every collection at its cap, every id at the schema's 128-character maximum.
    def long(tag: str, i: int) -> str:
        return f"{tag}{i:04d}".ljust(128, "x")

    line = {"product_id": "", "size": "S" * 32, "quantity": 99, "price": 999.99, "currency": "EUR"}
    events: list[dict[str, Any]] = []
    for i in range(120):
        t = T0 + i * MIN
        events += [
            event("product.viewed", t, long("v", i), product_id=long("p", i)),
            event(
                "product.scanned",
                t,
                long("s", i),
                product_id=long("p", i),
                gtin="12345678901234",
                store_id=long("S", i),
            ),
            event("wishlist.added", t, long("w", i), product_id=long("w", i), size="S" * 32),
            event("wishlist.removed", t + 1, long("r", i), product_id=long("w", i + 100)),
            event("cart.added", t, long("c", i), product_id=long("c", i), size="S" * 32, quantity=9),
            event(
                "order.placed",
                t,
                long("o", i),
                order_id=long("o", i),
                channel="store",
                store_id=long("S", i),
                lines=[{**line, "product_id": long(f"l{j}-", i)} for j in range(100)],
            ),
            event("notification.opened", t, long("n", i), notification_id=long("n", i)),
            event(
                "content.clicked", t, long("k", i), decision_id=long("d", i), block_id="b" * 64, product_id=long("k", i)
            ),
            event(
                "identity.linked",
                t,
                long("i", i),
                device_id=long("dv", i),
                anonymous_id=long("an", i),
                device_type="tablet",
            ),
            event("geofence.dwelled", t, long("g", i), geofence_id=long("g", i), store_id=long("S", i)),
            event(
                "session.ended",
                t,
                long("e", i),
                session_id=long("e", i),
                outcome="abandoned",
                device={"id": long("dv", i), "type": "phone"},
                screen_state={"blob": "z" * 4000},
            ),
            event(
                "location.updated",
                t,
                long("l", i),
                location={"lat": -89.123456789, "lon": -179.123456789},
                accuracy_m=12345.678,
                speed_mps=12.345,
            ),
            event("profile.updated", t, long("pr", i), sizes={f"cat{i:03d}".ljust(32, "c"): "S" * 32}),
        ]
    state, outcomes = run(events)
    assert set(outcomes) == {"applied"}
    size = len(encode_state(state))
    assert 100_000 < size < 256 * 1024, size
