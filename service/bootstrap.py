"""Composition root: builds the broker, topics, faust app, reference feed, producer and HTTP API
from one Settings, runs them on one event loop and takes them down in order.

`serve()` returns the process exit code: 0 after SIGINT/SIGTERM, 1 when the embedded broker dies
or the stream processor crashes (Kairos says so and exits; it never hangs).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import shutil
import signal
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web

from service.adapters.clock import Clock, ManualClock, SystemClock
from service.adapters.embedded_broker import BrokerError, EmbeddedBroker
from service.adapters.kafka_admin import ClusterUnavailable, ensure_topics, wait_for_cluster
from service.adapters.kafka_security import PLAINTEXT, kafka_security
from service.adapters.mapping_file import load_mapping_file
from service.adapters.policy_file import PolicyLoad, read_policy
from service.adapters.policy_store import PolicyStore
from service.adapters.producer import EventProducer
from service.adapters.reference_feed import ReferenceFeed
from service.adapters.state_epoch import StateAheadOfCluster, check_state_epoch
from service.api.app import build_http_app
from service.api.auth import KeysFileError, build_authenticator
from service.api.deps import ApiDeps, RecentIds, WebhookDeps
from service.api.drain import InFlight, stop_http
from service.api.forwarding import Forwarder, advertised_url, close_quietly
from service.api.request_validation import RequestValidator
from service.api.validation import EventValidator
from service.api.webhook_auth import load_webhook_secrets
from service.core.geofencing import GeofencingConfig
from service.core.opening_hours import store_open_at
from service.core.policy import DEFAULT_POLICY_PATH, Policy
from service.core.reference import ReferenceData
from service.core.state import decode_state
from service.core.state_config import StateConfig
from service.core.timeutil import parse_rfc3339_ms
from service.input_tasks import start_input_tasks
from service.notify_setup import build_notify, read_token, start_notify, stop_notify
from service.providers.mapping import mapping_summary
from service.settings import Settings, SettingsError
from service.stream import topics
from service.stream.geofencing_stage import GeofencingStage
from service.stream.health import consumer_lag, customers_in_state
from service.stream.ownership import Ownership
from service.stream.processor import StreamRuntime, build_stream
from service.telemetry.input_metrics import build_input_metrics
from service.telemetry.logging import configured_level, set_level
from service.telemetry.metrics import Metrics, build_metrics, set_consumer_lag

log = logging.getLogger("kairos")

PACKAGE_DIR = Path(__file__).resolve().parent
SCHEMA_DIR = PACKAGE_DIR.parent / "schemas"
DEMO_CATALOG = PACKAGE_DIR / "data" / "demo_catalog.ndjson"
DEMO_STORES = PACKAGE_DIR / "data" / "demo_stores.ndjson"
# How long a stop waits for HTTP requests in flight (a slow client uploading a batch) before
# cutting them off; the stream is stopped after, so their events are still flushed and applied.
HTTP_DRAIN_TIMEOUT_S = 10.0


def schema_dir() -> Path:
    """The schemas ship beside the package in a checkout and inside it when installed."""
    bundled = PACKAGE_DIR / "schemas"
    return bundled if bundled.is_dir() else SCHEMA_DIR


@dataclass
class BrokerHealth:
    """Whether the cluster answered the last probe (kept current by _probe_broker)."""

    up: bool = True


@dataclass
class Readiness:
    """Ready once the first recovery after start is complete; later rebalances do not flip it
    (decisions are marked degraded instead)."""

    stream: StreamRuntime
    feed: ReferenceFeed
    metrics: Metrics
    broker: BrokerHealth
    latched: bool = False

    def check(self) -> tuple[bool, list[str]]:
        if not self.latched:
            reasons = self.degraded()
            if not self._recovery().completed.is_set():
                reasons.append("state_recovering")
            if not reasons:
                self.latched = True
                self.metrics.ready.set(1)
            return self.latched, sorted(set(reasons))
        return True, []

    def _recovery(self) -> Any:
        # faust's TableManagerT type does not declare `recovery`; the implementation has it.
        return self.stream.app.tables.recovery  # type: ignore[attr-defined]

    def degraded(self) -> list[str]:
        reasons: list[str] = []
        recovery = self._recovery()
        in_recovery = bool(getattr(recovery, "in_recovery", False)) or bool(self.stream.app.rebalancing)
        # 1 from start until the first recovery is complete and during every later rebalance:
        # while it is 1 this worker's answers may lack state (the "recovery stuck" alert).
        self.metrics.recovery_in_progress.set(1 if in_recovery or not recovery.completed.is_set() else 0)
        if in_recovery:
            reasons.append("state_recovering")
        if not self.broker.up:
            reasons.append("broker_unreachable")
        if self.feed.failed is not None:
            reasons.append("reference_data_stopped")
        elif not self.feed.caught_up.is_set():
            reasons.append("reference_data_loading")
        return reasons


@dataclass
class Running:
    """Handles for everything started, so shutdown can take it down in reverse order."""

    broker: EmbeddedBroker | None = None
    producer: EventProducer | None = None
    feed: ReferenceFeed | None = None
    stream: StreamRuntime | None = None
    runner: web.AppRunner | None = None
    in_flight: InFlight = field(default_factory=InFlight)
    run_dir: Path | None = None
    forwarder: Forwarder | None = None
    stops: list[Callable[[], Any]] = field(default_factory=list)
    notify: Any = None  # service.notify_setup.NotifyParts when notifications are on


_RUN_DIR = re.compile(r"\d{8}T\d{6}-(\d+)")


def remove_dead_runs(runs: Path) -> list[Path]:
    """Removes the per-run folders of embedded runs whose process is gone (killed, so it could not
    clean up); returns them. A folder whose process still lives (another Kairos on the same data
    dir) and anything Kairos did not name is left alone."""
    removed: list[Path] = []
    for child in sorted(runs.iterdir()) if runs.is_dir() else ():
        match = _RUN_DIR.fullmatch(child.name)
        if match is None or not child.is_dir() or _process_alive(int(match.group(1))):
            continue
        shutil.rmtree(child, ignore_errors=True)
        removed.append(child)
    if removed:
        log.info("removed the folders of embedded runs that were killed", extra={"runs": len(removed)})
    return removed


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def prepare_data_dir(settings: Settings) -> tuple[Path, bool]:
    """(directory for this run's state, whether Kairos owns it and removes it at exit).

    With the embedded broker every topic starts empty, so state from an earlier run would be
    inconsistent with it: each run gets a fresh subfolder of the data dir, removed at exit.
    The user's data dir itself is never deleted."""
    base = settings.data_dir.resolve()
    if settings.embedded_broker:
        runs = base / "embedded-runs"
        remove_dead_runs(runs)
        run_dir = runs / f"{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}"
        run_dir.mkdir(parents=True, exist_ok=False)
        return run_dir, True
    state_dir = base / "state"
    state_dir.mkdir(parents=True, exist_ok=True)
    return state_dir, False


def policy_schema_check(directory: Path | None = None) -> Callable[[object], list[tuple[str, str]]]:
    """The policy schema as a check: document -> [(JSON pointer, reason)]."""
    validator = RequestValidator.from_directory(directory or schema_dir(), "policy.schema.json")

    def check(document: object) -> list[tuple[str, str]]:
        if not isinstance(document, dict):
            return [("", "the policy must be an object (a YAML mapping) with version, blocks, screens and texts")]
        return [(e.pointer, e.reason) for e in validator.validate(document)]

    return check


def read_policy_file(path: Path | None, check: Callable[[object], list[tuple[str, str]]] | None = None) -> PolicyLoad:
    """The policy file (or the shipped default), checked; see service.adapters.policy_file."""
    return read_policy(path or DEFAULT_POLICY_PATH, check or policy_schema_check())


def load_policy_file(path: Path | None) -> Policy:
    """The checked, compiled policy; raises PolicyFileError listing every error."""
    loaded = read_policy_file(path)
    if loaded.policy is None:
        raise PolicyFileError(loaded)
    for problem in loaded.problems:
        log.warning(f"policy warning: {problem}")
    return loaded.policy


class PolicyFileError(Exception):
    """The policy file Kairos was started with is invalid (one line per error)."""

    def __init__(self, loaded: PolicyLoad) -> None:
        lines = "\n".join(str(p) for p in loaded.errors)
        super().__init__(f"the policy file is invalid; fix it (kairos check-policy FILE shows the same):\n{lines}")


def _policy_metrics(metrics: Metrics) -> Callable[[str, Policy], None]:
    def record(result: str, policy: Policy) -> None:
        metrics.policy_reloads.labels(result).inc()
        metrics.policy_version.clear()
        metrics.policy_version.labels(policy.version).set(1)

    return record


async def publish_demo_catalog(producer: EventProducer, validator: EventValidator, names: topics.Topics,
                               now_ms: int, path: Path = DEMO_CATALOG) -> int:
    """Sends the bundled demo catalog (products, a store, stock) through the reference topics."""
    records = []
    for line in path.read_bytes().splitlines():
        if not line.strip():
            continue
        event = orjson.loads(line)
        errors = validator.validate(event, now_ms, 0)
        if errors:
            raise RuntimeError(f"demo catalog line is invalid: {errors[0].pointer}: {errors[0].reason}")
        topic, key = names.route(event)
        records.append((topic, key, orjson.dumps([event])))
    await producer.send_all(records)
    return len(records)


def build_clock(settings: Settings) -> Clock:
    if not settings.test_clock:
        return SystemClock()
    return ManualClock(parse_rfc3339_ms(settings.test_clock_start) if settings.test_clock_start else None)


async def serve(settings: Settings, announce: Callable[[str], None] = print) -> int:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    exit_code = 0
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    # The log level at run time: SIGUSR1 turns DEBUG on, SIGUSR2 goes back to KAIROS_LOG_LEVEL.
    loop.add_signal_handler(signal.SIGUSR1, lambda: set_level("DEBUG", by="SIGUSR1"))
    loop.add_signal_handler(signal.SIGUSR2, lambda: set_level(configured_level(), by="SIGUSR2"))
    running = Running()
    try:
        exit_code = await _run(settings, running, stop, announce)
    except (StateAheadOfCluster, ClusterUnavailable, BrokerError, KeysFileError, SettingsError,
            PolicyFileError) as exc:
        # Operator errors with a clear next step: a log line, exit code 1, no traceback.
        log.error(str(exc))
        exit_code = 1
    finally:
        # With the broker gone, Kafka clients only retry (and log each retry) while stopping:
        # give each step little time and keep the reason Kairos stopped readable at the end.
        if exit_code != 0:
            logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
        await _shutdown(running, step_timeout_s=30.0 if exit_code == 0 else 3.0)
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGUSR1, signal.SIGUSR2):
            loop.remove_signal_handler(sig)
    return exit_code


async def _run(settings: Settings, running: Running, stop: asyncio.Event, announce: Callable[[str], None]) -> int:
    clock = build_clock(settings)
    # First: a bad keys file stops Kairos before anything has started.
    auth = build_authenticator(settings, announce)
    notify_token = read_token(settings)  # an unreadable gateway token file stops Kairos here too
    metrics = build_metrics()
    input_metrics = build_input_metrics(metrics.registry)
    # Webhook secrets and the mapping are read first too: a bad file stops Kairos before it starts.
    webhooks = WebhookDeps(load_webhook_secrets(settings), load_mapping_file(settings.mapping_file), input_metrics)
    if settings.mapping_file is not None:
        log.info("identity and place mapping loaded", extra={"mapping": mapping_summary(webhooks.mapping)})
    # Before anything starts: an unreadable password file or CA bundle stops Kairos here.
    security = PLAINTEXT if settings.embedded_broker else kafka_security(settings)
    run_dir, owned = prepare_data_dir(settings)
    if owned:
        running.run_dir = run_dir
    if settings.embedded_broker:
        running.broker = EmbeddedBroker()
        await running.broker.start()
        bootstrap = [running.broker.bootstrap]
        announce(f"Embedded Kafka-compatible broker (Tansu) on {running.broker.bootstrap}: it keeps data in "
                 "MEMORY ONLY and starts empty every time; state lives in "
                 f"{run_dir} for this run. For durable state set KAIROS_KAFKA_BROKER=host:port to use a Kafka cluster.")
    else:
        bootstrap = settings.bootstrap_servers
        await wait_for_cluster(bootstrap, settings.kafka_connect_timeout_s, security=security)
    names = topics.Topics(settings.topic_prefix)
    created = await ensure_topics(bootstrap, names.all(settings.partitions), settings.replication_factor,
                                  security=security, configs=names.configs())
    if created:
        log.info("topics created", extra={"topics": created})
    store_kind = settings.store_kind
    if store_kind == "rocksdb":
        await check_state_epoch(bootstrap, names.state_epoch, settings.group_id, run_dir, security=security)
    validator = EventValidator.from_directory(schema_dir())
    request_validator = RequestValidator.from_directory(schema_dir(), "decision_request.schema.json")
    first = read_policy_file(settings.policy_file, policy_schema_check())
    if first.policy is None:
        raise PolicyFileError(first)
    for problem in first.problems:
        log.warning(f"policy warning: {problem}")
    policy_store = PolicyStore(settings.policy_file, first.policy, first.digest,
                               lambda path: read_policy_file(path, policy_schema_check()), _policy_metrics(metrics))
    metrics.policy_version.labels(first.policy.version).set(1)
    # Opening hours decide "open now" for store recommendations (unknown hours: shown, open_now null).
    reference = ReferenceData(open_check=store_open_at)
    state_config = StateConfig(late_grace_ms=int(settings.late_grace_s * 1000),
                               max_future_skew_ms=int(settings.max_future_skew_s * 1000))
    running.producer = EventProducer(bootstrap, request_timeout_s=settings.produce_timeout_s, security=security)
    await running.producer.start()
    metrics.broker_up.set(1)
    notify = running.notify = build_notify(
        settings, metrics.registry, reference, lambda: policy_store.current, running.producer, names,
        state_config.max_contacts, lambda: running.feed is not None and running.feed.caught_up.is_set(),
        notify_token, metrics.trigger_funnel)
    running.feed = ReferenceFeed(
        bootstrap, names.reference, reference,
        lambda event: validator.validate(event, clock.now_ms(), int(settings.max_future_skew_s * 1000)),
        on_record=lambda etype, result: metrics.events.labels(etype, result, "reference").inc(),
        security=security, on_applied=None if notify is None else notify.fanout.on_reference_event)
    await running.feed.start()
    if settings.demo_catalog:
        n = await publish_demo_catalog(running.producer, validator, names, clock.now_ms())
        n += await publish_demo_catalog(running.producer, validator, names, clock.now_ms(), DEMO_STORES)
        log.info("demo catalog published", extra={"records": n})
    geofencing = GeofencingStage(reference, GeofencingConfig(
        settings.geofence_max_accuracy_m, settings.geofence_exit_margin_m, settings.geofence_dwell_s), input_metrics)
    stream = build_stream(settings, names, bootstrap, store_kind, run_dir, metrics, validator, clock.now_ms,
                          state_config, security, derive=geofencing if settings.geofencing else None,
                          canonical_url=advertised_url(settings),
                          notify=None if notify is None else notify.stage,
                          writer=None if notify is None else notify.writer)
    running.stream = stream
    ownership = Ownership(stream.app, names.state_changelog, settings.partitions, str(stream.app.conf.canonical_url))
    running.forwarder = Forwarder(ownership, settings.forward_timeout_s, metrics.decision_forwards)
    await running.forwarder.start()
    broker_health = BrokerHealth()
    readiness = Readiness(stream, running.feed, metrics, broker_health)
    table = stream.table

    def read_state(customer_id: str) -> Mapping[str, Any] | None:
        raw = table.get(customer_id.encode())
        return decode_state(raw) if raw else None

    def refresh_gauges() -> None:
        metrics.customers_in_state.set(customers_in_state(table))
        set_consumer_lag(metrics.consumer_lag, consumer_lag(stream.app, names.customer_events))
        readiness.check()
        readiness.degraded()  # keeps kairos_recovery_in_progress current after readiness latched

    deps = ApiDeps(
        settings=settings, metrics=metrics, clock=clock, event_validator=validator,
        validate_decision_request=request_validator.validate, producer=running.producer,
        read_state=read_state, reference=reference, policy=lambda: policy_store.current,
        readiness=readiness.check, degraded_reasons=readiness.degraded,
        refresh_gauges=refresh_gauges, recent_ids=RecentIds(), topics=names, webhooks=webhooks,
        forwarder=running.forwarder,
        notifications=None if notify is None else notify.recent.of,
    )
    running.runner = web.AppRunner(build_http_app(deps, auth, running.in_flight), access_log=None,
                                   shutdown_timeout=HTTP_DRAIN_TIMEOUT_S)
    await running.runner.setup()
    site = web.TCPSite(running.runner, settings.host, settings.port)
    await site.start()
    await stream.app.start()
    if notify is not None:
        await start_notify(notify, settings, clock, running.producer, names,
                           lambda: readiness.check()[0] and not stream.app.rebalancing, running.stops)
    probe = asyncio.create_task(_probe_broker(running.producer, broker_health, metrics))
    running.stops.append(probe.cancel)
    start_input_tasks(settings, deps, running.stops, reference, lambda: readiness.check()[0], announce)
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGHUP, policy_store.reload)
    running.stops.append(lambda: loop.remove_signal_handler(signal.SIGHUP))
    if settings.policy_watch_s > 0 and settings.policy_file is not None:
        watcher = asyncio.create_task(policy_store.watch(settings.policy_watch_s))
        running.stops.append(watcher.cancel)
    url = f"http://{settings.host}:{settings.port}"
    announce(f"Kairos listening on {url}  (API /v1/events, /v1/decisions; /metrics, /healthz, /readyz); "
             f"other workers of group {settings.group_id!r} reach it at {ownership.self_url}")
    announce(f"policy {policy_store.current.version}, store {store_kind}, partitions {settings.partitions}"
             + (", TEST CLOCK ON" if settings.test_clock else ""))
    return await _watch(running, stop)


async def _watch(running: Running, stop: asyncio.Event) -> int:
    """Waits for a stop signal, the embedded broker's death or a crashed stream processor."""
    waiters: dict[asyncio.Task[Any], str] = {asyncio.create_task(stop.wait()): "signal"}
    if running.broker is not None:
        waiters[asyncio.create_task(running.broker.wait_exit())] = "broker"
    assert running.stream is not None
    waiters[asyncio.create_task(_crashed(running.stream))] = "crash"
    done, pending = await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
    reason = waiters[next(iter(done))]
    if reason == "signal":
        log.info("stopping on signal")
        return 0
    if reason == "broker":
        log.error("the embedded broker exited unexpectedly; Kairos stops (its data was in memory and is gone)",
                  extra={"exit_code": next(iter(done)).result()})
        return 1
    crash = running.stream.app.crash_reason
    hint = ""
    if type(crash).__name__ == "ConsistencyError":
        # BROKER.md #3: a memory-only broker (Tansu) that restarted has lost every changelog, so
        # the local RocksDB state is ahead of it. Kairos does not guess which side to trust.
        hint = (" The local state store is ahead of the changelog topic: the cluster lost its data (a "
                "memory-only broker that restarted?). If the cluster is the truth, move the state "
                "directory aside (KAIROS_DATA_DIR/state) and start again; it is rebuilt from the changelog.")
    log.error("the stream processor crashed; Kairos stops." + hint, extra={"reason": repr(crash)})
    return 1


async def _probe_broker(producer: EventProducer, health: BrokerHealth, metrics: Metrics,
                        every_s: float = 1.0, timeout_s: float = 2.0) -> None:
    """Keeps the broker's health current, so decisions say `broker_unreachable` while the cluster
    does not answer (they are still served from local state) and recover by themselves."""
    while True:
        try:
            await asyncio.wait_for(producer.ping(), timeout_s)
            up = True
        except Exception:  # a timeout or any client error: the cluster did not answer
            up = False
        if up != health.up:
            log.log(logging.INFO if up else logging.WARNING,
                    "the broker answers again" if up else "the broker does not answer; decisions are marked degraded")
        health.up = up
        metrics.broker_up.set(1 if up else 0)
        await asyncio.sleep(every_s)


async def _crashed(stream: StreamRuntime) -> None:
    while stream.app.crash_reason is None and not stream.app.should_stop:
        await asyncio.sleep(0.5)


async def _shutdown(running: Running, step_timeout_s: float) -> None:
    # Reverse order of start: stop taking requests (finishing those in flight), stop the
    # stream (commits offsets), flush the producer, then the broker.
    for stop_hook in running.stops:
        stop_hook()
    steps: list[tuple[str, Any]] = []
    if running.runner is not None:
        steps.append(("http", stop_http(running.runner, running.in_flight, HTTP_DRAIN_TIMEOUT_S)))
    if running.forwarder is not None:
        steps.append(("forwarder", close_quietly(running.forwarder)))
    if running.stream is not None:
        steps.append(("stream", running.stream.app.stop()))
    if running.notify is not None:
        steps.append(("notification gateway", stop_notify(running.notify)))
    if running.feed is not None:
        steps.append(("reference feed", running.feed.stop()))
    if running.producer is not None:
        steps.append(("producer", running.producer.stop()))
    if running.broker is not None:
        steps.append(("broker", running.broker.stop()))
    for name, coro in steps:
        # Not wait_for: a Kafka client stopping against a dead broker may not even finish being
        # cancelled, and the broker must be stopped whatever failed before it.
        task = asyncio.ensure_future(coro)
        done, _ = await asyncio.wait({task}, timeout=step_timeout_s)
        if not done:
            task.cancel()
            log.warning("component did not stop in time; abandoned", extra={"component": name,
                                                                            "timeout_s": step_timeout_s})
        elif not task.cancelled() and task.exception() is not None:
            log.warning("component did not stop cleanly", exc_info=task.exception(), extra={"component": name})
    if running.run_dir is not None:
        with contextlib.suppress(OSError):
            shutil.rmtree(running.run_dir)
