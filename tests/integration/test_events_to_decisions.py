"""Events posted over HTTP reach the per-customer state on the stream and show up in decisions.

Kairos runs as its own process against `kairos broker` (also its own process) on loopback.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from tests.integration.harness import Kairos, assert_schema, eventually, http, metric_value

NOW = "2026-12-03T18:00:00Z"
PRODUCTS = ["a7fc7d65-a3c7-4793-8c60-8631d208f4a4", "131f849e-cffb-4332-bbe0-183ffb4d272f"]


def viewed(customer: str, product: str, event_id: str | None = None, at: str = NOW) -> dict[str, Any]:
    return {"event_id": event_id or uuid.uuid4().hex, "type": "product.viewed", "occurred_at": at,
            "source": "app", "customer_id": customer, "product_id": product}


def last_seen(decision: dict[str, Any]) -> list[str]:
    for block in decision["blocks"]:
        if block["id"] == "last_seen":
            return [item["product_id"] for item in block["items"]]
    return []


def test_viewed_product_appears_in_last_seen(shared_kairos: Kairos) -> None:
    customer = f"anna-{uuid.uuid4().hex[:6]}"
    res = shared_kairos.post_events([viewed(customer, PRODUCTS[0], at="2026-12-03T17:59:00Z"),
                                     viewed(customer, PRODUCTS[1])])
    assert res.status == 202
    assert res.json()["accepted"] == 2
    def shows_both() -> dict[str, Any] | None:
        decision = shared_kairos.decide(customer)
        return decision if last_seen(decision) == PRODUCTS[::-1] else None

    decision = eventually(shows_both)
    assert_schema("decision_response.schema.json", decision)
    assert_schema("ingest_response.schema.json", res.json())
    assert decision["screen"] == "home"
    assert decision["cold_start"] is False
    assert decision["state_as_of"] == "2026-12-03T18:00:00.000Z"
    assert decision["policy_version"] == "default-2026.12.2"


def test_unknown_customer_gets_a_cold_start_decision(shared_kairos: Kairos) -> None:
    decision = shared_kairos.decide(f"nobody-{uuid.uuid4().hex[:6]}")
    assert_schema("decision_response.schema.json", decision)
    assert decision["cold_start"] is True
    assert decision["state_as_of"] is None
    assert last_seen(decision) == []
    # the default policy's home screen: a theme (6 items), then the promoted products not yet
    # shown (11 promoted in the demo catalog, 6 of them in the theme already)
    assert [(b["id"], len(b["items"])) for b in decision["blocks"]] == [("themes", 6), ("bestsellers", 5)]
    assert (decision["screen"], decision["layout"]) == ("home", "home")


def test_duplicate_event_counts_once(shared_kairos: Kairos) -> None:
    customer = f"dup-{uuid.uuid4().hex[:6]}"
    event = viewed(customer, PRODUCTS[0])
    first = shared_kairos.post_events([event, event]).json()
    assert [r["status"] for r in first["results"]] == ["accepted", "duplicate"]
    again = shared_kairos.post_events([event]).json()
    assert again["results"][0]["status"] == "duplicate"
    state = eventually(lambda: shared_kairos.state(customer))
    assert state["events_applied"] == 1
    assert state["views"] == [[PRODUCTS[0], 1796320800000]]


def test_bad_events_are_rejected_and_good_ones_kept(shared_kairos: Kairos) -> None:
    customer = f"mixed-{uuid.uuid4().hex[:6]}"
    bad_lat = {"event_id": uuid.uuid4().hex, "type": "location.updated", "occurred_at": NOW, "source": "app",
               "customer_id": customer, "location": {"lat": 91.0, "lon": 0.0}}
    no_offset = viewed(customer, PRODUCTS[1]) | {"occurred_at": "2026-12-03T18:00:00"}
    good = viewed(customer, PRODUCTS[0])
    res = shared_kairos.post_events([bad_lat, good, no_offset])
    assert res.status == 202
    body = res.json()
    assert (body["accepted"], body["rejected"]) == (1, 2)
    statuses = [(r["index"], r["status"]) for r in body["results"]]
    assert statuses == [(0, "rejected"), (1, "accepted"), (2, "rejected")]
    assert body["results"][0]["errors"] == [{"pointer": "/location/lat",
                                             "reason": "latitude must be between -90 and 90"}]
    assert body["results"][2]["errors"][0]["pointer"] == "/occurred_at"
    assert_schema("ingest_response.schema.json", body)
    eventually(lambda: last_seen(shared_kairos.decide(customer)) == [PRODUCTS[0]])


def test_ndjson_bad_line_rejects_only_itself(shared_kairos: Kairos) -> None:
    customer = f"nd-{uuid.uuid4().hex[:6]}"
    lines = [json.dumps(viewed(customer, PRODUCTS[0])), '{"event_id": "x", broken',
             json.dumps(viewed(customer, PRODUCTS[1]))]
    res = http("POST", shared_kairos.url + "/v1/events", "\n".join(lines).encode(), "application/x-ndjson")
    assert res.status == 202
    assert [r["status"] for r in res.json()["results"]] == ["accepted", "rejected", "accepted"]


def test_http_errors_are_clear(shared_kairos: Kairos) -> None:
    url = shared_kairos.url
    wrong_type = http("POST", url + "/v1/events", b"[]", "text/plain")
    assert wrong_type.status == 415
    assert wrong_type.json()["error"]["code"] == "unsupported_media_type"
    not_json = http("POST", url + "/v1/events", b"[{", "application/json")
    assert not_json.status == 400
    too_big = http("POST", url + "/v1/events", b"[" + b" " * 1_100_000 + b"]", "application/json")
    assert too_big.status == 413
    assert too_big.json()["error"]["code"] == "payload_too_large"
    bad_request = http("POST", url + "/v1/decisions", b'{"customer_id": "x"}')
    assert bad_request.status == 400
    pointers = {d["pointer"] for d in bad_request.json()["error"]["details"]["errors"]}
    assert pointers == {"/placement", "/device"}
    unknown = http("GET", url + "/v1/nothing")
    assert unknown.status == 404
    for res in (wrong_type, not_json, too_big, bad_request, unknown):
        assert_schema("error.schema.json", res.json())


def test_metrics_move_with_traffic(shared_kairos: Kairos) -> None:
    before = metric_value(shared_kairos.metrics(), "kairos_decisions_total", placement="app.store")
    shared_kairos.decide(f"m-{uuid.uuid4().hex[:6]}", placement="app.store", device_type="phone")
    text = shared_kairos.metrics()
    assert metric_value(text, "kairos_decisions_total", placement="app.store") == before + 1
    assert metric_value(text, "kairos_decision_latency_seconds_count", placement="app.store") >= 1
    # Placements no policy screen names share one label: metric series stay bounded.
    for page in "abcde":
        shared_kairos.decide(f"m-{page}", placement=f"web.page_{page}", device_type="web")
    text = shared_kairos.metrics()
    assert 'placement="web.page_' not in text
    assert metric_value(text, "kairos_decisions_total", placement="other") >= 5
    assert "# TYPE kairos_decision_latency_seconds histogram" in text
    assert metric_value(text, "kairos_ready") == 1.0


def test_same_event_id_for_two_customers_is_not_a_duplicate(shared_kairos: Kairos) -> None:
    rita, otto = (f"{name}-{uuid.uuid4().hex[:6]}" for name in ("rita", "otto"))
    shared_id = f"r-{uuid.uuid4().hex[:6]}"
    res = shared_kairos.post_events([viewed(rita, PRODUCTS[0], event_id=shared_id),
                                     viewed(otto, PRODUCTS[1], event_id=shared_id)]).json()
    assert [r["status"] for r in res["results"]] == ["accepted", "accepted"]
    assert eventually(lambda: shared_kairos.state(otto))["views"][0][0] == PRODUCTS[1]


def test_empty_bodies_and_readiness_bodies(shared_kairos: Kairos) -> None:
    url = shared_kairos.url
    for path in ("/v1/events", "/v1/decisions"):
        res = http("POST", url + path, b"", "application/json")
        assert res.status == 400
        assert res.json()["error"]["code"] == "invalid_json"
        assert res.json()["error"]["message"].startswith("the request body is empty")
    empty_batch = http("POST", url + "/v1/events", b"[]", "application/json")
    assert (empty_batch.status, empty_batch.json()["error"]["code"]) == (400, "invalid_request")
    assert http("GET", url + "/readyz").json() == {"status": "ready"}
    assert http("GET", url + "/healthz").json() == {"status": "ok"}
