"""Unit tests for decide: screen rules, blocks, filtering, cold start, determinism, response shape."""

from __future__ import annotations

from typing import Any

import pytest

from service.core.decide import decide
from service.core.policy import DEFAULT_POLICY
from service.core.reference import ReferenceData, apply_reference_event
from service.core.state import CustomerState, apply_event
from tests.factories import (
    CUSTOMER,
    HOUR,
    MIN,
    PHONE,
    SCHEMAS,
    T0,
    TABLET,
    event,
    ref_event,
    request,
    response_validator,
    view,
)

DECISION_ID = "0b7e7a8e-8d4c-4c4e-9a55-3f1d2c3b4a5e"


def make_ref(
    *, promoted: tuple[str, ...] = ("p5", "p6"), stock: tuple[tuple[str, str, str | None, int], ...] = ()
) -> ReferenceData:
    ref = ReferenceData()
    for i in range(1, 8):
        pid = f"p{i}"
        apply_reference_event(
            ref,
            ref_event(
                "product.upserted",
                T0,
                f"prod-{pid}",
                product_id=pid,
                name=f"Product {i}",
                category="apparel",
                price=10.0 * i,
                currency="EUR",
                promoted=pid in promoted,
            ),
        )
    apply_reference_event(
        ref,
        ref_event(
            "store.upserted", T0, "store-S1", store_id="S1", name="London", location={"lat": 51.52153, "lon": -0.11333}
        ),
    )
    for n, (store, pid, size, qty) in enumerate(stock):
        fields: dict[str, Any] = {"store_id": store, "product_id": pid, "quantity": qty}
        if size is not None:
            fields["size"] = size
        apply_reference_event(ref, ref_event("stock.changed", T0, f"stock-{n}", **fields))
    return ref


def state_of(*events: dict[str, Any]) -> CustomerState:
    state: CustomerState | None = None
    for ev in events:
        state = apply_event(state, ev, T0 + 365 * 24 * HOUR).state
    assert state is not None
    return state


def items(decision: dict[str, Any]) -> dict[str, list[str]]:
    return {b["id"]: [i["product_id"] for i in b["items"]] for b in decision["blocks"]}


def codes(decision: dict[str, Any]) -> list[tuple[str, str]]:
    return [(r["code"], r["detail"]) for r in decision["reasons"]]


def test_home_lists_viewed_products_newest_first() -> None:
    state = state_of(view("p1", T0), view("p2", T0 + MIN), view("p3", T0 + 2 * MIN), view("p1", T0 + 3 * MIN))
    decision = decide(state, request(device=TABLET), make_ref(), DEFAULT_POLICY, T0 + HOUR, DECISION_ID)
    assert decision == {
        "decision_id": DECISION_ID,
        "customer_id": CUSTOMER,
        "placement": "app.home",
        "screen": "home",
        "blocks": [
            {
                "id": "last_seen",
                "kind": "carousel",
                "items": [
                    {"product_id": "p1", "name": "Product 1"},
                    {"product_id": "p3", "name": "Product 3"},
                    {"product_id": "p2", "name": "Product 2"},
                ],
            },
            {
                "id": "bestsellers",
                "kind": "grid",
                "items": [
                    {"product_id": "p5", "name": "Product 5"},
                    {"product_id": "p6", "name": "Product 6"},
                ],
            },
        ],
        "incentive": None,
        "reasons": [
            {
                "code": "screen_rule",
                "detail": "home: placement app.home, device tablet, in_store=False, located=False, cold_start=False",
            },
            {"code": "block_empty", "detail": "wishlist: nothing to show, block omitted"},
        ],
        "state_as_of": "2026-01-01T12:03:00.000Z",
        "degraded": False,
        "degraded_reasons": [],
        "policy_version": "default-2026.12.1",
        "decided_at": "2026-01-01T13:00:00.000Z",
        "cold_start": False,
    }


def test_last_seen_drops_products_out_of_stock_everywhere_when_stock_is_known() -> None:
    ref = make_ref(
        stock=(
            ("S1", "p2", None, 0),
            ("online", "p2", None, 0),
            ("S1", "p3", "M", 0),
            ("online", "p3", "L", 2),
            ("S1", "p5", None, 0),
        )
    )
    state = state_of(view("p1", T0), view("p2", T0 + 1), view("p3", T0 + 2))
    decision = decide(state, request(device=TABLET), ref, DEFAULT_POLICY, T0 + HOUR, DECISION_ID)
    # p1: no stock known -> kept; p2: zero everywhere -> dropped; p3: online in L -> kept
    assert items(decision) == {"last_seen": ["p3", "p1"], "bestsellers": ["p6"]}
    assert ("filtered_out_of_stock", "last_seen: p2") in codes(decision)
    assert ("filtered_out_of_stock", "bestsellers: p5") in codes(decision)


def test_cold_start_gets_the_home_screen_with_bestsellers() -> None:
    decision = decide(None, request(location={"lat": 51.5, "lon": -0.1}), make_ref(), DEFAULT_POLICY, T0, DECISION_ID)
    assert (decision["screen"], decision["cold_start"], decision["state_as_of"]) == ("home", True, None)
    assert items(decision) == {"bestsellers": ["p5", "p6"]}
    assert codes(decision) == [
        ("cold_start", "nothing known about this customer yet"),
        ("screen_rule", "home: placement app.home, device phone, in_store=False, located=True, cold_start=True"),
        ("block_empty", "last_seen: nothing to show, block omitted"),
        ("block_empty", "wishlist: nothing to show, block omitted"),
    ]


def test_cold_start_without_promoted_products_falls_back_to_the_catalogue() -> None:
    decision = decide(None, request(), make_ref(promoted=()), DEFAULT_POLICY, T0, DECISION_ID)
    assert items(decision) == {"bestsellers": ["p1", "p2", "p3", "p4", "p5", "p6", "p7"]}
    assert ("bestsellers_fallback", "bestsellers: no promoted products, catalogue by id") in codes(decision)


def test_cold_start_with_empty_reference_data_is_still_a_valid_decision() -> None:
    decision = decide(None, request(), ReferenceData(), DEFAULT_POLICY, T0, DECISION_ID)
    assert (decision["screen"], decision["blocks"]) == ("home", [])


def entered(t: int, **extra: Any) -> dict[str, Any]:
    return event("geofence.entered", t, geofence_id="g-s1", **{"store_id": "S1", **extra})


@pytest.mark.parametrize(
    ("events", "now", "placement", "screen"),
    [
        ([entered(T0)], T0 + 29 * MIN, "app.home", "in_store"),
        ([entered(T0)], T0 + 30 * MIN, "app.home", "in_store"),
        ([entered(T0)], T0 + 30 * MIN + 1, "app.home", "home"),  # not confirmed for 30 min
        (
            [entered(T0), event("geofence.dwelled", T0 + 20 * MIN, geofence_id="g-s1")],
            T0 + 45 * MIN,
            "app.home",
            "in_store",
        ),
        ([entered(T0), event("geofence.exited", T0 + MIN, geofence_id="g-s1")], T0 + 2 * MIN, "app.home", "home"),
        ([entered(T0)], T0 + MIN, "app.store", "in_store"),
        ([entered(T0)], T0 + MIN, "web.home", "home"),
        # a geofence without a store id counts only when its id is a known store
        ([event("geofence.entered", T0, geofence_id="g-bus-stop")], T0 + MIN, "app.home", "home"),
        ([event("geofence.entered", T0, geofence_id="S1")], T0 + MIN, "app.home", "in_store"),
    ],
)
def test_in_store_screen(events: list[dict[str, Any]], now: int, placement: str, screen: str) -> None:
    decision = decide(
        state_of(*events), request(placement, device=TABLET), make_ref(), DEFAULT_POLICY, now, DECISION_ID
    )
    assert decision["screen"] == screen


def test_in_store_screen_blocks_and_reason() -> None:
    ref = make_ref(
        stock=(
            ("S1", "p4", "M", 1),
            ("S1", "p4", "L", 0),
            ("S1", "p3", "L", 2),
            ("S1", "p6", None, 5),
            ("S1", "p1", None, 1),
            ("S1", "p7", None, 1),
            ("online", "p2", None, 9),
        )
    )
    state = state_of(
        event("profile.updated", T0, sizes={"apparel": "M"}),
        view("p3", T0 + 1),
        view("p2", T0 + 2),
        event("wishlist.added", T0 + 3, product_id="p4", size="M"),
        entered(T0 + 4),
    )
    decision = decide(state, request(), ref, DEFAULT_POLICY, T0 + 4 + 4 * MIN, DECISION_ID)
    assert decision["screen"] == "in_store"
    # p4 wished in M, in stock here in M; p3 viewed but here only in L (she wears M);
    # p2 only online; then promoted p6 in stock here; then the rest by id.
    assert items(decision) == {"store_mode_picks": ["p4", "p6", "p1", "p3", "p7"], "scan_prompt": []}
    assert [b["kind"] for b in decision["blocks"]] == ["carousel", "scan_prompt"]
    assert codes(decision)[0] == (
        "screen_rule",
        "in_store: placement app.home, device phone, in_store=True, located=False, cold_start=False; "
        "inside store S1 (geofence g-s1) confirmed 240 s before",
    )


@pytest.mark.parametrize(
    ("device", "req_location", "fix_age_ms", "screen"),
    [
        (PHONE, None, 10 * MIN, "street"),
        (PHONE, None, 31 * MIN, "home"),
        (PHONE, {"lat": 51.5, "lon": -0.1}, None, "street"),
        (PHONE, None, None, "home"),
        (TABLET, None, 10 * MIN, "home"),
    ],
)
def test_street_screen_when_out_and_about_on_the_phone(
    device: dict[str, str], req_location: dict[str, float] | None, fix_age_ms: int | None, screen: str
) -> None:
    now = T0 + HOUR
    events = [view("p1", T0)]
    if fix_age_ms is not None:
        events.append(event("location.updated", now - fix_age_ms, location={"lat": 51.5, "lon": -0.1}))
    req = request(device=device)
    if req_location is not None:
        req["location"] = req_location
    decision = decide(state_of(*events), req, make_ref(), DEFAULT_POLICY, now, DECISION_ID)
    assert decision["screen"] == screen


def test_no_item_twice_on_one_screen() -> None:
    state = state_of(
        view("p5", T0),
        view("p1", T0 + 1),
        event("wishlist.added", T0 + 2, product_id="p1"),
        event("wishlist.added", T0 + 3, product_id="p2"),
    )
    decision = decide(state, request(device=TABLET), make_ref(), DEFAULT_POLICY, T0 + HOUR, DECISION_ID)
    assert items(decision) == {"last_seen": ["p1", "p5"], "wishlist": ["p2"], "bestsellers": ["p6"]}
    assert ("deduplicated", "wishlist: already on screen: p1") in codes(decision)
    assert ("deduplicated", "bestsellers: already on screen: p5") in codes(decision)
    every = [pid for block in items(decision).values() for pid in block]
    assert len(every) == len(set(every))


def test_decisions_are_deterministic() -> None:
    state = state_of(
        view("p1", T0), view("p2", T0 + 1), entered(T0 + 2), event("wishlist.added", T0 + 3, product_id="p7")
    )
    stock = (("S1", "p1", None, 1), ("S1", "p2", None, 1), ("S1", "p5", None, 1))
    first = decide(state, request(), make_ref(stock=stock), DEFAULT_POLICY, T0 + MIN, DECISION_ID)
    again = decide(state, request(), make_ref(stock=tuple(reversed(stock))), DEFAULT_POLICY, T0 + MIN, "another-id")
    assert {**again, "decision_id": DECISION_ID} == first


def test_degraded_reasons_pass_through() -> None:
    decision = decide(
        None, request(), make_ref(), DEFAULT_POLICY, T0, DECISION_ID, degraded_reasons=["state_unavailable"]
    )
    assert (decision["degraded"], decision["degraded_reasons"]) == (True, ["state_unavailable"])


def test_no_matching_rule_falls_back_to_bestsellers() -> None:
    policy = {**DEFAULT_POLICY, "screens": [{"id": "only_web", "when": {"placements": ["web.home"]}, "blocks": []}]}
    decision = decide(None, request(), make_ref(), policy, T0, DECISION_ID)
    assert (decision["screen"], items(decision)) == ("home", {"bestsellers": ["p5", "p6"]})
    assert ("no_rule_matched", "no policy screen matched; default home screen") in codes(decision)


@pytest.mark.skipif(not (SCHEMAS / "decision_response.schema.json").exists(), reason="schemas not present")
def test_decisions_match_the_response_schema() -> None:
    validator = response_validator()
    state = state_of(view("p1", T0), entered(T0 + 1))
    for st, req in ((None, request()), (state, request()), (state, request("web.home", TABLET))):
        validator.validate(decide(st, req, make_ref(), DEFAULT_POLICY, T0 + MIN, DECISION_ID))
