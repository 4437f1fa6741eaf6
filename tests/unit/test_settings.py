"""Settings: environment parsing, overrides and clear errors naming the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.settings import Settings, SettingsError, load_settings, parse_broker_list


@pytest.mark.parametrize(("raw", "expected"), [
    ("127.0.0.1:9092", ["127.0.0.1:9092"]),
    ("kafka://a:9092, b:9093", ["a:9092", "b:9093"]),
    ("tcp://[::1]:9092", ["[::1]:9092"]),
    ("", []),
])
def test_broker_list(raw: str, expected: list[str]) -> None:
    assert parse_broker_list(raw) == expected


@pytest.mark.parametrize("raw", ["localhost", "a:b", ":9092"])
def test_bad_broker_list_names_the_variable(raw: str) -> None:
    with pytest.raises(SettingsError, match="KAIROS_KAFKA_BROKER"):
        parse_broker_list(raw)


def test_defaults_without_environment() -> None:
    s = load_settings({})
    assert s == Settings()
    assert (s.host, s.port, s.partitions, s.embedded_broker, s.store_kind) == ("127.0.0.1", 8080, 8, True, "memory")


def test_environment_then_overrides() -> None:
    env = {"KAIROS_PORT": "9000", "KAIROS_KAFKA_BROKER": "k:9092", "KAIROS_TEST_CLOCK": "yes",
           "KAIROS_LATE_GRACE_S": "30.5", "KAIROS_POLICY_FILE": "/etc/kairos/policy.yaml"}
    s = load_settings(env, port=9100, data_dir=Path("/tmp/k"))
    assert (s.port, s.data_dir, s.test_clock, s.late_grace_s) == (9100, Path("/tmp/k"), True, 30.5)
    assert (s.embedded_broker, s.store_kind, s.bootstrap_servers) == (False, "rocksdb", ["k:9092"])
    assert s.policy_file == Path("/etc/kairos/policy.yaml")


@pytest.mark.parametrize(("env", "message"), [
    ({"KAIROS_PORT": "eighty"}, "KAIROS_PORT='eighty' is not a valid int"),
    ({"KAIROS_PORT": "70000"}, "KAIROS_PORT=70000 is outside 0..65535"),
    ({"KAIROS_TEST_CLOCK": "maybe"}, "KAIROS_TEST_CLOCK='maybe' is not a valid bool"),
    ({"KAIROS_STORE": "redis"}, "use memory or rocksdb"),
    ({"KAIROS_PARTITIONS": "0"}, "KAIROS_PARTITIONS must be at least 1"),
    ({"KAIROS_TOPIC_PREFIX": "a b"}, "KAIROS_TOPIC_PREFIX"),
    ({"KAIROS_LOG_LEVEL": "loud"}, "KAIROS_LOG_LEVEL"),
    ({"KAIROS_RATE_LIMIT_PER_S": "0"}, "KAIROS_RATE_LIMIT_PER_S=0.0: use a number greater than 0"),
    ({"KAIROS_RATE_LIMIT_BURST": "0"}, "KAIROS_RATE_LIMIT_BURST=0: use an integer of at least 1"),
    ({"KAIROS_RATE_LIMIT_BURST": "1.5"}, "KAIROS_RATE_LIMIT_BURST='1.5' is not a valid int"),
])
def test_bad_values_are_clear_errors(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message.replace("(", r"\(").replace(".", r"\.")):
        load_settings(env)


def test_api_keys_file_and_rate_limit_defaults() -> None:
    s = load_settings({})
    assert (s.api_keys_file, s.rate_limit_per_s, s.rate_limit_burst) == (None, 500.0, 1000)
    s = load_settings({"KAIROS_API_KEYS_FILE": "/etc/kairos/keys.json", "KAIROS_RATE_LIMIT_PER_S": "2.5",
                       "KAIROS_RATE_LIMIT_BURST": "5"})
    assert (s.api_keys_file, s.rate_limit_per_s, s.rate_limit_burst) == (Path("/etc/kairos/keys.json"), 2.5, 5)
    assert load_settings({"KAIROS_API_KEYS_FILE": ""}).api_keys_file is None
    assert (load_settings({}).demo, load_settings({"KAIROS_DEMO": "true"}).demo) == (False, True)
