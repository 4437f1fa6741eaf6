"""Property tests: de-dup idempotence, order independence within grace, bounded state, decide total."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from service.core.decide import decide
from service.core.policy import DEFAULT_POLICY, load_policy
from service.core.reference import ReferenceData, apply_reference_event
from service.core.state import CustomerState, StateConfig, apply_event, encode_state
from tests.factories import DAY, MIN, T0, event, ref_event, response_validator

CFG = StateConfig()
RECEIVED = T0 + 1000 * DAY  # later than every generated event: no clamping
PIDS = [f"p{i}" for i in range(12)]
STORES = ["S0", "S1", "S2"]


def _device(i: int) -> dict[str, str]:
    return {"id": f"d{i}", "type": ("phone", "tablet", "web")[i % 3]}  # a device keeps its type


def _location() -> st.SearchStrategy[dict[str, float]]:
    return st.fixed_dictionaries({"lat": st.floats(-90, 90), "lon": st.floats(-180, 180)})


def _opt(**fields: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({}, optional=fields)


pid = st.sampled_from(PIDS)
size = st.sampled_from(["S", "M", "L"])
gid = st.integers(0, 3)

FIELDS: dict[str, st.SearchStrategy[dict[str, Any]]] = {
    "profile.updated": st.fixed_dictionaries(
        {"locale": st.sampled_from(["en-GB", "de-DE"])},
        optional={
            "sizes": st.dictionaries(st.sampled_from(["apparel", "footwear"]), size, max_size=2),
            "consent": st.fixed_dictionaries({"push": st.booleans()}),
            "home_area": _location(),
        },
    ),
    "identity.linked": st.builds(
        lambda i, a: {"device_id": f"d{i}", "device_type": _device(i)["type"], "anonymous_id": f"a{a}"},
        st.integers(0, 3),
        st.integers(0, 3),
    ),
    "location.updated": st.builds(
        lambda loc, extra: {"location": loc, **extra},
        _location(),
        _opt(accuracy_m=st.floats(0, 500), speed_mps=st.floats(0, 40)),
    ),
    "geofence.entered": st.builds(
        lambda g, c: {"geofence_id": f"g{g}", "store_id": f"S{g % 3}", "confidence": c}, gid, st.integers(1, 3)
    ),
    "geofence.dwelled": st.builds(lambda g, d: {"geofence_id": f"g{g}", "dwell_s": d}, gid, st.integers(0, 900)),
    "geofence.exited": st.builds(lambda g: {"geofence_id": f"g{g}", "store_id": f"S{g % 3}"}, gid),
    "app.opened": st.builds(lambda i: {"device": _device(i)}, st.integers(0, 3)),
    "session.started": st.builds(lambda s: {"session_id": f"s{s}", "device": _device(s)}, st.integers(0, 3)),
    "session.ended": st.builds(
        lambda s, o, scr: {"session_id": f"s{s}", "device": _device(s), "outcome": o, **scr},
        st.integers(0, 3),
        st.sampled_from(["completed", "abandoned"]),
        _opt(screen_state=st.fixed_dictionaries({"step": st.integers(0, 5)})),
    ),
    "product.viewed": st.builds(
        lambda p, d: {"product_id": p, **d}, pid, _opt(device=st.builds(_device, st.integers(0, 3)))
    ),
    "product.scanned": st.builds(lambda p, s: {"product_id": p, **s}, pid, _opt(store_id=st.sampled_from(STORES))),
    "wishlist.added": st.builds(lambda p, s: {"product_id": p, **s}, pid, _opt(size=size)),
    "wishlist.removed": st.builds(lambda p: {"product_id": p}, pid),
    "cart.added": st.builds(lambda p, q: {"product_id": p, "quantity": q}, pid, st.integers(1, 3)),
    "order.placed": st.builds(
        lambda lines, ch: {"channel": ch, "lines": lines},
        st.lists(
            st.fixed_dictionaries(
                {
                    "product_id": pid,
                    "quantity": st.integers(1, 3),
                    "price": st.floats(0, 500),
                    "currency": st.just("EUR"),
                }
            ),
            min_size=1,
            max_size=3,
        ),
        st.sampled_from(["online", "store"]),
    ),
    "loyalty.updated": st.builds(
        lambda p, tier: {"points": p, "tier": tier, "next_tier": tier + "+"},
        st.integers(0, 5000),
        st.sampled_from(["bronze", "silver", "gold"]),
    ),
    "notification.opened": st.builds(lambda n: {"notification_id": f"n{n}"}, st.integers(0, 5)),
    "content.clicked": _opt(decision_id=st.just("d-1"), block_id=st.just("last_seen"), product_id=pid),
}


@st.composite
def customer_events(draw: st.DrawFn, max_size: int = 40, span_ms: int = 3 * DAY) -> list[dict[str, Any]]:
    """Valid customer events with unique ids (and order ids), times within span_ms of T0."""
    kinds = draw(st.lists(st.sampled_from(sorted(FIELDS)), max_size=max_size))
    events = []
    for i, kind in enumerate(kinds):
        fields = draw(FIELDS[kind])
        if kind == "order.placed":
            fields = {**fields, "order_id": f"o{i}"}
        events.append(event(kind, T0 + draw(st.integers(0, span_ms)), f"e{i}", **fields))
    return events


def apply_all(events: list[dict[str, Any]]) -> tuple[CustomerState | None, list[str]]:
    state: CustomerState | None = None
    outcomes: list[str] = []
    for ev in events:
        result = apply_event(state, ev, RECEIVED, CFG)
        state = result.state
        outcomes.append(result.outcome)
    return state, outcomes


@given(customer_events(), st.data())
def test_redelivered_events_change_nothing(events: list[dict[str, Any]], data: st.DataObject) -> None:
    state, _ = apply_all(events)
    # redeliver any of them, in any order, any number of times
    again = data.draw(st.lists(st.sampled_from(events), max_size=20)) if events else []
    for ev in again:
        result = apply_event(state, ev, RECEIVED, CFG)
        assert (result.outcome, result.changed) == ("duplicate", False)
        assert result.state is state
    if state is not None:
        assert state["events_applied"] + state["late_count"] == len(events)


@given(customer_events(), st.data())
def test_interleaved_duplicates_equal_the_deduplicated_stream(
    events: list[dict[str, Any]], data: st.DataObject
) -> None:
    with_dups = list(events)
    for ev in data.draw(st.lists(st.sampled_from(events), max_size=10)) if events else []:
        with_dups.insert(data.draw(st.integers(0, len(with_dups))), ev)
    first_seen: dict[str, dict[str, Any]] = {}
    for ev in with_dups:
        first_seen.setdefault(ev["event_id"], ev)
    assert apply_all(with_dups)[0] == apply_all(list(first_seen.values()))[0]


@given(
    customer_events(max_size=25, span_ms=10 * MIN).flatmap(lambda evs: st.tuples(st.just(evs), st.permutations(evs)))
)
def test_order_independent_within_grace(pair: tuple[list[dict[str, Any]], list[dict[str, Any]]]) -> None:
    in_order, shuffled = pair
    a, outcomes = apply_all(in_order)
    b, _ = apply_all(shuffled)
    assert set(outcomes) <= {"applied"}
    if a is None or b is None:
        assert a is b
        return
    # the de-dup ring records arrival order; every fact must not depend on it
    assert {k: v for k, v in a.items() if k != "seen_ids"} == {k: v for k, v in b.items() if k != "seen_ids"}


CAPS = {
    "locations": 20,
    "geofences": 20,
    "devices": 10,
    "sessions": 10,
    "views": 50,
    "scans": 20,
    "cart": 50,
    "orders": 20,
    "contacts": 50,
    "identities": 20,
    "affinity": 100,
}


@given(customer_events(max_size=300, span_ms=400 * DAY))
def test_state_stays_bounded(events: list[dict[str, Any]]) -> None:
    state, _ = apply_all(events)
    if state is None:
        return
    for key, cap in CAPS.items():
        assert len(state[key]) <= cap, key
    assert sum(1 for r in state["wishlist"].values() if r[2]) <= 100
    assert len(state["seen_ids"]) <= 12 * CFG.dedup_ring_size
    assert sum(1 for r in state["sessions"] if r[6] is not None) <= 1
    assert len(encode_state(state)) < 64 * 1024  # these ids are short; the 128-char worst case is in unit tests


def _reference(draw: st.DrawFn) -> ReferenceData:
    ref = ReferenceData()
    for i, p in enumerate(draw(st.lists(pid, unique=True))):
        apply_reference_event(
            ref,
            ref_event(
                "product.upserted",
                T0,
                f"prod{i}",
                product_id=p,
                name=f"Product {p}",
                category=draw(st.sampled_from(["apparel", "footwear"])),
                price=draw(st.sampled_from([9.5, 45.0, 150.0])),
                currency="EUR",
                promoted=draw(st.booleans()),
                **draw(_opt(
                    on_sale=st.booleans(), sizes=st.lists(size, unique=True, max_size=3),
                    goes_with=st.lists(pid, unique=True, max_size=3), arrived_at=st.just("2026-01-01T00:00:00Z"),
                    style=st.sampled_from(["coat", "boots", "jacket"]), material=st.just("wool"),
                    rating=st.just({"average": 4.0, "count": 3}),
                    reviews=st.just([{"rating": 5, "text": "good", "locale": "de-DE"}]))),
            ),
        )
    for i, s in enumerate(draw(st.lists(st.sampled_from(STORES), unique=True))):
        apply_reference_event(
            ref, ref_event("store.upserted", T0, f"st{i}", store_id=s, name=s, location={"lat": 51.5, "lon": -0.1},
                           **draw(_opt(geofence=st.just({"type": "Polygon", "coordinates": [
                               [[-0.11, 51.49], [-0.09, 51.49], [-0.09, 51.51], [-0.11, 51.51], [-0.11, 51.49]]]}))))
        )
    if draw(st.booleans()):
        apply_reference_event(ref, ref_event("weather.observed", T0, "w0", location={"lat": 51.5, "lon": -0.1},
                                             condition=draw(st.sampled_from(["rain", "clear", "unknown"])),
                                             temperature_c=7.0))
    levels = draw(
        st.lists(
            st.tuples(st.sampled_from([*STORES, "online"]), pid, st.one_of(st.none(), size), st.integers(0, 3)),
            max_size=30,
        )
    )
    for i, (s, p, sz, q) in enumerate(levels):
        fields: dict[str, Any] = {"store_id": s, "product_id": p, "quantity": q}
        if sz is not None:
            fields["size"] = sz
        apply_reference_event(ref, ref_event("stock.changed", T0 + i, f"stock{i}", **fields))
    return ref


@st.composite
def decision_inputs(draw: st.DrawFn) -> tuple[CustomerState | None, dict[str, Any], ReferenceData, int]:
    state, _ = apply_all(draw(customer_events(max_size=30, span_ms=2 * DAY)))
    request: dict[str, Any] = {
        "customer_id": "c-anna",
        "placement": draw(
            st.one_of(
                st.sampled_from(["app.home", "app.store", "app.product", "web.home"]),
                st.from_regex(r"\A[a-z]{1,8}\.[a-z_]{1,12}\Z"),
            )
        ),
        "device": _device(draw(st.integers(0, 5))),
    }
    request.update(
        draw(_opt(locale=st.just("en-GB"), location=_location(), product_id=pid, store_id=st.sampled_from(STORES)))
    )
    now = T0 + draw(st.integers(-DAY, 3 * DAY))
    return state, request, _reference(draw), now


VALIDATOR = response_validator()
POLICY = load_policy(DEFAULT_POLICY)


@given(decision_inputs())
def test_decide_never_raises_and_answers_per_contract(
    inputs: tuple[CustomerState | None, dict[str, Any], ReferenceData, int],
) -> None:
    state, request, ref, now = inputs
    decision = decide(state, request, ref, POLICY, now, "0b7e7a8e-8d4c-4c4e-9a55-3f1d2c3b4a5e")
    VALIDATOR.validate(decision)
    placed = [i["product_id"] for b in decision["blocks"] for i in b["items"]]
    assert len(placed) == len(set(placed))
    assert decision["incentive"] is None or decision["incentive"]["id"] in {i.id for i in POLICY.incentives}
    # same state, request, policy and clock: the same screen, blocks and incentive; only the id differs
    again = decide(state, request, ref, POLICY, now, "1c8f8b9f-9e5d-4d5f-8b66-4f2e3d4c5b6f")
    assert {**again, "decision_id": decision["decision_id"]} == decision
