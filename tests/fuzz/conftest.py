"""Fixtures for the API fuzz tests: one real Kairos with the test clock on and a key fast enough for fuzzing.

pytest applies a conftest only to its own directory, so the session broker of the integration
tests is imported here (a broker of its own when both directories run in one session).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tests.integration.conftest import broker, kairos_env
from tests.integration.harness import TEST_API_KEY, BrokerProcess, Kairos, key_entry, write_keys_file

__all__ = ["broker", "fuzz_kairos"]


@pytest.fixture(scope="module")
def fuzz_kairos(broker: BrokerProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kairos]:
    """A worker with every route, /admin/clock included, whose key is never rate limited by the fuzzer."""
    data_dir = tmp_path_factory.mktemp("fuzz-kairos")
    # The default 500/s would throttle the fuzzer into 429s that test nothing.
    keys = write_keys_file(data_dir / "fuzz-keys.json", [key_entry(TEST_API_KEY, rate_per_s=100_000, burst=100_000)])
    env = kairos_env(broker, f"f{uuid.uuid4().hex[:10]}", KAIROS_TEST_CLOCK="true", KAIROS_API_KEYS_FILE=str(keys))
    worker = Kairos(data_dir=data_dir, env=env).start()
    yield worker
    worker.stop()
