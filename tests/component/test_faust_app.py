"""The faust app is configured only from Settings: faust's own environment variables are ignored."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.api.validation import EventValidator
from service.bootstrap import schema_dir
from service.core.state_config import StateConfig
from service.settings import load_settings
from service.stream.processor import build_stream
from service.stream.topics import Topics
from service.telemetry.metrics import build_metrics


def test_faust_environment_variables_do_not_override_settings(monkeypatch: pytest.MonkeyPatch,
                                                              tmp_path: Path) -> None:
    for name, value in {"BROKER_URL": "kafka://elsewhere:1", "WEB_PORT": "1", "WEB_BIND": "0.0.0.0",
                        "APP_DATADIR": "/tmp/nope", "TOPIC_PARTITIONS": "4", "STORE": "rocksdb://"}.items():
        monkeypatch.setenv(name, value)
    settings = load_settings({"KAIROS_PARTITIONS": "6", "KAIROS_KAFKA_BROKER": "127.0.0.1:9"})
    runtime = build_stream(settings, Topics("x"), settings.bootstrap_servers, "memory", tmp_path, build_metrics(),
                           EventValidator.from_directory(schema_dir()), lambda: 0, StateConfig())
    conf = runtime.app.conf
    assert [str(u) for u in conf.broker] == ["kairos://127.0.0.1:9"]
    assert conf.topic_partitions == 6
    assert str(conf.store) == "memory:"
    assert conf.web_enabled is False
    assert Path(conf.datadir) == tmp_path / "faust"
    assert runtime.customer_topic.get_topic_name() == "x.customer.events.v1"


def test_changelog_partitions_are_not_checked_as_stalled_streams(monkeypatch: pytest.MonkeyPatch,
                                                                 tmp_path: Path) -> None:
    """No stream reads a table's changelog: faust's stalled-stream check logged an error line for
    every changelog partition every few seconds. The customer topic is still checked."""
    from faust.transport.drivers import aiokafka as faust_aiokafka
    from faust.types import TP

    from service.adapters import faust_transport

    settings = load_settings({"KAIROS_PARTITIONS": "2", "KAIROS_KAFKA_BROKER": "127.0.0.1:9"})
    runtime = build_stream(settings, Topics("x"), settings.bootstrap_servers, "memory", tmp_path, build_metrics(),
                           EventValidator.from_directory(schema_dir()), lambda: 0, StateConfig())
    checked: list[str] = []
    monkeypatch.setattr(faust_aiokafka.AIOKafkaConsumerThread, "verify_event_path",
                        lambda self, now, tp: checked.append(tp.topic))
    thread = runtime.app.consumer._thread
    try:
        assert isinstance(thread, faust_transport._ConsumerThread)
        changelogs = sorted(runtime.app.tables.changelog_topics)
        assert "x.kairos.customer-state-changelog.v1" in changelogs
        for topic in [*changelogs, "x.customer.events.v1"]:
            thread.verify_event_path(0.0, TP(topic, 0))
        assert checked == ["x.customer.events.v1"]
    finally:
        thread.thread_loop.close()  # the never-started consumer thread's own loop
