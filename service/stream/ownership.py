"""Which worker of the group owns a customer's state (stream layer): her key's partition and the
group assignment faust's partition assignor shares with every member.

faust's assignor puts each member's `canonical_url` into the group metadata and hands every
member the whole changelog distribution (url → partitions) with its assignment; that is the map
`app.router` routes by (BROKER.md: table_route works on Tansu). The partition is computed here
with the same murmur2 hash aiokafka's producer uses for the customer topic, on the same UTF-8 key
bytes ingest sends and the table stores, so "who owns her" agrees with where her events went.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiokafka.partitioner import murmur2


def partition_of(key: bytes, partitions: int) -> int:
    """aiokafka's DefaultPartitioner for a keyed record: murmur2, positive, modulo the count."""
    return int(murmur2(key) & 0x7FFFFFFF) % partitions


@dataclass(frozen=True)
class Owner:
    """`url` of the owning worker (None: no assignment names one yet); `local`: it is this one."""

    url: str | None
    local: bool
    partition: int


class Ownership:
    """Answers `owner(key)` from the assignor's current changelog distribution.

    The distribution is replaced (a new object) on every rebalance; the partition → url map is
    rebuilt only then, so a lookup is a hash and a dict read."""

    def __init__(self, app: Any, changelog_topic: str, partitions: int, self_url: str) -> None:
        self._app = app
        self._topic = changelog_topic
        self._partitions = partitions
        self.self_url = self_url.rstrip("/")
        self._seen: object = None
        self._urls: dict[int, str] = {}

    def owner(self, key: bytes) -> Owner:
        partition = partition_of(key, self._partitions)
        url = self._map().get(partition)
        return Owner(url=url, local=url == self.self_url, partition=partition)

    def assignment(self) -> dict[str, list[int]]:
        """Advertised URL of each member of the current assignment → the partitions it owns."""
        out: dict[str, list[int]] = {}
        for partition, url in sorted(self._map().items()):
            out.setdefault(url, []).append(partition)
        return out

    def _map(self) -> dict[int, str]:
        distribution = self._app.assignor.tables_metadata()
        if distribution is not self._seen:
            self._urls = {partition: str(url).rstrip("/")
                          for url, topics in distribution.items()
                          for partition in topics.get(self._topic, ())}
            self._seen = distribution
        return self._urls
