"""Stream layer: this worker's in-memory index of ITS customers — who wished which product (so a
stock change reaches every customer who wished the item, on the worker that owns her) and when
each one's earliest held message is due (a heap: the timer never scans every customer).

Durable through a small changelog-backed table (`customer-triggers`, key = customer id, value
{"p": partition, "w": [wished product ids], "d": due_ms|null}), written by the record applier
only when an entry changes; rebuilt from that table after every recovery (start, rebalance),
keeping the entries of the customer-topic partitions this worker owns.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping
from typing import Any

import orjson

from service.core.triggers.outbox import next_due_ms

Entry = dict[str, Any]


def index_entry(state: Mapping[str, Any] | None, partition: int) -> Entry | None:
    """The entry for her state (None: nothing to index: no wish, nothing held)."""
    if state is None:
        return None
    wished = sorted(pid for pid, row in (state.get("wishlist") or {}).items() if row[2])
    due = next_due_ms(state)
    if not wished and due is None:
        return None
    return {"p": partition, "w": wished, "d": due}


def encode_entry(entry: Entry) -> bytes:
    return orjson.dumps(entry)


def decode_entry(raw: bytes | None) -> Entry | None:
    if not raw:
        return None
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


class TriggerIndex:
    """product -> customers and a due-time heap, for the customers of this worker's partitions."""

    def __init__(self) -> None:
        self._by_product: dict[str, set[bytes]] = {}
        self._wished: dict[bytes, tuple[str, ...]] = {}
        self._due: dict[bytes, int] = {}
        self._heap: list[tuple[int, bytes]] = []
        self.generation = 0  # bumped by every rebuild

    def __len__(self) -> int:
        return len(self._wished.keys() | self._due.keys())

    @property
    def held(self) -> int:
        """Customers with a held message."""
        return len(self._due)

    def update(self, key: bytes, entry: Entry | None) -> None:
        for pid in self._wished.pop(key, ()):
            members = self._by_product.get(pid)
            if members is not None:
                members.discard(key)
                if not members:
                    del self._by_product[pid]
        self._due.pop(key, None)
        if entry is None:
            return
        wished = tuple(entry.get("w") or ())
        if wished:
            self._wished[key] = wished
            for pid in wished:
                self._by_product.setdefault(pid, set()).add(key)
        due = entry.get("d")
        if isinstance(due, int):
            self._due[key] = due
            heapq.heappush(self._heap, (due, key))

    def rebuild(self, entries: Iterable[tuple[bytes, bytes]], partitions: set[int]) -> int:
        """Replace everything with the table's entries on `partitions`; returns how many."""
        self._by_product.clear()
        self._wished.clear()
        self._due.clear()
        self._heap = []
        for key, raw in entries:
            entry = decode_entry(raw)
            if entry is not None and entry.get("p") in partitions:
                self.update(key, entry)
        self.generation += 1
        return len(self)

    def wishing(self, product_id: str) -> list[bytes]:
        """Customers (keys) of this worker with the product on their wishlist."""
        return sorted(self._by_product.get(product_id, ()))

    def pop_due(self, now_ms: int, limit: int = 1000) -> list[tuple[bytes, int]]:
        """(customer, due) whose held messages are due at now_ms, each once; a stale heap entry
        (her due time moved since) is dropped or pushed back at its new time."""
        out: list[tuple[bytes, int]] = []
        while self._heap and self._heap[0][0] <= now_ms and len(out) < limit:
            due, key = heapq.heappop(self._heap)
            current = self._due.get(key)
            if current is None or current != due:
                continue  # moved or gone: a newer heap entry carries it
            out.append((key, due))
        return out

    def retry(self, key: bytes, due_ms: int) -> None:
        """Put a customer back on the heap (a tick that could not be sent)."""
        if self._due.get(key) is not None:
            self._due[key] = due_ms
            heapq.heappush(self._heap, (due_ms, key))

    def due_of(self, key: bytes) -> int | None:
        return self._due.get(key)
