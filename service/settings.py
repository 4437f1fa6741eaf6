"""One frozen, typed Settings object, loaded once from the environment and passed explicitly.

Only `load_settings` reads environment variables; everything else receives a Settings.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from service.core.timeutil import parse_rfc3339_ms

ENV_PREFIX = "KAIROS_"
KAFKA_SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
KAFKA_SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")


class SettingsError(ValueError):
    """A setting has a value Kairos cannot use; the message names the variable."""


@dataclass(frozen=True, slots=True)
class Settings:
    """Every knob Kairos has. Field name `foo_bar` is environment variable `KAIROS_FOO_BAR`."""

    host: str = "127.0.0.1"
    port: int = 8080
    data_dir: Path = Path("./kairos-data")
    # Empty: start the embedded (memory-only) broker. Else comma-separated host:port list.
    kafka_broker: str = ""
    partitions: int = 8
    replication_factor: int = 1
    # memory | rocksdb. Empty picks: memory with the embedded broker, rocksdb with a real cluster.
    store: str = ""
    group_id: str = "kairos"
    # Prepended to every topic name ("" = none), so several deployments can share one cluster.
    topic_prefix: str = ""
    policy_file: Path | None = None
    # Reload the policy file when its bytes change, polled every this many seconds (0 = off;
    # SIGHUP always reloads).
    policy_watch_s: float = 0.0
    demo_catalog: bool = True
    test_clock: bool = False
    # Short by default: Tansu completes a group join only after session_timeout / 2 (BROKER.md).
    kafka_session_timeout_s: float = 6.0
    kafka_heartbeat_interval_s: float = 0.6
    kafka_commit_interval_s: float = 1.0
    kafka_connect_timeout_s: float = 120.0
    # How long ingest waits for the broker's acknowledgement before answering 503.
    produce_timeout_s: float = 5.0
    max_body_bytes: int = 1_048_576
    # A request body must arrive within this long (408 after): a client that stops sending mid-body
    # must not hold a connection and a handler open.
    body_read_timeout_s: float = 30.0
    max_events_per_request: int = 1000
    max_future_skew_s: float = 300.0
    # Apps send events buffered while offline: an hour late is still merged.
    late_grace_s: float = 3600.0
    log_level: str = "INFO"
    # JSON file of API keys (ids, SHA-256 hashes, scopes, rates). None: Kairos refuses to start
    # unless `demo` is on, which makes a development key with every scope at each start
    # (written to <data_dir>/dev-api-key).
    api_keys_file: Path | None = None
    demo: bool = False
    # Per-key token bucket defaults (a key in the keys file may set its own).
    rate_limit_per_s: float = 500.0
    rate_limit_burst: int = 1000
    # Production Kafka: TLS and SASL, passed to every Kafka client (faust and aiokafka alike).
    kafka_security_protocol: str = "PLAINTEXT"
    kafka_sasl_mechanism: str = ""
    kafka_sasl_username: str = ""
    # Prefer the _FILE variant (a mounted secret): a variable shows in `ps e` and crash dumps.
    kafka_sasl_password: str = field(default="", repr=False)
    kafka_sasl_password_file: Path | None = None
    # CA bundle for the brokers' certificates (empty: the system's CAs); client certificate and key
    # for mutual TLS.
    kafka_ssl_cafile: Path | None = None
    kafka_ssl_certfile: Path | None = None
    kafka_ssl_keyfile: Path | None = None
    # Provider webhooks (docs/INPUT.md). Each secret: a _FILE (preferred: one secret per line, so a
    # rotation can list the old and the new) or the variable itself; a provider with neither is off.
    mapping_file: Path | None = None
    webhook_radar_token: str = field(default="", repr=False)
    webhook_radar_token_file: Path | None = None
    webhook_aws_location_token: str = field(default="", repr=False)
    webhook_aws_location_token_file: Path | None = None
    webhook_azure_maps_token: str = field(default="", repr=False)
    webhook_azure_maps_token_file: Path | None = None
    webhook_kairos_secret: str = field(default="", repr=False)
    webhook_kairos_secret_file: Path | None = None
    webhook_token_header: str = "X-Kairos-Webhook-Token"
    # How old (or how far ahead) a signed generic webhook's timestamp may be.
    webhook_tolerance_s: float = 300.0
    # Server-side geofencing of raw positions against the stores' fences.
    geofencing: bool = True
    geofence_max_accuracy_m: float = 100.0
    geofence_exit_margin_m: float = 30.0
    geofence_dwell_s: float = 300.0
    # Open-Meteo current weather for every store's grid cell, published as weather.observed.
    weather: bool = False
    weather_url: str = "https://api.open-meteo.com/v1/forecast"
    weather_timeout_s: float = 3.0
    weather_retries: int = 2
    weather_ttl_s: float = 900.0
    # The demo customer's walk into the London store, one position every this many seconds.
    demo_walk_interval_s: float = 3.0
    # Scale-out: the URL other workers of the group use to reach this one (forwarded decisions).
    # Empty: http://<host>:<port>, or http://<host name>:<port> when listening on every address.
    advertised_url: str = ""
    # How long a decision waits for the worker that owns the customer's state before it is
    # answered here, marked degraded (owner_unreachable).
    forward_timeout_s: float = 0.25
    # Triggered messages (docs/POLICY.md, "Triggers"): detected on the stream, written to the
    # notifications topic; optionally POSTed to a delivery gateway webhook too.
    notifications: bool = True
    notify_webhook_url: str = ""
    notify_webhook_token_file: Path | None = None
    notify_webhook_timeout_s: float = 5.0
    notify_webhook_retries: int = 3
    notify_webhook_backoff_s: float = 0.5
    notify_webhook_queue: int = 10_000
    # How often (wall time) the timer checks the injected clock for held messages that are due.
    notify_timer_s: float = 0.25
    # With the test clock: the time it starts at (RFC 3339; empty: the wall clock's now).
    test_clock_start: str = ""

    @property
    def embedded_broker(self) -> bool:
        return not self.kafka_broker

    @property
    def bootstrap_servers(self) -> list[str]:
        return parse_broker_list(self.kafka_broker)

    @property
    def store_kind(self) -> str:
        if self.store:
            return self.store
        return "memory" if self.embedded_broker else "rocksdb"


def parse_broker_list(value: str) -> list[str]:
    """`kafka://a:9092,b:9092` or `a:9092,b:9092` → ["a:9092", "b:9092"]."""
    out: list[str] = []
    for part in value.split(","):
        part = part.strip()
        if not part:
            continue
        for prefix in ("kafka://", "tcp://"):
            if part.startswith(prefix):
                part = part[len(prefix):]
        host, sep, port = part.rpartition(":")
        if not sep or not host or not port.isdigit():
            raise SettingsError(
                f"KAIROS_KAFKA_BROKER: {part!r} is not host:port (example: kafka://127.0.0.1:9092)"
            )
        out.append(f"{host}:{port}")
    return out


def _coerce(name: str, raw: str, default: Any, field_type: str) -> Any:
    env = ENV_PREFIX + name.upper()
    try:
        if field_type == "bool":
            low = raw.strip().lower()
            if low in {"1", "true", "yes", "on"}:
                return True
            if low in {"0", "false", "no", "off", ""}:
                return False
            raise ValueError(raw)
        if field_type == "int":
            return int(raw)
        if field_type == "float":
            return float(raw)
        if "Path" in field_type:
            return Path(raw) if raw else None if "None" in field_type else default
        return raw
    except ValueError:
        raise SettingsError(f"{env}={raw!r} is not a valid {field_type}") from None


def load_settings(env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Build Settings from `KAIROS_*` variables, then apply explicit overrides (CLI flags)."""
    source = os.environ if env is None else env
    values: dict[str, Any] = {}
    for f in dataclasses.fields(Settings):
        key = ENV_PREFIX + f.name.upper()
        if key in source:
            values[f.name] = _coerce(f.name, source[key], f.default, str(f.type))
    values.update({k: v for k, v in overrides.items() if v is not None})
    settings = Settings(**values)
    validate(settings)
    return settings


def validate(s: Settings) -> None:
    if not 0 <= s.port <= 65535:
        raise SettingsError(f"KAIROS_PORT={s.port} is outside 0..65535")
    if s.produce_timeout_s <= 0:
        raise SettingsError("KAIROS_PRODUCE_TIMEOUT_S must be positive")
    if not s.body_read_timeout_s > 0:
        raise SettingsError(f"KAIROS_BODY_READ_TIMEOUT_S={s.body_read_timeout_s}: use a number of seconds above 0")
    if s.partitions < 1:
        raise SettingsError("KAIROS_PARTITIONS must be at least 1")
    if s.store and s.store not in {"memory", "rocksdb"}:
        raise SettingsError(f"KAIROS_STORE={s.store!r}: use memory or rocksdb")
    if s.kafka_broker:
        parse_broker_list(s.kafka_broker)
    if s.topic_prefix and not all(c.isalnum() or c in "._-" for c in s.topic_prefix):
        raise SettingsError(f"KAIROS_TOPIC_PREFIX={s.topic_prefix!r}: use letters, digits, '.', '_' or '-'")
    if s.policy_watch_s < 0:
        raise SettingsError(f"KAIROS_POLICY_WATCH_S={s.policy_watch_s}: use 0 (off) or a positive number of seconds")
    if not s.rate_limit_per_s > 0:
        raise SettingsError(f"KAIROS_RATE_LIMIT_PER_S={s.rate_limit_per_s}: use a number greater than 0")
    if s.rate_limit_burst < 1:
        raise SettingsError(f"KAIROS_RATE_LIMIT_BURST={s.rate_limit_burst}: use an integer of at least 1")
    if s.log_level.upper() not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        raise SettingsError(f"KAIROS_LOG_LEVEL={s.log_level!r}: use DEBUG, INFO, WARNING or ERROR")
    if s.advertised_url:
        validate_advertised_url(s.advertised_url)
    if not 0 < s.forward_timeout_s <= 30:
        raise SettingsError(f"KAIROS_FORWARD_TIMEOUT_S={s.forward_timeout_s}: use a number of seconds in (0, 30]")
    validate_kafka_security(s)
    validate_input(s)
    validate_notify(s)


def validate_notify(s: Settings) -> None:
    """The delivery webhook and the timer: a clear message for a value Kairos cannot use."""
    url = s.notify_webhook_url
    if url and not url.startswith(("http://", "https://")):
        raise SettingsError(f"KAIROS_NOTIFY_WEBHOOK_URL={url!r}: use an http:// or https:// URL")
    if s.notify_webhook_token_file is not None and not url:
        raise SettingsError("KAIROS_NOTIFY_WEBHOOK_TOKEN_FILE is set without KAIROS_NOTIFY_WEBHOOK_URL")
    for name in ("notify_webhook_timeout_s", "notify_webhook_backoff_s", "notify_timer_s"):
        if not getattr(s, name) > 0:
            raise SettingsError(f"{ENV_PREFIX}{name.upper()}={getattr(s, name)}: use a number greater than 0")
    if s.notify_webhook_retries < 0 or s.notify_webhook_queue < 1:
        raise SettingsError("KAIROS_NOTIFY_WEBHOOK_RETRIES must not be negative and KAIROS_NOTIFY_WEBHOOK_QUEUE "
                            "must be at least 1")
    if s.test_clock_start:
        try:
            parse_rfc3339_ms(s.test_clock_start)
        except ValueError:
            raise SettingsError(f"KAIROS_TEST_CLOCK_START={s.test_clock_start!r}: use an RFC 3339 time with an "
                                "offset, e.g. 2026-01-05T17:40:00Z") from None


def validate_input(s: Settings) -> None:
    """Webhook secrets: at most one source each (the file is preferred); positive limits."""
    for name in ("webhook_radar_token", "webhook_aws_location_token", "webhook_azure_maps_token",
                 "webhook_kairos_secret"):
        if getattr(s, name) and getattr(s, name + "_file"):
            env = ENV_PREFIX + name.upper()
            raise SettingsError(f"set one of {env}_FILE (preferred) or {env}, not both")
    for name in ("webhook_tolerance_s", "geofence_max_accuracy_m", "weather_timeout_s", "weather_ttl_s",
                 "demo_walk_interval_s"):
        if not getattr(s, name) > 0:
            raise SettingsError(f"{ENV_PREFIX}{name.upper()}={getattr(s, name)}: use a number greater than 0")
    if s.geofence_exit_margin_m < 0 or s.geofence_dwell_s < 0 or s.weather_retries < 0:
        raise SettingsError("KAIROS_GEOFENCE_EXIT_MARGIN_M, KAIROS_GEOFENCE_DWELL_S and KAIROS_WEATHER_RETRIES "
                            "must not be negative")


def validate_advertised_url(url: str) -> None:
    """http(s)://host:port and nothing else: workers append their own paths to it."""
    scheme, sep, rest = url.partition("://")
    host, colon, port = rest.rpartition(":")
    if (scheme not in {"http", "https"} or not sep or not colon or not host or not port.isdigit()
            or "/" in rest or not 0 < int(port) <= 65535):
        raise SettingsError(f"KAIROS_ADVERTISED_URL={url!r}: use http://host:port (how the other workers reach "
                            "this one, e.g. http://kairos-0.kairos-headless:8080)")


def validate_kafka_security(s: Settings) -> None:
    """A half-configured TLS or SASL setup is refused at start, naming the variable: otherwise it
    would show only as a connection that never succeeds (or, worse, as credentials never sent)."""
    protocol = s.kafka_security_protocol
    if protocol not in KAFKA_SECURITY_PROTOCOLS:
        raise SettingsError(f"KAIROS_KAFKA_SECURITY_PROTOCOL={protocol!r}: use {', '.join(KAFKA_SECURITY_PROTOCOLS)}")
    sasl = protocol.startswith("SASL_")
    tls = protocol in {"SSL", "SASL_SSL"}
    given_sasl = [name for name, value in (("KAIROS_KAFKA_SASL_MECHANISM", s.kafka_sasl_mechanism),
                                           ("KAIROS_KAFKA_SASL_USERNAME", s.kafka_sasl_username),
                                           ("KAIROS_KAFKA_SASL_PASSWORD", s.kafka_sasl_password),
                                           ("KAIROS_KAFKA_SASL_PASSWORD_FILE", s.kafka_sasl_password_file))
                  if value]
    given_tls = [name for name, value in (("KAIROS_KAFKA_SSL_CAFILE", s.kafka_ssl_cafile),
                                          ("KAIROS_KAFKA_SSL_CERTFILE", s.kafka_ssl_certfile),
                                          ("KAIROS_KAFKA_SSL_KEYFILE", s.kafka_ssl_keyfile)) if value]
    if protocol != "PLAINTEXT" and s.embedded_broker:
        raise SettingsError(f"KAIROS_KAFKA_SECURITY_PROTOCOL={protocol}: the embedded broker speaks PLAINTEXT "
                            "only; set KAIROS_KAFKA_BROKER to your cluster")
    if given_sasl and not sasl:
        raise SettingsError(f"{given_sasl[0]} is set but KAIROS_KAFKA_SECURITY_PROTOCOL={protocol}: use "
                            "SASL_SSL (or SASL_PLAINTEXT) for SASL")
    if given_tls and not tls:
        raise SettingsError(f"{given_tls[0]} is set but KAIROS_KAFKA_SECURITY_PROTOCOL={protocol}: use SSL or "
                            "SASL_SSL for TLS")
    if s.kafka_ssl_keyfile and not s.kafka_ssl_certfile:
        raise SettingsError("KAIROS_KAFKA_SSL_KEYFILE is set without KAIROS_KAFKA_SSL_CERTFILE (the client "
                            "certificate it belongs to)")
    if not sasl:
        return
    if s.kafka_sasl_mechanism not in KAFKA_SASL_MECHANISMS:
        raise SettingsError(f"KAIROS_KAFKA_SASL_MECHANISM={s.kafka_sasl_mechanism!r}: use "
                            f"{', '.join(KAFKA_SASL_MECHANISMS)} with KAIROS_KAFKA_SECURITY_PROTOCOL={protocol}")
    if not s.kafka_sasl_username:
        raise SettingsError(f"KAIROS_KAFKA_SASL_USERNAME is required with KAIROS_KAFKA_SECURITY_PROTOCOL={protocol}")
    if bool(s.kafka_sasl_password) == bool(s.kafka_sasl_password_file):
        raise SettingsError("set one of KAIROS_KAFKA_SASL_PASSWORD_FILE (preferred) or KAIROS_KAFKA_SASL_PASSWORD "
                            f"with KAIROS_KAFKA_SECURITY_PROTOCOL={protocol}")
