"""Ingest validation: exact pointers and reasons per rejection class, and per-event isolation in a batch."""

from __future__ import annotations

import copy
import json
import pathlib
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.api.validation import (
    BodyError,
    EventValidator,
    FieldError,
    NonFinite,
    parse_json_array,
    parse_ndjson,
)
from service.core.events import CUSTOMER_EVENT_TYPES, REFERENCE_EVENT_TYPES

SCHEMAS = pathlib.Path(__file__).resolve().parents[2] / "schemas"
NOW_MS = 1_743_465_600_000  # 2025-04-01T00:00:00Z, after every example's occurred_at
SKEW_MS = 300_000
KNOWN = (
    "known types: app.opened, cart.added, content.clicked, geofence.dwelled, geofence.entered, "
    "geofence.exited, identity.linked, location.updated, loyalty.updated, notification.opened, "
    "order.placed, product.scanned, product.upserted, product.viewed, profile.updated, session.ended, "
    "session.started, stock.changed, store.upserted, weather.observed, wishlist.added, wishlist.removed"
)
EVENT_EXAMPLES = sorted(
    p
    for p in (SCHEMAS / "examples" / "valid").glob("*.json")
    if (SCHEMAS / "events" / f"{p.name.split('--')[0].removesuffix('.json')}.schema.json").exists()
)
INVALID_EVENT_CASES = sorted(
    p
    for p in (SCHEMAS / "examples" / "invalid").glob("*.json")
    if json.loads(p.read_text())["schema"].startswith(("events/", "event.schema.json"))
)


@pytest.fixture(scope="module")
def validator() -> EventValidator:
    return EventValidator.from_directory(SCHEMAS)


def example(name: str) -> dict[str, Any]:
    document = json.loads((SCHEMAS / "examples" / "valid" / f"{name}.json").read_text())
    assert isinstance(document, dict)
    return document


def check(validator: EventValidator, event: object) -> list[FieldError]:
    return validator.validate(event, NOW_MS, SKEW_MS)


def test_known_types_are_the_core_event_types(validator: EventValidator) -> None:
    assert validator.known_types == CUSTOMER_EVENT_TYPES | REFERENCE_EVENT_TYPES


@pytest.mark.parametrize("path", EVENT_EXAMPLES, ids=lambda p: p.name)
def test_valid_event_example_passes(validator: EventValidator, path: pathlib.Path) -> None:
    assert check(validator, json.loads(path.read_text())) == []


@pytest.mark.parametrize("path", INVALID_EVENT_CASES, ids=lambda p: p.name)
def test_invalid_event_example_fails_only_at_expected_pointer(validator: EventValidator, path: pathlib.Path) -> None:
    case = json.loads(path.read_text())
    assert [e.pointer for e in check(validator, case["document"])] == [case["expect_pointer"]]


def set_path(*path: str | int, value: object) -> Callable[[dict[str, Any]], None]:
    def mutate(event: dict[str, Any]) -> None:
        node: Any = event
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value

    return mutate


def drop(key: str) -> Callable[[dict[str, Any]], None]:
    return lambda event: event.pop(key)  # type: ignore[no-any-return]


REJECTIONS: list[tuple[str, str, Callable[[dict[str, Any]], None], str, str]] = [
    # (id, valid example, mutation, pointer, exact reason)
    (
        "no-offset",
        "product.viewed",
        set_path("occurred_at", value="2025-03-14T12:33:20"),
        "/occurred_at",
        "occurred_at must be an RFC 3339 timestamp with an offset (Z or ±hh:mm), e.g. 2025-03-14T17:42:05Z",
    ),
    (
        "space-separator",
        "product.viewed",
        set_path("occurred_at", value="2025-03-14 12:33:20Z"),
        "/occurred_at",
        "occurred_at must be an RFC 3339 timestamp with an offset (Z or ±hh:mm), e.g. 2025-03-14T17:42:05Z",
    ),
    (
        "feb-30",
        "product.viewed",
        set_path("occurred_at", value="2025-02-30T12:33:20Z"),
        "/occurred_at",
        "occurred_at must be an RFC 3339 timestamp with an offset (Z or ±hh:mm), e.g. 2025-03-14T17:42:05Z",
    ),
    (
        "received-at-no-offset",
        "geofence.entered",
        set_path("received_at", value="2025-03-14T17:42:06"),
        "/received_at",
        "received_at must be an RFC 3339 timestamp with an offset (Z or ±hh:mm), e.g. 2025-03-14T17:42:05Z",
    ),
    (
        "future",
        "geofence.entered",
        set_path("occurred_at", value="2025-04-01T01:00:00Z"),
        "/occurred_at",
        "occurred_at is 3600 s in the future; at most 300 s of clock skew is allowed",
    ),
    (
        "future-by-1ms",
        "geofence.entered",
        set_path("occurred_at", value="2025-04-01T00:05:00.001Z"),
        "/occurred_at",
        "occurred_at is 300.001 s in the future; at most 300 s of clock skew is allowed",
    ),
    (
        "lat-91",
        "location.updated",
        set_path("location", "lat", value=91),
        "/location/lat",
        "latitude must be between -90 and 90",
    ),
    (
        "lon-minus-181",
        "geofence.entered",
        set_path("location", "lon", value=-181),
        "/location/lon",
        "longitude must be between -180 and 180",
    ),
    (
        "lat-string",
        "store.upserted",
        set_path("location", "lat", value="51.52153"),
        "/location/lat",
        "latitude must be a number",
    ),
    (
        "lat-missing",
        "weather.observed",
        set_path("location", value={"lon": -0.4614}),
        "/location/lat",
        "latitude is required",
    ),
    (
        "unknown-type",
        "product.viewed",
        set_path("type", value="product.liked"),
        "/type",
        f"unknown event type 'product.liked'; {KNOWN}",
    ),
    ("missing-type", "product.viewed", drop("type"), "/type", f"type is required; {KNOWN}"),
    ("type-not-string", "product.viewed", set_path("type", value=7), "/type", f"type must be a string; {KNOWN}"),
    ("extra-property", "product.viewed", set_path("colour", value="blue"), "/colour", "unknown field 'colour'"),
    ("extra-nested", "app.opened", set_path("device", "os", value="iOS 18.3"), "/device/os", "unknown field 'os'"),
    (
        "reference-with-customer",
        "stock.changed",
        set_path("customer_id", value="cust-000417"),
        "/customer_id",
        "unknown field 'customer_id'",
    ),
    ("missing-customer", "wishlist.added", drop("customer_id"), "/customer_id", "customer_id is required"),
    ("empty-event-id", "product.viewed", set_path("event_id", value=""), "/event_id", "event_id must not be empty"),
    (
        "long-event-id",
        "product.viewed",
        set_path("event_id", value="e" * 129),
        "/event_id",
        "event_id must be at most 128 characters long",
    ),
    ("negative-quantity", "cart.added", set_path("quantity", value=-1), "/quantity",
     "quantity must be between 1 and 1000000"),
    ("fractional-quantity", "cart.added", set_path("quantity", value=1.5), "/quantity", "quantity must be an integer"),
    ("boolean-quantity", "cart.added", set_path("quantity", value=True), "/quantity", "quantity must be an integer"),
    ("negative-stock", "stock.changed", set_path("quantity", value=-3), "/quantity",
     "quantity must be between 0 and 1000000000"),
    (
        "bad-currency",
        "order.placed",
        set_path("lines", 1, "currency", value="gbp"),
        "/lines/1/currency",
        "currency must be a three-letter upper-case ISO 4217 code such as GBP",
    ),
    (
        "negative-price",
        "order.placed",
        set_path("lines", 0, "price", value=-89.99),
        "/lines/0/price",
        "price must be between 0 and 1000000000",
    ),
    ("no-lines", "order.placed", set_path("lines", value=[]), "/lines", "lines must not be empty"),
    (
        "bad-channel",
        "order.placed",
        set_path("channel", value="phone"),
        "/channel",
        "channel must be one of online, store",
    ),
    (
        "bad-device-type",
        "app.opened",
        set_path("device", "type", value="watch"),
        "/device/type",
        "device type must be one of phone, tablet, web",
    ),
    (
        "device-id-missing",
        "session.started",
        set_path("device", value={"type": "phone"}),
        "/device/id",
        "id is required",
    ),
    (
        "confidence-4",
        "geofence.entered",
        set_path("confidence", value=4),
        "/confidence",
        "confidence must be between 1 and 3",
    ),
    ("radius-zero", "store.upserted", set_path("radius_m", value=0), "/radius_m", "radius_m must be greater than 0"),
    (
        "bad-outcome",
        "session.ended",
        set_path("outcome", value="timeout"),
        "/outcome",
        "outcome must be one of completed, abandoned",
    ),
    (
        "unknown-time-zone",
        "profile.updated",
        set_path("time_zone", value="Europe/Londn"),
        "/time_zone",
        "time_zone 'Europe/Londn' is not a known IANA time zone",
    ),
    (
        "time-zone-offset",
        "store.upserted",
        set_path("time_zone", value="GMT +1"),
        "/time_zone",
        "time_zone must be an IANA time zone name such as Europe/London",
    ),
    (
        "bad-locale",
        "profile.updated",
        set_path("locale", value="English"),
        "/locale",
        "locale must be a BCP 47 language tag such as en-GB",
    ),
    (
        "bad-size-category",
        "profile.updated",
        set_path("sizes", value={"Footwear": "38"}),
        "/sizes",
        "sizes must map category names (lower case) to sizes",
    ),
    (
        "empty-consent",
        "profile.updated",
        set_path("consent", value={}),
        "/consent",
        "consent must contain push or email",
    ),
    (
        "bad-notification-id",
        "notification.opened",
        set_path("notification_id", value="NOTIF-1"),
        "/notification_id",
        "notification_id must be a lower-case hyphenated UUID",
    ),
    (
        "bad-gtin",
        "product.scanned",
        set_path("gtin", value="50123456789"),
        "/gtin",
        "gtin must be a GTIN of 8, 12, 13 or 14 digits",
    ),
    (
        "bad-condition",
        "weather.observed",
        set_path("condition", value="drizzle"),
        "/condition",
        "condition must be one of clear, clouds, rain, snow, fog, storm, unknown",
    ),
    (
        "too-many-colours",
        "product.upserted",
        set_path("colours", value=["blue"] * 65),
        "/colours",
        "colours must have at most 64 items",
    ),
    (
        "nan-marker",
        "location.updated",
        set_path("location", "lat", value=NonFinite("NaN")),
        "/location/lat",
        "latitude must be a finite number, not NaN",
    ),
    (
        "python-infinity",
        "location.updated",
        set_path("speed_mps", value=float("inf")),
        "/speed_mps",
        "speed_mps must be a finite number, not Infinity",
    ),
    (
        "nan-in-screen-state",
        "session.ended",
        set_path("screen_state", "scroll_y", value=NonFinite("NaN")),
        "/screen_state/scroll_y",
        "scroll_y must be a finite number, not NaN",
    ),
    (
        "lone-surrogate",
        "product.viewed",
        set_path("product_id", value="\ud800abc"),
        "/product_id",
        "product_id contains an invalid Unicode escape (lone surrogate)",
    ),
    (
        "not-json-value",
        "product.viewed",
        set_path("product_id", value={1, 2}),
        "/product_id",
        "product_id is not a JSON value",
    ),
    (
        "host-local-zone",
        "profile.updated",
        set_path("time_zone", value="localtime"),
        "/time_zone",
        "time_zone 'localtime' is not a known IANA time zone",
    ),
    (
        "placeholder-zone",
        "store.upserted",
        set_path("time_zone", value="Factory"),
        "/time_zone",
        "time_zone 'Factory' is not a known IANA time zone",
    ),
    (
        # orjson reads an integer literal beyond 64 bits as a float: 99999999999999999999999 -> 1e23
        "quantity-beyond-64-bits",
        "stock.changed",
        set_path("quantity", value=1e23),
        "/quantity",
        "quantity must be between 0 and 1000000000",
    ),
    (
        "absurd-store-radius",
        "store.upserted",
        set_path("radius_m", value=1e308),
        "/radius_m",
        "radius_m must be at most 50000",
    ),
    (
        "absurd-accuracy",
        "location.updated",
        set_path("accuracy_m", value=1e308),
        "/accuracy_m",
        "accuracy_m must be between 0 and 100000",
    ),
    (
        "customer-id-with-padding",
        "product.viewed",
        set_path("customer_id", value=" anna"),
        "/customer_id",
        "customer_id must not start or end with white space or contain control characters",
    ),
    (
        "customer-id-with-nul",
        "product.viewed",
        set_path("customer_id", value="mal\u0000x"),
        "/customer_id",
        "customer_id must not start or end with white space or contain control characters",
    ),
    (
        "huge-integer",
        "loyalty.updated",
        set_path("points", value=10**20),
        "/points",
        "points is too large a number",
    ),
    (
        "screen-state-too-big",
        "session.ended",
        set_path("screen_state", value={"blob": "x" * 4090}),
        "/screen_state",
        "screen_state must be at most 4096 bytes of JSON (it is 4101)",
    ),
]


@pytest.mark.parametrize(
    ("name", "mutate", "pointer", "reason"),
    [pytest.param(name, mutate, pointer, reason, id=case_id) for case_id, name, mutate, pointer, reason in REJECTIONS],
)
def test_rejection(
    validator: EventValidator,
    name: str,
    mutate: Callable[[dict[str, Any]], None],
    pointer: str,
    reason: str,
) -> None:
    event = example(name)
    mutate(event)
    assert check(validator, event) == [FieldError(pointer, reason)]


def test_profile_update_must_change_something(validator: EventValidator) -> None:
    event = {
        k: v for k, v in example("profile.updated").items() if k not in {"locale", "time_zone", "sizes", "consent"}
    }
    assert check(validator, event) == [
        FieldError("", "event must have at least one of locale, time_zone, sizes, home_area, consent")
    ]


def test_scan_needs_product_id_or_gtin(validator: EventValidator) -> None:
    event = {k: v for k, v in example("product.scanned").items() if k not in {"gtin", "product_id"}}
    assert check(validator, event) == [FieldError("", "event must have at least one of product_id, gtin")]


@pytest.mark.parametrize("event", [[], "product.viewed", None, 17])
def test_event_must_be_an_object(validator: EventValidator, event: object) -> None:
    assert check(validator, event) == [FieldError("", "event must be a JSON object")]


def test_every_bad_field_is_reported_once_in_schema_order(validator: EventValidator) -> None:
    event = example("geofence.entered")
    event.update(location={"lat": 91, "lon": -181}, confidence=0, event_id="")
    assert check(validator, event) == [
        FieldError("/event_id", "event_id must not be empty"),
        FieldError("/location/lat", "latitude must be between -90 and 90"),
        FieldError("/location/lon", "longitude must be between -180 and 180"),
        FieldError("/confidence", "confidence must be between 1 and 3"),
    ]


@pytest.mark.parametrize(
    "occurred_at",
    [
        "2025-04-01T00:05:00Z",  # exactly at the skew limit
        "2025-04-01T02:05:00+02:00",  # same instant, other offset
        "2025-03-31T19:05:00-05:00",
        "2025-03-14t17:42:05z",  # RFC 3339 allows lower case
        "2025-03-14T17:42:05.123456789Z",
        "2016-12-31T23:59:60Z",  # a real leap second
    ],
)
def test_accepted_timestamps(validator: EventValidator, occurred_at: str) -> None:
    assert check(validator, dict(example("geofence.entered"), occurred_at=occurred_at)) == []


def test_screen_state_at_the_limit_is_accepted(validator: EventValidator) -> None:
    event = dict(example("session.ended"), screen_state={"blob": "x" * 4085})  # 4096 bytes as JSON
    assert check(validator, event) == []


def test_nan_rejects_only_its_own_event_in_a_json_array(validator: EventValidator) -> None:
    first, second, third = example("geofence.entered"), example("location.updated"), example("app.opened")
    body = json.dumps([first, second, third]).replace("51.52784967392623", "NaN").encode()
    events = parse_json_array(body)
    assert [check(validator, e) for e in events] == [
        [],
        [FieldError("/location/lat", "latitude must be a finite number, not NaN")],
        [],
    ]
    assert events[0] == first and events[2] == third


@pytest.mark.parametrize(
    ("literal", "token"), [("Infinity", "Infinity"), ("-Infinity", "-Infinity"), ("1e400", "1e400")]
)
def test_other_non_finite_numbers_are_markers(validator: EventValidator, literal: str, token: str) -> None:
    body = json.dumps([example("location.updated")]).replace("1.4", literal).encode()
    (event,) = parse_json_array(body)
    assert check(validator, event) == [FieldError("/speed_mps", f"speed_mps must be a finite number, not {token}")]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b'{"type": "app.opened"}', "body must be a JSON array of events"),
        (b"", "body is not valid JSON (Expecting value at column 1)"),
        (b"[{]", "body is not valid JSON (Expecting property name enclosed in double quotes at column 3)"),
        (b'[\n {"a": 1},\n oops]', "body is not valid JSON (Expecting value at line 3, column 2)"),
        (b'["caf\xe9"]', "body is not valid UTF-8 (bad byte at offset 5)"),
    ],
)
def test_unusable_json_body(body: bytes, reason: str) -> None:
    with pytest.raises(BodyError) as caught:
        parse_json_array(body)
    assert caught.value.reason == reason


def test_json_body_fast_path_and_empty_array() -> None:
    assert parse_json_array(b"[]") == []
    assert parse_json_array(b' [{"product_id": "0aa18bc9-58bf-4a77-bb01-bd59605512ab"}] ') == [
        {"product_id": "0aa18bc9-58bf-4a77-bb01-bd59605512ab"}
    ]


def test_ndjson_broken_line_2_keeps_lines_1_and_3(validator: EventValidator) -> None:
    first, third = example("app.opened"), example("product.viewed")
    body = json.dumps(first).encode() + b'\n{"event_id": "evt-2", "type":\n' + json.dumps(third).encode() + b"\n"
    entries = parse_ndjson(body)
    assert entries == [
        (first, None),
        (None, FieldError("", "line 2 is not valid JSON (Expecting value at column 30)")),
        (third, None),
    ]
    assert [check(validator, e) for e, _ in entries if e is not None] == [[], []]


def test_ndjson_skips_blank_lines_and_isolates_bad_lines(validator: EventValidator) -> None:
    viewed = example("product.viewed")
    nan_line = json.dumps(example("location.updated")).replace("-0.10735273361206055", "NaN").encode()
    body = b"\r\n" + json.dumps(viewed).encode() + b"\r\n   \n\xff\xfe{}\n" + nan_line
    entries = parse_ndjson(body)
    assert len(entries) == 3
    assert entries[0] == (viewed, None)
    assert entries[1] == (None, FieldError("", "line 4 is not valid UTF-8 (bad byte at offset 0)"))
    event, error = entries[2]
    assert error is None
    assert check(validator, event) == [FieldError("/location/lon", "longitude must be a finite number, not NaN")]


def test_ndjson_empty_body() -> None:
    assert parse_ndjson(b"") == []
    assert parse_ndjson(b"\n \n\t\n") == []


def test_from_directory_refuses_schema_without_id(tmp_path: pathlib.Path) -> None:
    (tmp_path / "events").mkdir()
    (tmp_path / "events" / "x.schema.json").write_text('{"type": "object"}')
    with pytest.raises(ValueError, match="must be an object with a string \\$id"):
        EventValidator.from_directory(tmp_path)


def test_from_directory_needs_event_schemas(tmp_path: pathlib.Path) -> None:
    with pytest.raises(ValueError, match="no event schemas"):
        EventValidator.from_directory(tmp_path)


def test_from_directory_never_fetches_unresolved_refs(tmp_path: pathlib.Path) -> None:
    (tmp_path / "events").mkdir()
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://kairos.example/schemas/events/x.y.schema.json",
        "type": "object",
        "properties": {"type": {"const": "x.y"}, "where": {"$ref": "missing.schema.json#/$defs/location"}},
    }
    (tmp_path / "events" / "x.y.schema.json").write_text(json.dumps(schema))
    with pytest.raises(ValueError, match=r"missing\.schema\.json"):
        EventValidator.from_directory(tmp_path)


JSON_LEAVES = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=8)
    | st.builds(NonFinite, st.sampled_from(["NaN", "Infinity", "-Infinity"]))
)
JSON_VALUES = st.recursive(
    JSON_LEAVES,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
FIELDS = st.sampled_from(
    ["event_id", "type", "occurred_at", "source", "customer_id", "location", "device", "lines", "screen_state"]
)


@settings(max_examples=300, deadline=None)
@given(name=st.sampled_from([p.name.removesuffix(".json") for p in EVENT_EXAMPLES]), field=FIELDS, value=JSON_VALUES)
def test_validate_never_raises_and_reports_one_error_per_pointer(
    validator: EventValidator, name: str, field: str, value: object
) -> None:
    event = copy.deepcopy(example(name))
    event[field] = value
    errors = check(validator, event)
    assert all(isinstance(e, FieldError) and e.reason for e in errors)
    assert len({e.pointer for e in errors}) == len(errors)
