"""Who owns a customer: the partition of her key (as aiokafka's producer picks it) and the
group's changelog distribution; the advertised URL and its settings."""

from __future__ import annotations

from typing import Any

import pytest
from aiokafka.partitioner import DefaultPartitioner

from service.api.forwarding import advertised_url
from service.settings import Settings, SettingsError, load_settings
from service.stream.ownership import Ownership, partition_of

KEYS = [b"anna", b"a", b"", "zoë".encode(), b"customer-000042", bytes(range(40))]


@pytest.mark.parametrize("key", KEYS)
@pytest.mark.parametrize("partitions", [1, 4, 8, 24])
def test_partition_is_the_one_the_producer_writes_her_events_to(key: bytes, partitions: int) -> None:
    every = list(range(partitions))
    assert partition_of(key, partitions) == DefaultPartitioner()(key, every, every)


def test_partition_of_known_keys() -> None:
    # Pinned: a change of hash would move every customer to another worker.
    assert [partition_of(k, 8) for k in (b"anna", b"split-0", b"customer-000042")] == [7, 0, 1]
    assert [partition_of(k, 5) for k in (b"anna", b"split-0")] == [
        DefaultPartitioner()(b"anna", list(range(5)), list(range(5))),
        DefaultPartitioner()(b"split-0", list(range(5)), list(range(5)))]
    assert partition_of(b"anna", 1) == 0


class FakeAssignor:
    def __init__(self, distribution: dict[str, Any]) -> None:
        self.distribution = distribution

    def tables_metadata(self) -> dict[str, Any]:
        return self.distribution


class FakeApp:
    def __init__(self, distribution: dict[str, Any]) -> None:
        self.assignor = FakeAssignor(distribution)


CHANGELOG = "kairos.customer-state-changelog.v1"


def test_owner_from_the_changelog_distribution_and_rebuilt_on_rebalance() -> None:
    a, b = "http://kairos-0:8080", "http://kairos-1:8080"
    app = FakeApp({a: {CHANGELOG: [0, 2], "other-topic": [1, 3]}, b: {CHANGELOG: [1, 3]}})
    ownership = Ownership(app, CHANGELOG, 4, a + "/")
    keys = {partition_of(k, 4): k for k in (f"c{i}".encode() for i in range(40))}
    assert sorted(keys) == [0, 1, 2, 3]
    assert [(o.url, o.local, o.partition) for o in (ownership.owner(keys[p]) for p in range(4))] == [
        (a, True, 0), (b, False, 1), (a, True, 2), (b, False, 3)]
    assert ownership.assignment() == {a: [0, 2], b: [1, 3]}
    # A rebalance replaces the distribution object: b left, a owns everything.
    app.assignor.distribution = {a: {CHANGELOG: [0, 1, 2, 3]}}
    assert ownership.owner(keys[3]).local is True
    assert ownership.assignment() == {a: [0, 1, 2, 3]}
    # Before the first assignment nobody is known.
    app.assignor.distribution = {}
    assert ownership.owner(keys[0]).url is None and ownership.owner(keys[0]).local is False


@pytest.mark.parametrize(("settings", "hostname", "expected"), [
    (Settings(host="127.0.0.1", port=8080), None, "http://127.0.0.1:8080"),
    (Settings(host="0.0.0.0", port=9000), "kairos-1", "http://kairos-1:9000"),
    (Settings(host="::1", port=8080), None, "http://[::1]:8080"),
    (Settings(host="0.0.0.0", advertised_url="http://kairos-0.kairos-headless:8080/"), "x",
     "http://kairos-0.kairos-headless:8080"),
])
def test_advertised_url(settings: Settings, hostname: str | None, expected: str) -> None:
    assert advertised_url(settings, hostname) == expected


@pytest.mark.parametrize("url", ["kairos-0:8080", "http://kairos-0", "http://kairos-0:8080/v1", "ftp://k:21",
                                 "http://:8080", "http://k:0", "http://k:99999"])
def test_a_bad_advertised_url_names_the_variable(url: str) -> None:
    with pytest.raises(SettingsError, match="KAIROS_ADVERTISED_URL"):
        load_settings({"KAIROS_ADVERTISED_URL": url})


def test_forward_timeout_is_bounded() -> None:
    assert load_settings({"KAIROS_FORWARD_TIMEOUT_S": "0.5"}).forward_timeout_s == 0.5
    for bad in ("0", "-1", "31"):
        with pytest.raises(SettingsError, match="KAIROS_FORWARD_TIMEOUT_S"):
            load_settings({"KAIROS_FORWARD_TIMEOUT_S": bad})
