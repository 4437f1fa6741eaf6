"""API keys: the keys file, the hash check, scopes per route, the token bucket, the middleware on the
real route table, `kairos keys create` and the development key."""

from __future__ import annotations

import hashlib
import json
import re
import stat
from pathlib import Path
from typing import Any, cast

import pytest
from aiohttp.test_utils import TestClient, TestServer

from service.adapters.clock import ManualClock
from service.api.app import build_http_app
from service.api.auth import (
    SCOPES,
    ApiKey,
    Authenticator,
    AuthError,
    KeysFileError,
    RateLimiter,
    TokenBucket,
    build_authenticator,
    create_key,
    development_key,
    generate_key,
    hash_key,
    key_id_of,
    load_keys_file,
    parse_keys,
    required_scope,
)
from service.api.deps import ApiDeps
from service.cli import main
from service.settings import Settings
from service.telemetry.metrics import build_metrics

GOOD_HASH = "sha256:" + "ab" * 32


def entry(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"id": "ios-app", "hash": GOOD_HASH, "scopes": ["ingest", "decide"]}
    base.update(fields)
    return {k: v for k, v in base.items() if v is not None}


def parse(document: object) -> list[ApiKey]:
    return parse_keys(document, "keys.json", 500.0, 1000)


# --- keys file -------------------------------------------------------------------------------

def test_a_valid_file_with_defaults_and_own_rates() -> None:
    keys = parse({"keys": [entry(), entry(id="pos-7", scopes=["admin"], rate_per_s=2.5, burst=4)]})
    assert keys == [
        ApiKey("ios-app", bytes.fromhex("ab" * 32), frozenset({"ingest", "decide"}), 500.0, 1000),
        ApiKey("pos-7", bytes.fromhex("ab" * 32), frozenset({"admin"}), 2.5, 4),
    ]


@pytest.mark.parametrize(("document", "message"), [
    ([], 'keys.json: expected an object {"keys": [...]} with no other fields'),
    ({"keys": [], "extra": 1}, 'keys.json: expected an object {"keys": [...]} with no other fields'),
    ({"keys": {}}, 'keys.json: expected an object {"keys": [...]} with no other fields'),
    ({"keys": []}, 'keys.json: "keys" is empty: add a key with `kairos keys create`'),
    ({"keys": ["kairos_x_y"]}, "keys.json: keys[0]: expected an object with id, hash and scopes"),
    ({"keys": [entry(hash=None)]}, "keys.json: keys[0]: missing field 'hash'"),
    ({"keys": [entry(), entry(id="b", scopes=None)]}, "keys.json: keys[1]: missing field 'scopes'"),
    ({"keys": [entry(note="x")]},
     "keys.json: keys[0]: unknown field 'note' (allowed: burst, hash, id, rate_per_s, scopes)"),
    ({"keys": [entry(id="ios_app")]}, "keys.json: keys[0]: id 'ios_app' must be 1-64 characters of a-z, 0-9 "
     "and '-', starting with a letter or digit"),
    ({"keys": [entry(id="")]}, "keys.json: keys[0]: id '' must be 1-64 characters of a-z, 0-9 "
     "and '-', starting with a letter or digit"),
    ({"keys": [entry(id="ios\n")]}, "keys.json: keys[0]: id 'ios\\n' must be 1-64 characters of a-z, 0-9 "
     "and '-', starting with a letter or digit"),
    ({"keys": [entry(hash=GOOD_HASH + "\n")]}, 'keys.json: keys[0]: hash must be "sha256:" followed by 64 '
     "lower-case hex digits (the hash of the key, never the key itself)"),
    ({"keys": [entry(), entry(id="pos"), entry()]},
     "keys.json: keys[2]: duplicate id 'ios-app' (already used by keys[0])"),
    ({"keys": [entry(hash="ab" * 32)]}, 'keys.json: keys[0]: hash must be "sha256:" followed by 64 lower-case '
     "hex digits (the hash of the key, never the key itself)"),
    ({"keys": [entry(hash="sha256:" + "AB" * 32)]}, 'keys.json: keys[0]: hash must be "sha256:" followed by 64 '
     "lower-case hex digits (the hash of the key, never the key itself)"),
    ({"keys": [entry(hash="md5:" + "ab" * 16)]}, 'keys.json: keys[0]: hash must be "sha256:" followed by 64 '
     "lower-case hex digits (the hash of the key, never the key itself)"),
    ({"keys": [entry(scopes=["ingest", "write"])]},
     "keys.json: keys[0]: unknown scope 'write' (known: admin, decide, ingest, metrics, reference)"),
    ({"keys": [entry(scopes=[])]},
     "keys.json: keys[0]: scopes must be a non-empty list of admin, decide, ingest, metrics, reference"),
    ({"keys": [entry(scopes="ingest")]},
     "keys.json: keys[0]: scopes must be a non-empty list of admin, decide, ingest, metrics, reference"),
    ({"keys": [entry(rate_per_s=0)]}, "keys.json: keys[0]: rate_per_s must be a number greater than 0"),
    ({"keys": [entry(rate_per_s="9")]}, "keys.json: keys[0]: rate_per_s must be a number greater than 0"),
    ({"keys": [entry(rate_per_s=True)]}, "keys.json: keys[0]: rate_per_s must be a number greater than 0"),
    ({"keys": [entry(burst=0)]}, "keys.json: keys[0]: burst must be an integer of at least 1"),
    ({"keys": [entry(burst=2.5)]}, "keys.json: keys[0]: burst must be an integer of at least 1"),
])
def test_keys_file_errors_name_the_file_the_key_and_the_problem(document: object, message: str) -> None:
    with pytest.raises(KeysFileError) as err:
        parse(document)
    assert str(err.value) == message


def test_unreadable_and_non_json_files(tmp_path: Path) -> None:
    missing = tmp_path / "nope.json"
    with pytest.raises(KeysFileError) as err:
        load_keys_file(missing, 1.0, 1)
    assert str(err.value) == f"{missing}: cannot read the API keys file (No such file or directory)"
    broken = tmp_path / "broken.json"
    broken.write_text('{"keys": [')
    with pytest.raises(KeysFileError) as err:
        load_keys_file(broken, 1.0, 1)
    assert str(err.value).startswith(f"{broken}: not valid JSON (")


# --- keys and the hash check -----------------------------------------------------------------

def test_generated_keys_have_the_documented_form_and_hash() -> None:
    key = generate_key("ios-app")
    assert re.fullmatch(r"kairos_ios-app_[A-Za-z0-9_-]{43}", key)
    assert key_id_of(key) == "ios-app"
    assert hash_key(key) == "sha256:" + hashlib.sha256(key.encode()).hexdigest()
    assert generate_key("ios-app") != key
    with pytest.raises(ValueError):
        generate_key("Bad_Id")


@pytest.mark.parametrize(("key", "key_id"), [
    ("kairos_dev__abc", "dev"),  # a secret may start with '_'
    ("kairos_dev_a_b", "dev"),
    ("kairos_dev_", None),
    ("kairos__abc", None),
    ("other_dev_abc", None),
    ("kairos", None),
])
def test_key_id_is_the_part_between_prefix_and_secret(key: str, key_id: str | None) -> None:
    assert key_id_of(key) == key_id


def authenticator(*keys: ApiKey, clock: ManualClock | None = None) -> Authenticator:
    return Authenticator(keys, RateLimiter(clock or ManualClock(0)))


def api_key(token: str, scopes: set[str], rate: float = 100.0, burst: int = 100) -> ApiKey:
    return ApiKey(key_id_of(token) or "?", hashlib.sha256(token.encode()).digest(), frozenset(scopes), rate, burst)


def refusal(auth: Authenticator, header: str | None, scope: str = "ingest") -> tuple[int, str, str, dict[str, str]]:
    with pytest.raises(AuthError) as err:
        auth.authorize(auth.authenticate(header), scope)
    return err.value.status, err.value.code, err.value.reason, err.value.headers


def test_only_the_exact_key_authenticates() -> None:
    token = generate_key("ios-app")
    auth = authenticator(api_key(token, {"ingest"}))
    assert auth.authenticate(f"Bearer {token}").id == "ios-app"
    assert auth.authenticate(f"bearer  {token} ").id == "ios-app"  # scheme is case-insensitive
    missing = (401, "unauthorized", "missing", {"WWW-Authenticate": 'Bearer realm="kairos"'})
    invalid = (401, "unauthorized", "invalid", {"WWW-Authenticate": 'Bearer realm="kairos", error="invalid_token"'})
    assert refusal(auth, None) == missing
    assert refusal(auth, "") == missing
    assert refusal(auth, "Bearer") == missing
    assert refusal(auth, f"Basic {token}") == missing
    assert refusal(auth, token) == missing  # no scheme
    assert refusal(auth, f"Bearer {token}x") == invalid  # right id, wrong secret
    assert refusal(auth, f"Bearer {token[:-1]}") == invalid
    assert refusal(auth, "Bearer " + token.replace("ios-app", "pos")) == invalid  # unknown id
    assert refusal(auth, "Bearer not-a-kairos-key") == invalid
    assert refusal(auth, "Bearer " + hash_key(token)) == invalid  # the stored hash is not a key


def test_a_missing_scope_is_forbidden_and_names_it() -> None:
    token = generate_key("ios-app")
    auth = authenticator(api_key(token, {"ingest"}))
    auth.authorize(auth.authenticate(f"Bearer {token}"), "ingest")
    with pytest.raises(AuthError) as err:
        auth.authorize(auth.authenticate(f"Bearer {token}"), "decide")
    assert (err.value.status, err.value.code, err.value.reason) == (403, "forbidden", "forbidden")
    assert err.value.message == "the API key 'ios-app' does not have the 'decide' scope this route needs"
    assert err.value.headers == {
        "WWW-Authenticate": 'Bearer realm="kairos", error="insufficient_scope", scope="decide"'}


@pytest.mark.parametrize(("method", "route", "scope"), [
    ("POST", "/v1/events", "ingest"),
    ("POST", "/v1/decisions", "decide"),
    ("GET", "/metrics", "metrics"),
    ("HEAD", "/metrics", "metrics"),
    ("GET", "/admin/customers/{customer_id}/state", "admin"),
    ("POST", "/admin/clock", "admin"),
    ("DELETE", "/v1/customers/{customer_id}", "admin"),
    ("GET", "/v1/something-new", "admin"),  # closed until someone decides otherwise
    ("GET", "/healthz", None),
    ("HEAD", "/healthz", None),
    ("GET", "/readyz", None),
    ("POST", "/v1/webhooks/radar", None),
    ("POST", "/healthz", "admin"),
])
def test_scope_per_route(method: str, route: str, scope: str | None) -> None:
    assert required_scope(method, route) == scope


# --- token bucket ----------------------------------------------------------------------------

def test_token_bucket_exact_sequence() -> None:
    bucket = TokenBucket(rate_per_s=2, burst=2, now_ms=0)
    assert [bucket.take(0), bucket.take(0), bucket.take(0)] == [0.0, 0.0, 0.5]
    assert bucket.take(250) == 0.25  # half a token back: a quarter second to go
    assert bucket.take(499) == pytest.approx(0.001)
    assert [bucket.take(500), bucket.take(500)] == [0.0, 0.5]
    assert [bucket.take(10_000), bucket.take(10_000), bucket.take(10_000)] == [0.0, 0.0, 0.5]  # capped at burst
    assert bucket.take(9_000) == 0.5  # a clock stepping back refills nothing


def test_rate_limiter_allows_then_denies_with_whole_seconds_per_key() -> None:
    clock = ManualClock(1_000)
    limiter = RateLimiter(clock)
    fast, slow = api_key(generate_key("fast"), SCOPES, 2, 2), api_key(generate_key("slow"), SCOPES, 0.1, 1)
    assert [limiter.retry_after_s(fast) for _ in range(3)] == [0, 0, 1]
    assert [limiter.retry_after_s(slow) for _ in range(2)] == [0, 10]  # buckets are per key
    clock.advance_ms(499)
    assert limiter.retry_after_s(fast) == 1  # 0.001 s to go still says 1
    clock.advance_ms(1)
    assert [limiter.retry_after_s(fast), limiter.retry_after_s(fast)] == [0, 1]
    clock.advance_ms(3_500)
    assert [limiter.retry_after_s(slow), limiter.retry_after_s(slow)] == [6, 6]  # denials take nothing
    clock.advance_ms(6_000)
    assert [limiter.retry_after_s(slow), limiter.retry_after_s(slow)] == [0, 10]


def test_rate_limited_refusal_has_retry_after() -> None:
    token = generate_key("pos")
    auth = authenticator(api_key(token, {"ingest"}, rate=2, burst=2))
    for _ in range(2):
        auth.authorize(auth.authenticate(f"Bearer {token}"), "ingest")
    with pytest.raises(AuthError) as err:
        auth.authorize(auth.authenticate(f"Bearer {token}"), "ingest")
    assert (err.value.status, err.value.code, err.value.reason) == (429, "rate_limited", "rate_limited")
    assert err.value.headers == {"Retry-After": "1"}
    assert err.value.body() == {"error": {
        "code": "rate_limited", "details": {"retry_after_s": 1},
        "message": "the API key 'pos' is over its rate limit (2 requests/s, burst 2); retry after 1 s"}}


# --- the middleware on the real route table ---------------------------------------------------

TOKENS = {name: generate_key(name) for name in ("all", "ingest-only", "tiny")}


def stub_deps(settings: Settings) -> ApiDeps:
    """Just enough of ApiDeps for requests that auth refuses and for the probes and metrics."""
    deps: Any = type("StubDeps", (), {})()
    deps.settings = settings
    deps.metrics = build_metrics()
    deps.readiness = lambda: (True, [])
    deps.refresh_gauges = lambda: None
    deps.read_state = lambda customer_id: None
    deps.forwarder = None
    return cast(ApiDeps, deps)


async def client_for(test_clock: bool = False) -> TestClient[Any, Any]:
    deps = stub_deps(Settings(test_clock=test_clock))
    auth = authenticator(api_key(TOKENS["all"], SCOPES), api_key(TOKENS["ingest-only"], {"ingest"}),
                         api_key(TOKENS["tiny"], SCOPES, rate=1, burst=1))
    client: TestClient[Any, Any] = TestClient(TestServer(build_http_app(deps, auth)))
    await client.start_server()
    return client


def bearer(name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKENS[name]}"}


PROTECTED = [("POST", "/v1/events"), ("POST", "/v1/decisions"), ("GET", "/metrics"),
             ("GET", "/admin/customers/x/state"), ("DELETE", "/v1/customers/x"), ("POST", "/admin/clock")]


async def test_middleware_refuses_without_a_valid_key_and_lets_probes_through() -> None:
    client = await client_for(test_clock=True)
    try:
        for method, path in PROTECTED:
            for headers in ({}, {"Authorization": "Bearer kairos_all_wrong"}):
                res = await client.request(method, path, headers=headers)
                body = await res.json()
                assert (res.status, body["error"]["code"]) == (401, "unauthorized"), (method, path)
                assert res.headers["WWW-Authenticate"].startswith('Bearer realm="kairos"')
        for path in ("/healthz", "/readyz"):
            assert (await client.get(path)).status == 200
        assert (await client.get("/metrics", headers=bearer("all"))).status == 200
        assert (await client.get("/admin/customers/x/state", headers=bearer("all"))).status == 404
        # Past auth, the handler answers (here: a wrong content type).
        assert (await client.post("/v1/events", data=b"x", headers=bearer("ingest-only"))).status == 415
        forbidden = await client.post("/v1/decisions", data=b"{}", headers=bearer("ingest-only"))
        assert forbidden.status == 403
        assert (await forbidden.json())["error"] == {
            "code": "forbidden",
            "message": "the API key 'ingest-only' does not have the 'decide' scope this route needs"}
        # Unmatched routes answer the same with or without a key.
        assert (await client.get("/v1/nothing")).status == 404
        assert (await client.get("/v1/nothing", headers=bearer("all"))).status == 404
        assert (await client.get("/v1/events")).status == 405
        metrics = await (await client.get("/metrics", headers=bearer("all"))).text()
        assert 'kairos_auth_failures_total{reason="missing"} 6.0' in metrics
        assert 'kairos_auth_failures_total{reason="invalid"} 6.0' in metrics
        assert 'kairos_auth_failures_total{reason="forbidden"} 1.0' in metrics
        assert 'kairos_auth_failures_total{reason="rate_limited"} 0.0' in metrics
        assert 'kairos_http_requests_total{route="/v1/events",status="401"} 2.0' in metrics
        assert TOKENS["all"] not in metrics
    finally:
        await client.close()


async def test_middleware_rate_limits_per_key() -> None:
    client = await client_for()
    try:
        assert (await client.get("/metrics", headers=bearer("tiny"))).status == 200
        limited = await client.get("/metrics", headers=bearer("tiny"))
        assert limited.status == 429
        assert limited.headers["Retry-After"] == "1"
        assert (await limited.json())["error"]["code"] == "rate_limited"
        assert (await client.get("/metrics", headers=bearer("all"))).status == 200  # other keys are not affected
        assert (await client.get("/healthz")).status == 200
    finally:
        await client.close()


# --- kairos keys create and the development key ------------------------------------------------

def test_create_key_appends_and_refuses_a_duplicate_id(tmp_path: Path) -> None:
    path = tmp_path / "conf" / "keys.json"
    first = create_key(path, "ios-app", ["ingest", "decide", "ingest"])
    second = create_key(path, "ops", ["admin", "metrics"], rate_per_s=5, burst=10)
    document = json.loads(path.read_text())
    assert document == {"keys": [
        {"id": "ios-app", "hash": hash_key(first), "scopes": ["decide", "ingest"]},
        {"id": "ops", "hash": hash_key(second), "scopes": ["admin", "metrics"], "rate_per_s": 5, "burst": 10}]}
    assert first not in path.read_text()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    keys = load_keys_file(path, 500.0, 1000)
    auth = Authenticator(keys, RateLimiter(ManualClock(0)))
    assert auth.authenticate(f"Bearer {second}").id == "ops"
    with pytest.raises(KeysFileError) as err:
        create_key(path, "ios-app", ["ingest"])
    assert str(err.value) == (f"{path}: a key with id 'ios-app' exists already; choose another id "
                              "(or remove the old entry first)")
    assert json.loads(path.read_text()) == document  # untouched
    known = r"\(known: admin, decide, ingest, metrics, reference\)"
    with pytest.raises(KeysFileError, match=rf"^unknown scope 'write' {known}$"):
        create_key(path, "x", ["write"])
    with pytest.raises(KeysFileError, match=r"^id 'A_B' must be"):
        create_key(path, "A_B", ["admin"])


def test_cli_keys_create_prints_the_key_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "keys.json"
    assert main(["keys", "create", "--id", "ios-app", "--scopes", "ingest,decide", "--file", str(path)]) == 0
    out, err = capsys.readouterr()
    key = out.strip()
    assert key_id_of(key) == "ios-app" and out.count("kairos_") == 1
    assert key not in err and "only time the key is shown" in err
    assert json.loads(path.read_text())["keys"][0]["hash"] == hash_key(key)
    assert main(["keys", "create", "--id", "ios-app", "--scopes", "ingest", "--file", str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err == (f"kairos: {path}: a key with id 'ios-app' exists already; choose another id "
                   "(or remove the old entry first)\n")


def test_development_key_is_written_0600_and_replaced_each_start(tmp_path: Path) -> None:
    key, api = development_key(tmp_path, 500.0, 1000)
    path = tmp_path / "dev-api-key"
    assert path.read_text() == key + "\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert (api.id, api.scopes) == ("dev", SCOPES) and key.startswith("kairos_dev_")
    path.chmod(0o644)
    again, _ = development_key(tmp_path, 500.0, 1000)
    assert again != key and path.read_text() == again + "\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_build_authenticator_announces_the_dev_key_or_loads_the_file(tmp_path: Path) -> None:
    said: list[str] = []
    with pytest.raises(KeysFileError, match=r"no API keys: set KAIROS_API_KEYS_FILE .* or run `kairos serve --demo`"):
        build_authenticator(Settings(data_dir=tmp_path), said.append)
    assert said == [] and not (tmp_path / "dev-api-key").exists()
    auth = build_authenticator(Settings(data_dir=tmp_path, demo=True), said.append)
    key = (tmp_path / "dev-api-key").read_text().strip()
    assert said == [f"Development API key (all scopes): {key}  — set KAIROS_API_KEYS_FILE for production"]
    assert auth.authenticate(f"Bearer {key}").scopes == SCOPES
    said.clear()
    keys_file = tmp_path / "keys.json"
    token = create_key(keys_file, "ios-app", ["ingest"])
    auth = build_authenticator(Settings(data_dir=tmp_path / "other", api_keys_file=keys_file), said.append)
    assert said == [] and not (tmp_path / "other" / "dev-api-key").exists()
    assert auth.authenticate(f"Bearer {token}").id == "ios-app"
    with pytest.raises(AuthError):
        auth.authenticate(f"Bearer {key}")
    with pytest.raises(KeysFileError, match="cannot read the API keys file"):
        build_authenticator(Settings(api_keys_file=tmp_path / "missing.json"), said.append)
