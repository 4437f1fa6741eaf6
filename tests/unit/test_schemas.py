"""The contracts in schemas/: well-formed, strict, consistent with the core, and proven by golden examples."""

from __future__ import annotations

import json
import pathlib
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator, ValidationError
from openapi_spec_validator import validate as validate_openapi
from referencing import Registry, Resource

from service.core.events import CUSTOMER_EVENT_TYPES, REFERENCE_EVENT_TYPES

SCHEMAS = pathlib.Path(__file__).resolve().parents[2] / "schemas"
BASE_ID = "https://kairos.example/schemas/"
VALID = sorted((SCHEMAS / "examples" / "valid").glob("*.json"))
INVALID = sorted((SCHEMAS / "examples" / "invalid").glob("*.json"))
DOCS: dict[str, dict[str, Any]] = {
    p.relative_to(SCHEMAS).as_posix(): json.loads(p.read_text()) for p in SCHEMAS.rglob("*.schema.json")
}
REGISTRY: Registry[Any] = Registry().with_resources((doc["$id"], Resource.from_contents(doc)) for doc in DOCS.values())
EVENT_TYPES = sorted(
    name.removeprefix("events/").removesuffix(".schema.json")
    for name in DOCS
    if name.startswith("events/") and name != "events/common.schema.json"
)

# Objects allowed to take unknown properties, each for a stated reason.
OPEN_OBJECTS = {
    ("event.schema.json", ""): "dispatcher only; the per-type schema it selects is strict",
    ("state.schema.json", ""): "forward compatibility: a newer build may add top-level fields; the core keeps them",
    ("events/session.ended.schema.json", "/properties/screen_state"): "free-form app state (4 KiB)",
}


def validator(schema: str) -> Draft202012Validator:
    return Draft202012Validator(DOCS[schema], registry=REGISTRY, format_checker=Draft202012Validator.FORMAT_CHECKER)


def error_pointers(error: ValidationError) -> list[str]:
    """Where an error is, pointing at a missing or unknown property itself (as the API reports it)."""
    path = [str(p) for p in error.absolute_path]
    if error.validator == "required":
        return ["/" + "/".join([*path, str(error.message).split("'")[1]])]
    if error.validator == "additionalProperties":
        known = error.schema.get("properties", {}) if isinstance(error.schema, dict) else {}
        return ["/" + "/".join([*path, k]) for k in error.instance if k not in known]
    return ["/" + "/".join(path) if path else ""]


def schema_for_example(path: pathlib.Path) -> str:
    """valid/<stem>[--variant].json -> events/<stem>.schema.json or <stem>.schema.json."""
    stem = path.name.removesuffix(".json").split("--")[0]
    event_schema = f"events/{stem}.schema.json"
    return event_schema if event_schema in DOCS else f"{stem}.schema.json"


def walk(node: object, where: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(node, dict):
        yield where, node
        for key, value in node.items():
            yield from walk(value, f"{where}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from walk(value, f"{where}/{index}")


@pytest.mark.parametrize("name", sorted(DOCS))
def test_schema_is_valid_draft_2020_12_with_id_matching_its_path(name: str) -> None:
    doc = DOCS[name]
    Draft202012Validator.check_schema(doc)
    assert doc["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert doc["$id"] == BASE_ID + name
    assert doc["description"]


@pytest.mark.parametrize("name", sorted(DOCS))
def test_every_object_rejects_unknown_properties_unless_listed(name: str) -> None:
    open_objects = []
    for where, node in walk(DOCS[name]):
        declares_object = node.get("type") == "object" or (
            "properties" in node and "$ref" not in node and not where.endswith(("/if", "/then", "/else"))
        )
        if declares_object and node.get("additionalProperties", True) is True:
            open_objects.append(where)
    assert open_objects == [w for (n, w) in OPEN_OBJECTS if n == name]


def test_event_types_are_the_same_in_schemas_and_core() -> None:
    dispatched = DOCS["event.schema.json"]["properties"]["type"]["enum"]
    branches = [b["if"]["properties"]["type"]["const"] for b in DOCS["event.schema.json"]["allOf"]]
    consts = [DOCS[f"events/{t}.schema.json"]["properties"]["type"]["const"] for t in EVENT_TYPES]
    assert dispatched == branches == consts == EVENT_TYPES
    assert set(EVENT_TYPES) == CUSTOMER_EVENT_TYPES | REFERENCE_EVENT_TYPES
    assert len(EVENT_TYPES) == 22


@pytest.mark.parametrize("type_", EVENT_TYPES)
def test_customer_events_require_customer_id_and_reference_events_forbid_it(type_: str) -> None:
    doc = DOCS[f"events/{type_}.schema.json"]
    assert doc["required"][:4] == ["event_id", "type", "occurred_at", "source"]
    assert "received_at" in doc["properties"] and "received_at" not in doc["required"]
    if type_ in CUSTOMER_EVENT_TYPES:
        assert "customer_id" in doc["required"]
    else:
        assert "customer_id" not in doc["properties"]


def test_timestamp_requires_an_offset_by_pattern_and_format() -> None:
    timestamp = DOCS["events/common.schema.json"]["$defs"]["timestamp"]
    assert timestamp["format"] == "date-time"
    check = Draft202012Validator(timestamp, format_checker=Draft202012Validator.FORMAT_CHECKER)
    for good in ("2025-03-14T17:42:05Z", "2025-03-14T18:42:05.250+01:00", "2025-03-14T12:12:05-05:30"):
        assert check.is_valid(good), good
    for bad in ("2025-03-14T17:42:05", "2025-03-14 17:42:05Z", "2025-03-14T17:42:05+0100", "2025-03-14"):
        assert not check.is_valid(bad), bad


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.name)
def test_valid_example_conforms(path: pathlib.Path) -> None:
    document = json.loads(path.read_text())
    schema = schema_for_example(path)
    assert [e.message for e in validator(schema).iter_errors(document)] == []
    if schema.startswith("events/"):
        assert [e.message for e in validator("event.schema.json").iter_errors(document)] == []


def test_valid_examples_cover_every_event_type_and_record() -> None:
    covered = {schema_for_example(p) for p in VALID}
    wanted = {f"events/{t}.schema.json" for t in EVENT_TYPES} | {
        "decision_request.schema.json",
        "decision_response.schema.json",
        "decision_record.schema.json",
        "notification.schema.json",
        "state.schema.json",
        "ingest_response.schema.json",
        "error.schema.json",
    }
    assert wanted <= covered


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.name)
def test_invalid_example_fails_exactly_at_expected_pointer(path: pathlib.Path) -> None:
    case = json.loads(path.read_text())
    assert set(case) == {"document", "schema", "expect_pointer", "why"} and case["why"]
    errors = list(validator(case["schema"]).iter_errors(case["document"]))
    assert {p for e in errors for p in error_pointers(e)} == {case["expect_pointer"]}


@pytest.mark.parametrize(
    ("name", "pointer"),
    [
        ("product.viewed--occurred-at-no-offset", "/occurred_at"),
        ("location.updated--lat-91", "/location/lat"),
        ("geofence.entered--lon-minus-181", "/location/lon"),
        ("event--unknown-type", "/type"),
        ("product.viewed--extra-property", "/colour"),
        ("product.viewed--empty-event-id", "/event_id"),
        ("cart.added--negative-quantity", "/quantity"),
        ("order.placed--bad-currency", "/lines/0/currency"),
        ("app.opened--bad-device-type", "/device/type"),
    ],
)
def test_required_rejection_classes_have_an_invalid_example(name: str, pointer: str) -> None:
    case = json.loads((SCHEMAS / "examples" / "invalid" / f"{name}.json").read_text())
    assert case["expect_pointer"] == pointer


def load_openapi() -> dict[str, Any]:
    spec = yaml.safe_load((SCHEMAS / "openapi.yaml").read_text())
    assert isinstance(spec, dict)
    return spec


def test_openapi_document_is_valid_3_1() -> None:
    spec = load_openapi()
    assert spec["openapi"].startswith("3.1.")
    validate_openapi(spec, base_uri=(SCHEMAS / "openapi.yaml").as_uri())


def test_openapi_file_refs_resolve_to_schema_files() -> None:
    # openapi-spec-validator does not follow refs into other files, so check them here.
    refs = [n["$ref"] for _, n in walk(load_openapi()) if isinstance(n.get("$ref"), str)]
    external = [r for r in refs if not r.startswith("#")]
    assert {r.partition("#")[0] for r in external} == {
        "event.schema.json",
        "ingest_response.schema.json",
        "error.schema.json",
        "decision_request.schema.json",
        "decision_response.schema.json",
        "events/common.schema.json",
        "state.schema.json",
        "notification.schema.json",
    }
    for ref in external:
        file, _, fragment = ref.partition("#")
        node: Any = DOCS[file]
        for token in fragment.split("/")[1:]:
            node = node[token]
        assert isinstance(node, dict), ref


def test_openapi_operations_and_statuses() -> None:
    spec = load_openapi()
    paths = spec["paths"]
    statuses = {(path, method): sorted(op["responses"]) for path, item in paths.items() for method, op in item.items()}
    assert statuses == {
        ("/v1/events", "post"): ["202", "400", "401", "403", "408", "413", "415", "429", "503"],
        ("/v1/decisions", "post"): ["200", "400", "401", "403", "408", "413", "415", "429", "503"],
        ("/healthz", "get"): ["200"],
        ("/readyz", "get"): ["200", "503"],
        ("/metrics", "get"): ["200", "401", "403", "429"],
        ("/admin/clock", "post"): ["200", "400", "401", "403", "404", "408", "429"],
        ("/admin/customers/{customer_id}/state", "get"): ["200", "401", "403", "404", "429", "503"],
        ("/admin/customers/{customer_id}/notifications", "get"): ["200", "401", "403", "404", "429"],
        ("/admin/log-level", "get"): ["200", "401", "403", "429"],
        ("/admin/log-level", "put"): ["200", "400", "401", "403", "408", "429"],
        ("/admin/cluster", "get"): ["200", "401", "403", "429"],
        ("/v1/customers/{customer_id}", "delete"): ["202", "401", "403", "404", "429", "503"],
        ("/v1/webhooks/{provider}", "post"): ["200", "202", "400", "401", "404", "408", "413", "415", "503"],
        ("/v1/webhooks/{provider}", "options"): ["200", "400", "404"],
    }
    shared = spec["components"]["responses"]
    for item in paths.values():
        for op in item.values():
            responses = [shared[r["$ref"].rpartition("/")[2]] if "$ref" in r else r for r in op["responses"].values()]
            assert all(response["description"] for response in responses)
    events = paths["/v1/events"]["post"]
    assert set(events["requestBody"]["content"]) == {"application/json", "application/x-ndjson"}
    assert events["responses"]["503"]["headers"]["Retry-After"] == {"$ref": "#/components/headers/RetryAfter"}
    assert set(paths["/metrics"]["get"]["responses"]["200"]["content"]) == {"text/plain; version=0.0.4"}


def test_openapi_every_operation_but_the_probes_needs_a_key_with_its_scope() -> None:
    spec = load_openapi()
    assert spec["security"] == [{"bearerAuth": []}]
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    scopes = {(path, method): op["security"] for path, item in spec["paths"].items() for method, op in item.items()}
    assert scopes == {
        ("/v1/events", "post"): [{"bearerAuth": ["ingest"]}],
        ("/v1/decisions", "post"): [{"bearerAuth": ["decide"]}],
        ("/healthz", "get"): [],
        ("/readyz", "get"): [],
        ("/metrics", "get"): [{"bearerAuth": ["metrics"]}],
        ("/admin/clock", "post"): [{"bearerAuth": ["admin"]}],
        ("/admin/customers/{customer_id}/state", "get"): [{"bearerAuth": ["admin"]}],
        ("/admin/customers/{customer_id}/notifications", "get"): [{"bearerAuth": ["admin"]}],
        ("/v1/customers/{customer_id}", "delete"): [{"bearerAuth": ["admin"]}],
        # Webhooks carry the provider's own signature instead of a Kairos key.
        ("/v1/webhooks/{provider}", "post"): [],
        ("/v1/webhooks/{provider}", "options"): [],
        ("/admin/log-level", "get"): [{"bearerAuth": ["admin"]}],
        ("/admin/log-level", "put"): [{"bearerAuth": ["admin"]}],
        ("/admin/cluster", "get"): [{"bearerAuth": ["admin"]}],
    }
    for (path, method), security in scopes.items():
        responses = spec["paths"][path][method]["responses"]
        if security:
            assert {code: responses[code] for code in ("401", "403", "429")} == {
                "401": {"$ref": "#/components/responses/Unauthorized"},
                "403": {"$ref": "#/components/responses/Forbidden"},
                "429": {"$ref": "#/components/responses/RateLimited"},
            }
    shared = spec["components"]["responses"]
    assert shared["Unauthorized"]["headers"]["WWW-Authenticate"] == {"$ref": "#/components/headers/WWWAuthenticate"}
    assert shared["RateLimited"]["headers"]["Retry-After"] == {"$ref": "#/components/headers/RetryAfter"}


def test_openapi_inline_objects_are_strict() -> None:
    inline = [n for _, n in walk(load_openapi()) if n.get("type") == "object"]
    # admin/clock request and response, Health, erasure receipt, Event Grid validation answer,
    # log-level request and response, cluster view and its member, a customer's notifications
    # (the answer, a held message, a log entry)
    assert len(inline) == 12
    assert all(n["additionalProperties"] is False for n in inline)
