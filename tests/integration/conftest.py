"""Fixtures: one broker process per test session; Kairos workers per module or per test."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.harness import BrokerProcess, Kairos


@pytest.fixture(scope="session")
def broker() -> Iterator[BrokerProcess]:
    proc = BrokerProcess()
    yield proc
    proc.stop()


@pytest.fixture
def namespace() -> str:
    """A topic prefix and group id of its own, so tests sharing the broker do not see each other."""
    return f"t{uuid.uuid4().hex[:10]}"


def kairos_env(broker: BrokerProcess, namespace: str, **extra: str) -> dict[str, str]:
    env = {
        "KAIROS_KAFKA_BROKER": broker.bootstrap,
        "KAIROS_TOPIC_PREFIX": namespace,
        "KAIROS_GROUP_ID": namespace,
        "KAIROS_STORE": "memory",
    }
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def shared_kairos(broker: BrokerProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kairos]:
    """One running worker for the tests of a module that do not restart it."""
    ns = f"m{uuid.uuid4().hex[:10]}"
    worker = Kairos(data_dir=tmp_path_factory.mktemp("kairos"), env=kairos_env(broker, ns)).start()
    yield worker
    worker.stop()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"
