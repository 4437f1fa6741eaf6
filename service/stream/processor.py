"""The faust app: the customer-state table and the agent that applies customer events to it.

Thin by design: decode the Kafka record, hand each event to the pure `apply_event`, write the
table once per record. A record may hold one event (third-party producers) or an array of one
customer's events (Kairos's own ingest layout), which costs one changelog write per array.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import faust
import orjson
from faust.types import EventT, TableT

from service.adapters import faust_transport
from service.adapters.kafka_security import PLAINTEXT, KafkaSecurity
from service.adapters.producer import HEADER_INGEST
from service.api.validation import EventValidator
from service.core.events import CUSTOMER_EVENT_TYPES, REFERENCE_EVENT_TYPES
from service.core.state import StateConfig, StateFormatError, apply_event, decode_state, encode_state
from service.core.timeutil import parse_rfc3339_ms
from service.settings import Settings
from service.stream import topics
from service.stream.erasure import erased_at_ms, erasure_key, is_control
from service.stream.notifications import NotificationStage, is_notify_control
from service.stream.notify_tasks import NotificationWriter
from service.telemetry.metrics import Metrics

log = logging.getLogger("kairos.stream")

TABLE_NAME = "customer-state"
TRIGGERS_TABLE = "customer-triggers"
ERASURES_TABLE = "customer-erasures"
# Top-level field of the state record: [partition, offset] of the last Kafka record applied.
SOURCE_OFFSET = "source_offset"
# Characters of the original event kept in a dead-letter record (a record must stay < 1 MB).
DEAD_LETTER_ORIGINAL_CHARS = 65_536
# Header on events Kairos derived on the stream (server-side geofencing) and wrote back to the topic.
HEADER_DERIVED = "kairos-derived"
# (state after an applied event, the event) -> events derived from it, applied right away.
Derive = Callable[[Mapping[str, Any], Mapping[str, Any]], list[dict[str, Any]]]


@dataclass
class StreamRuntime:
    app: faust.App
    table: TableT[bytes, bytes]
    customer_topic: faust.TopicT
    index_table: Any = field(default=None)


def build_stream(
    settings: Settings, names: topics.Topics, bootstrap: list[str], store_kind: str, data_dir: Path,
    metrics: Metrics, validator: EventValidator, now_ms: Callable[[], int], state_config: StateConfig,
    security: KafkaSecurity = PLAINTEXT, derive: Derive | None = None, canonical_url: str | None = None,
    notify: NotificationStage | None = None, writer: NotificationWriter | None = None,
) -> StreamRuntime:
    """Builds (does not start) the faust app, its table (memory or rocksdb) under `data_dir`.

    `canonical_url` is how the group's other workers reach this one (faust's assignor shares it
    with every member; service/stream/ownership.py routes by it). faust's web server stays off."""
    faust_transport.register()
    store = "memory://" if store_kind == "memory" else "rocksdb://"
    app = faust.App(
        settings.group_id,
        broker=[f"{faust_transport.SCHEME}://{hp}" for hp in bootstrap],
        broker_credentials=security.faust_credentials(),
        store=store,
        datadir=str(data_dir / "faust"),
        # Kairos's own Settings are the only configuration: faust must not read BROKER_URL,
        # WEB_PORT … from the environment, so its env prefix is one nobody sets.
        env_prefix="KAIROS_FAUST_ENV_DISABLED_",
        web_enabled=False,
        canonical_url=canonical_url,
        autodiscover=False,
        topic_partitions=settings.partitions,
        topic_replication_factor=settings.replication_factor,
        topic_allow_declare=False,
        broker_session_timeout=settings.kafka_session_timeout_s,
        broker_heartbeat_interval=settings.kafka_heartbeat_interval_s,
        broker_commit_interval=settings.kafka_commit_interval_s,
        consumer_auto_offset_reset="earliest",
        table_standby_replicas=0 if store_kind == "memory" else 1,
        key_serializer="raw",
        value_serializer="raw",
        logging_config=None,
        loghandlers=[],
    )
    customer_topic = app.topic(names.customer_events, key_type=bytes, value_type=bytes,
                               partitions=settings.partitions)
    changelog = app.topic(names.state_changelog, key_type=bytes, value_type=bytes,
                          partitions=settings.partitions)
    # key_type=bytes makes faust use the raw codec for keys: the same bytes as the source topic's
    # keys, so table routing hashes what the producer hashed (BROKER.md, table_route).
    table = app.Table(TABLE_NAME, key_type=bytes, value_type=bytes, partitions=settings.partitions,
                      changelog_topic=changelog)
    erasures = app.Table(ERASURES_TABLE, key_type=bytes, value_type=bytes, partitions=settings.partitions,
                         changelog_topic=app.topic(names.erasures_changelog, key_type=bytes, value_type=bytes,
                                                   partitions=settings.partitions))
    dead_letters = app.topic(names.dead_letters, key_type=bytes, value_type=bytes, partitions=1)
    index_table = None
    if notify is not None:
        # Who wished what and when her held messages are due, for this worker's customers
        # (service/stream/trigger_index.py): rebuilt after every recovery from this table.
        index_table = app.Table(TRIGGERS_TABLE, key_type=bytes, value_type=bytes, partitions=settings.partitions,
                                changelog_topic=app.topic(names.triggers_changelog, key_type=bytes,
                                                          value_type=bytes, partitions=settings.partitions))
        notify.attach(index_table, lambda: {tp.partition for tp in app.assignor.assigned_actives()
                                            if tp.topic == names.customer_events})
        index_table.on_recover(notify.rebuild_index)
    applier = RecordApplier(table, metrics, validator, now_ms, state_config, settings.max_future_skew_s, erasures,
                            derive, notify)

    @app.agent(customer_topic, name="apply-customer-events")
    async def apply_customer_events(stream: faust.StreamT[bytes]) -> None:
        async for event in stream.events():
            for dead in applier.apply_record(event):
                await dead_letters.send(key=event.message.key, value=dead)
            derived = applier.take_derived()
            if derived:
                # Already applied to her state; written back so every consumer of the topic sees
                # them as a provider's would be (re-consumed, they are duplicates by event id).
                await customer_topic.send(key=event.message.key, value=orjson.dumps(derived),
                                          headers=[(HEADER_DERIVED, b"geofencing")])
            notes = applier.take_notifications()
            if notes:
                # Written (and acknowledged) before the state that records them as sent: a crash in
                # between sends the same notification (same id) again rather than never.
                try:
                    if writer is not None:
                        await writer.write(notes)
                finally:
                    applier.commit_held()

    if notify is not None:
        decisions_topic = app.topic(names.decisions, key_type=bytes, value_type=bytes,
                                    partitions=settings.partitions)

        @app.agent(decisions_topic, name="count-shown-incentives")
        async def count_shown_incentives(stream: faust.StreamT[bytes]) -> None:
            # Co-partitioned with the customer topic (same key bytes, same partition count): the
            # worker that owns her counts the incentive her decision showed, once per decision_id.
            async for event in stream.events():
                applier.apply_decision(event)

    return StreamRuntime(app=app, table=table, customer_topic=customer_topic, index_table=index_table)


class RecordApplier:
    """Applies one Kafka record to the table; never raises for bad data (it is counted instead)."""

    def __init__(self, table: Any, metrics: Metrics, validator: EventValidator, now_ms: Callable[[], int],
                 cfg: StateConfig, max_future_skew_s: float, erasures: Any, derive: Derive | None = None,
                 notify: NotificationStage | None = None) -> None:
        self._table = table
        self._notify = notify
        self._outgoing: list[dict[str, Any]] = []
        # State writes waiting until the notifications they record as sent are on the topic.
        self._held: dict[bytes, bytes] = {}
        self._derive = derive
        self._derived: list[dict[str, Any]] = []
        self._erasures = erasures
        self._metrics = metrics
        self._validator = validator
        self._now_ms = now_ms
        self._cfg = cfg
        self._skew_ms = int(max_future_skew_s * 1000)

    def take_notifications(self) -> list[dict[str, Any]]:
        """Notifications made while applying the last record: write them, then commit_held()."""
        out, self._outgoing = self._outgoing, []
        return out

    def commit_held(self) -> None:
        held, self._held = self._held, {}
        for key, encoded in held.items():
            self._table[key] = encoded

    def _read(self, key: bytes) -> bytes | None:
        held = self._held.get(key)
        return held if held is not None else self._table.get(key)

    def _write(self, key: bytes, encoded: bytes) -> None:
        if self._outgoing or key in self._held:
            self._held[key] = encoded
        else:
            self._table[key] = encoded

    def take_derived(self) -> list[dict[str, Any]]:
        """Events derived while applying the last record (to be written back to the topic)."""
        out, self._derived = self._derived, []
        return out

    def apply_record(self, event: EventT[bytes]) -> list[bytes]:
        """Applies the record's events; returns dead-letter records for the ones rejected.

        Never raises: a record that cannot be processed is dead-lettered whole, so faust does not
        restart the agent and commit past events that were never applied."""
        message = event.message
        headers = message.headers or ()
        names = headers.keys() if isinstance(headers, Mapping) else [k for k, _ in headers]
        # The header only labels metrics: any producer can set it, so every event is validated.
        source = "ingest" if HEADER_INGEST in names else "derived" if HEADER_DERIVED in names else "kafka"
        try:
            return self._apply(message, source)
        except Exception as exc:  # a defect, not bad data: keep the events, keep the worker
            log.exception("record could not be applied; written to the dead-letter topic",
                          extra={"topic": message.topic, "partition": message.partition, "offset": message.offset})
            return [self._reject("?", source, f"internal error: {type(exc).__name__}", message, message.value)]

    def _apply(self, message: Any, source: str) -> list[bytes]:
        key: bytes | None = message.key
        try:
            value = orjson.loads(message.value or b"null")
        except orjson.JSONDecodeError:
            return [self._reject("?", source, "record is not JSON", message, message.value)]
        items = value if isinstance(value, list) else [value]
        if not key:
            return [self._reject("?", source, "record has no key (customer id)", message, message.value)]
        raw = self._read(key)
        try:
            state = decode_state(raw) if raw else None
        except StateFormatError as exc:
            # Written by a newer Kairos (or damaged): applying on top would lose what it holds.
            reason = f"state record cannot be read by this version: {exc}"
            return [self._reject(_type_of(item), source, reason, message, item) for item in items]
        if len(items) == 1 and is_control(message.headers, items[0]):
            return self._erase(key, state, items[0], source)
        position = [message.partition, message.offset]
        if state is not None and _already_applied(state.get(SOURCE_OFFSET), position):
            # Redelivered after a crash or rebalance (faust re-reads from the last commit): the
            # whole record is already in the state, however many events it holds.
            for item in items:
                self._count(_known_type(_type_of(item)), "duplicate", source)
            return []
        if len(items) == 1 and self._notify is not None and is_notify_control(message.headers, items[0]):
            return self._control(key, state, items[0], message)
        before = state
        applied: list[dict[str, Any]] = []
        dead: list[bytes] = []
        customer_id = key.decode("utf-8", "replace")
        record_ms = int(message.timestamp * 1000) if message.timestamp else self._now_ms()
        changed = False
        erased = self._erasures.get(erasure_key(key))
        erased_until = int(erased) if erased else None
        for item in items:
            etype = _type_of(item)
            errors = self._validator.validate(item, self._now_ms(), self._skew_ms)
            if errors:
                dead.append(self._reject(etype, source, _reason(errors[0].pointer, errors[0].reason), message, item))
                continue
            assert isinstance(item, dict)
            if item.get("customer_id") != customer_id:
                reason = ("a reference event on the customer topic" if etype in REFERENCE_EVENT_TYPES
                          else "customer_id differs from the record key")
                dead.append(self._reject(etype, source, reason, message, item))
                continue
            if erased_until is not None and parse_rfc3339_ms(item["occurred_at"]) <= erased_until:
                # Hers from before the erasure (a replay, a redelivery, a late upload): dropped.
                self._count(etype, "erased", source)
                continue
            received_ms = _received_ms(item, record_ms)
            result = apply_event(state, item, received_ms, self._cfg)
            self._count(etype, result.outcome, source)
            if result.outcome == "applied":
                self._metrics.event_time_to_state.observe(max(self._now_ms() - received_ms, 0) / 1000)
            state = result.state
            changed = changed or result.changed
            if result.outcome == "applied":
                applied.append(item)
            if self._derive is not None and result.outcome == "applied" and state is not None:
                for derived in self._derive(state, item):
                    more = apply_event(state, derived, received_ms, self._cfg)
                    self._metrics.state_apply.labels(derived["type"], more.outcome, "derived").inc()
                    state, changed = more.state, changed or more.changed
                    self._derived.append(derived)
                    if more.outcome == "applied":
                        applied.append(derived)
        if self._notify is not None and state is not None:
            out = self._notify.after_record(customer_id, before, state, applied, self._now_ms())
            if out.state is not None:
                state, changed = out.state, True
            self._outgoing.extend(out.sent)
        if changed and state is not None:
            self._store(key, state, position)
        return dead

    def _store(self, key: bytes, state: dict[str, Any], position: list[int]) -> None:
        state = {**state, SOURCE_OFFSET: position}
        encoded = encode_state(state)
        self._metrics.state_record_bytes.observe(len(encoded))
        self._write(key, encoded)
        if self._notify is not None:
            self._notify.reindex(key, state, position[0])

    def _control(self, key: bytes, state: Any, control: dict[str, Any], message: Any) -> list[bytes]:
        """A notification control record (a held message due, a stock change she wished for)."""
        assert self._notify is not None
        customer_id = key.decode("utf-8", "replace")
        if control.get("customer_id") != customer_id:
            return [self._reject(str(control["type"]), "control", "customer_id differs from the record key",
                                 message, control)]
        out = self._notify.on_control(customer_id, state, control, self._now_ms())
        self._outgoing.extend(out.sent)
        if out.state is not None:
            self._store(key, out.state, [message.partition, message.offset])
        self._metrics.state_apply.labels(str(control["type"]), "applied", "control").inc()
        return []

    def apply_decision(self, event: EventT[bytes]) -> None:
        """Counts the incentive a decision record showed against her budget (never raises)."""
        message = event.message
        key: bytes | None = message.key
        if self._notify is None or not key:
            return
        try:
            record = orjson.loads(message.value or b"null")
            raw = self._read(key)
            state = decode_state(raw) if raw else None
        except (orjson.JSONDecodeError, StateFormatError):
            log.warning("decision record not counted: unreadable record or state",
                        extra={"partition": message.partition, "offset": message.offset})
            return
        if not isinstance(record, dict):
            return
        erased = self._erasures.get(erasure_key(key))
        try:
            counted = self._notify.on_decision(key.decode("utf-8", "replace"), state, record,
                                               int(erased) if erased else None)
        except Exception:  # a defect, not bad data: the worker keeps going
            log.exception("decision record could not be counted")
            return
        if counted is not None:
            self._write(key, encode_state(counted))

    def _erase(self, key: bytes, state: Any, control: dict[str, Any], source: str) -> list[bytes]:
        until = erased_at_ms(control, state)
        previous = self._erasures.get(erasure_key(key))
        self._erasures[erasure_key(key)] = str(max(until, int(previous) if previous else until)).encode()
        self._held.pop(key, None)
        if self._notify is not None:
            self._notify.on_erase(key, state)
        if key in self._table:
            del self._table[key]  # a tombstone in the changelog
        self._count("customer.erased", "applied", source)
        log.info("customer erased", extra={"request_id": control.get("request_id")})
        return []

    def _count(self, etype: str, outcome: str, source: str) -> None:
        self._metrics.state_apply.labels(etype, outcome, source).inc()
        if source == "kafka":  # no HTTP door: the outcome on the stream is this source's result
            self._metrics.events.labels(etype, outcome, "kafka").inc()

    def _reject(self, etype: str, source: str, reason: str, message: Any, original: object) -> bytes:
        """Counts, logs (without the event's content) and builds the dead-letter record."""
        self._count(_known_type(etype), "rejected", source)
        where = {"topic": message.topic, "partition": message.partition, "offset": message.offset}
        log.warning("event rejected on the stream; written to the dead-letter topic", extra={**where, "reason": reason})
        return dead_letter(where, reason, original)


def dead_letter(where: dict[str, Any], reason: str, original: object) -> bytes:
    """The dead-letter record: where it came from, why, and the original (cut to a bounded size
    so the dead letter itself always fits in a Kafka record)."""
    if isinstance(original, bytes | None):
        text = (original or b"").decode("utf-8", "replace")
    else:
        try:
            text = orjson.dumps(original).decode()
        except (TypeError, orjson.JSONEncodeError):
            text = repr(original)
    truncated = len(text) > DEAD_LETTER_ORIGINAL_CHARS
    return orjson.dumps({**where, "reason": reason[:1024], "original": text[:DEAD_LETTER_ORIGINAL_CHARS],
                         "original_chars": len(text), "truncated": truncated})


def _already_applied(stored: object, position: list[int]) -> bool:
    return (isinstance(stored, list) and len(stored) == 2 and stored[0] == position[0]
            and isinstance(stored[1], int) and position[1] <= stored[1])


def _known_type(etype: str) -> str:
    return etype if etype in CUSTOMER_EVENT_TYPES or etype in REFERENCE_EVENT_TYPES else "unknown"


def _reason(pointer: str, reason: str) -> str:
    return f"{pointer}: {reason}" if pointer else reason


def _type_of(item: object) -> str:
    return str(item.get("type", "?")) if isinstance(item, dict) else "?"


def _received_ms(item: dict[str, Any], fallback_ms: int) -> int:
    received = item.get("received_at")
    if isinstance(received, str):
        try:
            return parse_rfc3339_ms(received)
        except ValueError:
            pass
    return fallback_ms
