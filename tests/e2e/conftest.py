"""Fixtures for the end-to-end journey: the broker as its own process for the module's session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.harness import BrokerProcess


@pytest.fixture(scope="session")
def e2e_broker() -> Iterator[BrokerProcess]:
    proc = BrokerProcess()
    yield proc
    proc.stop()
