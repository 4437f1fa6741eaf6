"""Kafka topic names (versioned `<domain>.<name>.v<major>`) and which event types go where."""

from __future__ import annotations

from dataclasses import dataclass

from service.core.reference import weather_cell

# Reference event type → (topic base name, field that is its key).
REFERENCE_ROUTES: dict[str, tuple[str, str]] = {
    "product.upserted": ("reference.products.v1", "product_id"),
    "store.upserted": ("reference.stores.v1", "store_id"),
    "stock.changed": ("reference.stock.v1", "product_id"),
    "weather.observed": ("reference.weather.v1", "cell"),
}


@dataclass(frozen=True)
class Topics:
    """Every topic name, with the deployment's optional prefix applied."""

    prefix: str = ""

    def _name(self, base: str) -> str:
        return f"{self.prefix}.{base}" if self.prefix else base

    @property
    def customer_events(self) -> str:
        return self._name("customer.events.v1")

    @property
    def state_changelog(self) -> str:
        return self._name("kairos.customer-state-changelog.v1")

    @property
    def erasures_changelog(self) -> str:
        return self._name("kairos.customer-erasures-changelog.v1")

    @property
    def triggers_changelog(self) -> str:
        return self._name("kairos.customer-triggers-changelog.v1")

    @property
    def decisions(self) -> str:
        return self._name("kairos.decisions.v1")

    @property
    def notifications(self) -> str:
        return self._name("kairos.notifications.v1")

    @property
    def dead_letters(self) -> str:
        return self._name("kairos.dead-letters.v1")

    @property
    def state_epoch(self) -> str:
        return self._name("kairos.state-epoch.v1")

    @property
    def reference(self) -> tuple[str, ...]:
        return tuple(self._name(base) for base, _ in REFERENCE_ROUTES.values())

    def all(self, partitions: int) -> list[tuple[str, int]]:
        """Every topic Kairos creates, with its partition count. The changelog must match the
        source topic's partitioning: faust writes a key's state to the partition it came from."""
        named = [self.customer_events, self.state_changelog, self.erasures_changelog, self.triggers_changelog,
                 *self.reference, self.decisions, self.notifications]
        return [(name, partitions) for name in named] + [(self.dead_letters, 1), (self.state_epoch, 1)]

    def configs(self) -> dict[str, dict[str, str]]:
        """Topic configs Kairos creates topics with, for a real Kafka (Tansu accepts and ignores
        them). Changelogs are compacted: the latest record per customer is her state, however old.
        The cluster epoch and reference data are kept forever: a worker that starts reads them
        from the beginning (reference stock is keyed by product, not by store, so compaction
        would drop other stores' stock). Customer events, audit records and notifications keep
        the cluster's default retention: the state does not need them once applied."""
        compact = {"cleanup.policy": "compact"}
        forever = {"cleanup.policy": "delete", "retention.ms": "-1", "retention.bytes": "-1"}
        out = {self.state_changelog: compact, self.erasures_changelog: compact, self.triggers_changelog: compact,
               self.state_epoch: forever}
        out.update(dict.fromkeys(self.reference, forever))
        return out

    def route(self, event: dict[str, object]) -> tuple[str, bytes]:
        """(topic, key bytes) for an already-validated event. Keys are UTF-8 bytes everywhere —
        the table, the source topic and table routing must agree (BROKER.md, table_route)."""
        route = REFERENCE_ROUTES.get(str(event["type"]))
        if route is None:
            return self.customer_events, str(event["customer_id"]).encode()
        base, field = route
        if field == "cell":
            loc = event["location"]
            assert isinstance(loc, dict)
            return self._name(base), weather_cell(float(loc["lat"]), float(loc["lon"])).encode()
        return self._name(base), str(event[field]).encode()
