"""API keys with scopes, and a rate limit per key.

Keys are random tokens `kairos_<id>_<secret>` (`secret` = `secrets.token_urlsafe(32)`, 256 bits).
Kairos stores only their SHA-256, in a JSON keys file (`KAIROS_API_KEYS_FILE`):

    {"keys": [{"id": "ios-app", "hash": "sha256:<64 hex>", "scopes": ["ingest", "decide"],
               "rate_per_s": 200, "burst": 400}]}

A plain, unsalted SHA-256 is the right tool here: it protects *high-entropy* random tokens, which
cannot be guessed or brute-forced from their hash, so a slow password hash (bcrypt, argon2)
would only cost time on every request. It would not be enough for passwords people choose.

A request's key is looked up by its id part, then its hash is compared in constant time
(`hmac.compare_digest`). The key itself is never logged.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import os
import re
import secrets
import tempfile
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web
from aiohttp.typedefs import Middleware
from prometheus_client import Counter

from service.adapters.clock import Clock, MonotonicClock
from service.api.errors import ApiError
from service.settings import Settings

log = logging.getLogger("kairos.auth")

INGEST, DECIDE, ADMIN, METRICS = "ingest", "decide", "admin", "metrics"
# Reference data (products, stores, stock, weather) changes what every customer sees: an app's
# ingest key must not be able to rewrite the catalogue, so those events need this scope too.
REFERENCE = "reference"
SCOPES = frozenset({INGEST, DECIDE, ADMIN, METRICS, REFERENCE})
KEY_PREFIX = "kairos_"
# The id is delimited by '_' inside the key, so it cannot contain one.
KEY_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")
HASH = re.compile(r"sha256:[0-9a-f]{64}")
KEY_FIELDS = frozenset({"id", "hash", "scopes", "rate_per_s", "burst"})
DEV_KEY_ID = "dev"
DEV_KEY_FILE = "dev-api-key"
REALM = 'Bearer realm="kairos"'

# Routes anyone may call: probes, and provider webhooks (they authenticate by their own signatures).
OPEN_ROUTES = frozenset({("GET", "/healthz"), ("GET", "/readyz")})
OPEN_PREFIXES = ("/v1/webhooks/",)
ROUTE_SCOPES: Mapping[tuple[str, str], str] = {
    ("POST", "/v1/events"): INGEST,
    ("POST", "/v1/decisions"): DECIDE,
    ("GET", "/metrics"): METRICS,
}


class KeysFileError(ValueError):
    """The API keys file cannot be used; the message names the file, the key and the problem."""


class AuthError(ApiError):
    """An auth refusal; `reason` is the kairos_auth_failures_total label."""

    def __init__(self, reason: str, message: str, details: dict[str, Any] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message, details, headers)
        self.reason = reason


class Unauthorized(AuthError):
    status, code = 401, "unauthorized"


class Forbidden(AuthError):
    status, code = 403, "forbidden"


class RateLimited(AuthError):
    status, code = 429, "rate_limited"


@dataclass(frozen=True, slots=True)
class ApiKey:
    id: str
    digest: bytes  # SHA-256 of the whole key
    scopes: frozenset[str]
    rate_per_s: float
    burst: int


# Where the auth middleware leaves the caller's key for the handlers (scope checks per event).
API_KEY = web.RequestKey("kairos.api_key", ApiKey)


def hash_key(key: str) -> str:
    """The keys file form of a key's hash: `sha256:<hex>`."""
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()


def generate_key(key_id: str) -> str:
    if not KEY_ID.fullmatch(key_id):
        raise ValueError(_ID_RULE.format(id=key_id))
    return f"{KEY_PREFIX}{key_id}_{secrets.token_urlsafe(32)}"


def key_id_of(key: str) -> str | None:
    """The id part of `kairos_<id>_<secret>`, or None when the key does not have that form."""
    if not key.startswith(KEY_PREFIX):
        return None
    key_id, sep, secret = key[len(KEY_PREFIX):].partition("_")
    return key_id if sep and secret and key_id else None


_ID_RULE = "id {id!r} must be 1-64 characters of a-z, 0-9 and '-', starting with a letter or digit"


def parse_keys(document: object, where: str, default_rate_per_s: float, default_burst: int,
               allow_empty: bool = False) -> list[ApiKey]:
    """Validates a keys document; every error names `where` (the file), the key index and the problem."""
    if not isinstance(document, dict) or set(document) != {"keys"} or not isinstance(document["keys"], list):
        raise KeysFileError(f'{where}: expected an object {{"keys": [...]}} with no other fields')
    entries = document["keys"]
    if not entries and not allow_empty:
        raise KeysFileError(f'{where}: "keys" is empty: add a key with `kairos keys create`')
    keys: list[ApiKey] = []
    seen: dict[str, int] = {}
    for index, entry in enumerate(entries):
        at = f"{where}: keys[{index}]"
        key = _parse_entry(entry, at, default_rate_per_s, default_burst)
        if key.id in seen:
            raise KeysFileError(f"{at}: duplicate id {key.id!r} (already used by keys[{seen[key.id]}])")
        seen[key.id] = index
        keys.append(key)
    return keys


def _parse_entry(entry: object, at: str, default_rate_per_s: float, default_burst: int) -> ApiKey:
    if not isinstance(entry, dict):
        raise KeysFileError(f"{at}: expected an object with id, hash and scopes")
    for name in ("id", "hash", "scopes"):
        if name not in entry:
            raise KeysFileError(f"{at}: missing field {name!r}")
    unknown = sorted(set(entry) - KEY_FIELDS)
    if unknown:
        raise KeysFileError(f"{at}: unknown field {unknown[0]!r} (allowed: {', '.join(sorted(KEY_FIELDS))})")
    key_id, digest, scopes = entry["id"], entry["hash"], entry["scopes"]
    if not isinstance(key_id, str) or not KEY_ID.fullmatch(key_id):
        raise KeysFileError(f"{at}: {_ID_RULE.format(id=key_id)}")
    if not isinstance(digest, str) or not HASH.fullmatch(digest):
        raise KeysFileError(f'{at}: hash must be "sha256:" followed by 64 lower-case hex digits '
                            "(the hash of the key, never the key itself)")
    if not isinstance(scopes, list) or not scopes or not all(isinstance(s, str) for s in scopes):
        raise KeysFileError(f"{at}: scopes must be a non-empty list of {', '.join(sorted(SCOPES))}")
    for scope in scopes:
        if scope not in SCOPES:
            raise KeysFileError(f"{at}: unknown scope {scope!r} (known: {', '.join(sorted(SCOPES))})")
    rate = entry.get("rate_per_s", default_rate_per_s)
    if isinstance(rate, bool) or not isinstance(rate, int | float) or not math.isfinite(rate) or rate <= 0:
        raise KeysFileError(f"{at}: rate_per_s must be a number greater than 0")
    burst = entry.get("burst", default_burst)
    if isinstance(burst, bool) or not isinstance(burst, int) or burst < 1:
        raise KeysFileError(f"{at}: burst must be an integer of at least 1")
    return ApiKey(key_id, bytes.fromhex(digest.removeprefix("sha256:")), frozenset(scopes), float(rate), burst)


def read_keys_document(path: Path) -> object:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise KeysFileError(f"{path}: cannot read the API keys file ({exc.strerror})") from None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise KeysFileError(f"{path}: not valid JSON ({exc})") from None


def load_keys_file(path: Path, default_rate_per_s: float, default_burst: int) -> list[ApiKey]:
    return parse_keys(read_keys_document(path), str(path), default_rate_per_s, default_burst)


def write_private(path: Path, text: str, mode: int = 0o600) -> None:
    """Writes `text` to `path` with `mode`, replacing it atomically (the content is never readable
    by others, not even briefly: mkstemp creates the file 0600)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def development_key(data_dir: Path, rate_per_s: float, burst: int) -> tuple[str, ApiKey]:
    """A fresh all-scopes key, written to `<data_dir>/dev-api-key` (0600, replacing an older one),
    for runs without a keys file."""
    key = generate_key(DEV_KEY_ID)
    path = data_dir / DEV_KEY_FILE
    try:
        write_private(path, key + "\n")
    except OSError as exc:
        raise KeysFileError(f"{path}: cannot write the development API key ({exc.strerror}); "
                            "set KAIROS_DATA_DIR to a writable directory or KAIROS_API_KEYS_FILE") from None
    digest = hashlib.sha256(key.encode()).digest()
    return key, ApiKey(DEV_KEY_ID, digest, SCOPES, rate_per_s, burst)


def create_key(path: Path, key_id: str, scopes: Sequence[str], rate_per_s: float | None = None,
               burst: int | None = None) -> str:
    """Adds a new key's hash entry to the keys file at `path` (created when missing) and returns
    the key, which exists nowhere else: the caller shows it once. Refuses an id already there."""
    if not KEY_ID.fullmatch(key_id):
        raise KeysFileError(_ID_RULE.format(id=key_id))
    unknown = sorted(set(scopes) - SCOPES)
    if not scopes or unknown:
        raise KeysFileError(f"unknown scope {unknown[0]!r} (known: {', '.join(sorted(SCOPES))})" if unknown
                            else f"give at least one scope: {', '.join(sorted(SCOPES))}")
    mode = 0o600
    document: Any = {"keys": []}
    if path.exists():
        document = read_keys_document(path)
        existing = parse_keys(document, str(path), 1.0, 1, allow_empty=True)
        if any(k.id == key_id for k in existing):
            raise KeysFileError(f"{path}: a key with id {key_id!r} exists already; choose another id "
                                "(or remove the old entry first)")
        mode = path.stat().st_mode & 0o777
    key = generate_key(key_id)
    entry: dict[str, Any] = {"id": key_id, "hash": hash_key(key), "scopes": sorted(set(scopes))}
    if rate_per_s is not None:
        entry["rate_per_s"] = rate_per_s
    if burst is not None:
        entry["burst"] = burst
    document["keys"].append(entry)
    parse_keys(document, str(path), 1.0, 1)  # the file as it will be written must load at start
    write_private(path, orjson.dumps(document, option=orjson.OPT_INDENT_2).decode() + "\n", mode)
    return key


def required_scope(method: str, route: str) -> str | None:
    """The scope a matched route needs (`route` is its pattern, e.g. /admin/customers/{customer_id}/state),
    or None for the open routes. Anything not listed needs `admin`: a new route is closed until
    someone decides otherwise."""
    method = "GET" if method == "HEAD" else method
    if (method, route) in OPEN_ROUTES or route.startswith(OPEN_PREFIXES):
        return None
    return ROUTE_SCOPES.get((method, route), ADMIN)


class TokenBucket:
    """`burst` tokens, refilled at `rate_per_s`; a request takes one.

    Hand-written (20 lines) rather than the `limits` library: `limits` offers window strategies
    whose window is a whole number of seconds (not rate + burst), reads `time.time()` itself (no
    clock to inject), and its in-memory storage keeps one entry per request and starts a
    non-daemon expiry thread every ~10 ms under load (measured: 84 threads for 719 requests in
    1 s). `aiolimiter` waits for capacity instead of refusing and reads the event loop's clock."""

    __slots__ = ("capacity", "level", "rate_per_s", "updated_ms")

    # Counted in thousandths of a token: a millisecond refills exactly `rate_per_s` of them, so
    # whole-number rates never meet a floating-point rounding at a refill boundary.
    def __init__(self, rate_per_s: float, burst: int, now_ms: int) -> None:
        self.rate_per_s = rate_per_s
        self.capacity = burst * 1000.0
        self.level = self.capacity
        self.updated_ms = now_ms

    def take(self, now_ms: int) -> float:
        """0.0 when a token was taken, else the seconds until one is available."""
        elapsed = max(now_ms - self.updated_ms, 0)  # a clock that steps back refills nothing
        self.level = min(self.capacity, self.level + elapsed * self.rate_per_s)
        self.updated_ms = now_ms
        if self.level >= 1000.0:
            self.level -= 1000.0
            return 0.0
        return (1000.0 - self.level) / self.rate_per_s / 1000.0


class RateLimiter:
    """One token bucket per key id (bounded: only configured keys get here). Per worker process."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._buckets: dict[str, TokenBucket] = {}

    def retry_after_s(self, key: ApiKey) -> int:
        """0 when the request may go ahead, else whole seconds to wait (at least 1)."""
        now_ms = self._clock.now_ms()
        bucket = self._buckets.get(key.id)
        if bucket is None:
            bucket = self._buckets[key.id] = TokenBucket(key.rate_per_s, key.burst, now_ms)
        wait_s = bucket.take(now_ms)
        return 0 if wait_s == 0.0 else max(1, math.ceil(wait_s))


class Authenticator:
    """Resolves `Authorization: Bearer <key>` to a configured key, checks scopes and rate."""

    def __init__(self, keys: Iterable[ApiKey], limiter: RateLimiter) -> None:
        self._keys = {key.id: key for key in keys}
        self._limiter = limiter
        self._dummy = hashlib.sha256(b"kairos-no-such-key").digest()

    def authenticate(self, authorization: str | None) -> ApiKey:
        scheme, _, token = (authorization or "").strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise Unauthorized("missing", "an API key is required: send Authorization: Bearer <key>",
                               headers={"WWW-Authenticate": REALM})
        if not token.isascii() or not token.isprintable():
            # aiohttp hands undecodable header bytes over as surrogates: never a key of ours.
            raise Unauthorized("invalid", "the API key is not valid",
                               headers={"WWW-Authenticate": f'{REALM}, error="invalid_token"'})
        key_id = key_id_of(token)
        key = self._keys.get(key_id) if key_id is not None else None
        presented = hashlib.sha256(token.encode()).digest()
        # Hash and compare even for an unknown id, so the answer takes about the same time.
        if not hmac.compare_digest(presented, key.digest if key is not None else self._dummy) or key is None:
            raise Unauthorized("invalid", "the API key is not valid",
                               headers={"WWW-Authenticate": f'{REALM}, error="invalid_token"'})
        return key

    def authorize(self, key: ApiKey, scope: str) -> None:
        """Scope first, then the key's rate: only authorised requests count against it."""
        if scope not in key.scopes:
            raise Forbidden("forbidden", f"the API key {key.id!r} does not have the {scope!r} scope this route needs",
                            headers={"WWW-Authenticate": f'{REALM}, error="insufficient_scope", scope="{scope}"'})
        retry_after = self._limiter.retry_after_s(key)
        if retry_after:
            raise RateLimited(
                "rate_limited", f"the API key {key.id!r} is over its rate limit ({key.rate_per_s:g} requests/s, "
                f"burst {key.burst}); retry after {retry_after} s", details={"retry_after_s": retry_after},
                headers={"Retry-After": str(retry_after)})


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def auth_middleware(auth: Authenticator, failures: Counter) -> Middleware:
    """Requires a valid key with the route's scope on every matched route but the open ones.

    Unmatched routes (404, 405) pass through untouched: they answer the same with or without a key."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        match = request.match_info
        if match.http_exception is not None or match.route.resource is None:
            return await handler(request)
        scope = required_scope(request.method, match.route.resource.canonical)
        if scope is not None:
            try:
                key = auth.authenticate(request.headers.get("Authorization"))
                auth.authorize(key, scope)
                request[API_KEY] = key
            except AuthError as exc:
                failures.labels(exc.reason).inc()
                raise
        return await handler(request)

    return middleware


def keys_summary(keys: Sequence[ApiKey]) -> list[dict[str, Any]]:
    """What may be logged about keys: ids and scopes, never hashes or keys."""
    return [{"id": k.id, "scopes": sorted(k.scopes)} for k in keys]


def build_authenticator(settings: Settings, announce: Callable[[str], None],
                        clock: Clock | None = None) -> Authenticator:
    """The keys from KAIROS_API_KEYS_FILE (validated, KeysFileError otherwise) or, without one and
    in demo mode, a fresh development key with every scope, announced and written to
    `<data dir>/dev-api-key`. Neither: KeysFileError, so Kairos never runs open by accident.
    Rate limits run on a monotonic clock: they measure real request rates, never the test clock."""
    if settings.api_keys_file is not None:
        keys = load_keys_file(settings.api_keys_file, settings.rate_limit_per_s, settings.rate_limit_burst)
        log.info("API keys loaded", extra={"file": str(settings.api_keys_file), "keys": keys_summary(keys)})
    elif not settings.demo:
        raise KeysFileError("no API keys: set KAIROS_API_KEYS_FILE to a keys file (make one with "
                            "`kairos keys create --id NAME --scopes ingest,decide --file FILE`), "
                            "or run `kairos serve --demo` for a development key")
    else:
        token, key = development_key(settings.data_dir.resolve(), settings.rate_limit_per_s,
                                     settings.rate_limit_burst)
        announce(f"Development API key (all scopes): {token}  — set KAIROS_API_KEYS_FILE for production")
        keys = [key]
    return Authenticator(keys, RateLimiter(clock if clock is not None else MonotonicClock()))
