"""Request ids on every request and log line, JSON log lines, and the log level at run time."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any, cast

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from service.api.app import build_http_app
from service.api.auth import SCOPES
from service.api.deps import ApiDeps
from service.settings import Settings
from service.telemetry import logging as kairos_logging
from tests.unit.test_auth import TOKENS, api_key, authenticator, stub_deps


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    kairos_logging._configured["level"] = "INFO"


def capture() -> io.StringIO:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(kairos_logging.JsonFormatter())
    logging.getLogger().handlers[:] = [handler]
    return stream


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_json_lines_carry_the_request_and_decision_ids_in_context() -> None:
    kairos_logging.configure_logging("INFO")
    stream = capture()
    log = logging.getLogger("kairos.test")
    log.info("outside", extra={"records": 3})
    rid = kairos_logging.request_id.set("req-1")
    did = kairos_logging.decision_id.set("dec-1")
    log.warning("inside")
    kairos_logging.decision_id.reset(did)
    kairos_logging.request_id.reset(rid)
    first, second = lines(stream)
    assert {k: first[k] for k in ("level", "logger", "msg", "records")} == {
        "level": "info", "logger": "kairos.test", "msg": "outside", "records": 3}
    assert "request_id" not in first and "decision_id" not in first
    assert (second["request_id"], second["decision_id"], second["level"]) == ("req-1", "dec-1", "warning")
    assert first["ts"].endswith("Z") and len(first["ts"]) == len("2026-12-03T18:00:00.000Z")


def test_set_level_changes_it_now_logs_the_change_and_refuses_unknown_levels() -> None:
    kairos_logging.configure_logging("WARNING")
    stream = capture()
    assert (kairos_logging.current_level(), kairos_logging.configured_level()) == ("WARNING", "WARNING")
    assert kairos_logging.set_level("debug", by="test") == "WARNING"
    assert logging.getLogger("kairos.x").isEnabledFor(logging.DEBUG)
    # Chatty libraries stay at WARNING even at DEBUG.
    assert logging.getLogger("aiokafka").level == logging.WARNING
    (change,) = lines(stream)
    assert {k: change[k] for k in ("msg", "from", "to", "by", "level")} == {
        "msg": "log level changed", "from": "WARNING", "to": "DEBUG", "by": "test", "level": "warning"}
    with pytest.raises(ValueError, match="LOUD"):
        kairos_logging.set_level("LOUD", by="test")
    assert kairos_logging.current_level() == "DEBUG"


@pytest.fixture
async def client() -> AsyncIterator[TestClient[Any, Any]]:
    kairos_logging.configure_logging("INFO")
    deps: ApiDeps = stub_deps(Settings())
    keys = authenticator(api_key(TOKENS["all"], SCOPES), api_key(TOKENS["ingest-only"], {"ingest"}))
    app = build_http_app(deps, keys)

    async def boom(request: web.Request) -> web.Response:
        logging.getLogger("kairos.test").warning("handling")
        raise RuntimeError("a bug")

    app.router.add_get("/healthz-boom", boom)
    test_client: TestClient[Any, Any] = TestClient(TestServer(app))
    await test_client.start_server()
    yield test_client
    await test_client.close()


def bearer(name: str = "all") -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKENS[name]}"}


async def test_request_ids_are_echoed_or_made_and_reach_the_log_lines(client: TestClient[Any, Any]) -> None:
    res = await client.get("/healthz", headers={"X-Request-Id": "app-7.x:1"})
    assert res.headers["X-Request-Id"] == "app-7.x:1"
    for bad in ("has space", "x" * 129, "ü"):
        res = await client.get("/healthz", headers={"X-Request-Id": bad})
        made = res.headers["X-Request-Id"]
        assert made != bad and len(made) == 32 and int(made, 16) >= 0
    stream = capture()
    res = await client.get("/healthz-boom", headers={**bearer(), "X-Request-Id": "trace-42"})
    assert (res.status, res.headers["X-Request-Id"]) == (500, "trace-42")
    logged = [entry for entry in lines(stream) if entry["logger"].startswith("kairos")]  # not the test access log
    assert [(entry["msg"], entry["request_id"]) for entry in logged] == [("handling", "trace-42"),
                                                                         ("unhandled error", "trace-42")]


async def test_log_level_endpoint(client: TestClient[Any, Any]) -> None:
    res = await client.get("/admin/log-level", headers=bearer())
    assert (res.status, await res.json()) == (200, {"level": "INFO", "configured": "INFO"})
    res = await client.put("/admin/log-level", data=b'{"level": "error"}', headers=bearer())
    assert await res.json() == {"level": "ERROR", "previous": "INFO", "configured": "INFO"}
    assert logging.getLogger().level == logging.ERROR
    for body in (b'{"level": "LOUD"}', b'{"level": 10}', b'{"level": "INFO", "x": 1}', b"[]"):
        res = await client.put("/admin/log-level", data=body, headers=bearer())
        payload = await res.json()
        assert (res.status, payload["error"]["code"]) == (400, "invalid_request"), body
    res = await client.put("/admin/log-level", data=b"{nope", headers=bearer())
    assert (res.status, (await res.json())["error"]["code"]) == (400, "invalid_json")
    # admin scope only
    res = await client.put("/admin/log-level", data=b'{"level": "DEBUG"}', headers=bearer("ingest-only"))
    assert res.status == 403
    assert logging.getLogger().level == logging.ERROR
    res = await client.get("/admin/cluster", headers=bearer())
    assert await res.json() == {"self": None, "members": []}


def test_stub_deps_have_no_forwarder() -> None:
    assert cast(Any, stub_deps(Settings())).forwarder is None
