"""Providers layer: the identity and place mapping — provider user/device ids → customer ids,
provider geofence ids / external ids / tags → store ids. Unmapped ids are reported, never guessed.

The mapping file (`KAIROS_MAPPING_FILE`, YAML or JSON) has one section per provider:

    radar:
      customers:
        user_id: {"1": anna}            # Radar userId → customer id (tried first)
        device_id: {"A": anna}          # Radar deviceId → customer id
      stores:
        geofence_id: {5ca7dd72208530002b30683c: store-london-01}
        external_id: {"2": store-london-01}
        tag: {}
      user_id_is_customer_id: false     # true: an unlisted userId IS the customer id
      external_id_is_store_id: false    # true: an unlisted geofence externalId IS the store id
    aws-location:
      customers: {device_id: {Device1-EXAMPLE: anna}}
      stores: {geofence_id: {polygon_14: store-london-01}}
    azure-maps:
      customers: {device_id: {device_1: anna}}
      stores: {geofence_id: {"2": store-london-01}}

Store look-ups try geofence_id, then external_id, then tag.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

PROVIDERS = ("radar", "aws-location", "azure-maps")
CUSTOMER_KEYS = ("user_id", "device_id")
STORE_KEYS = ("geofence_id", "external_id", "tag")
_FLAGS = ("user_id_is_customer_id", "external_id_is_store_id")
_ID_MAX = 128


class MappingError(ValueError):
    """The mapping document cannot be used; the message names the path of the bad entry."""


@dataclass(frozen=True)
class ProviderMap:
    customers: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    stores: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    user_id_is_customer_id: bool = False
    external_id_is_store_id: bool = False


@dataclass(frozen=True)
class IdentityMap:
    providers: Mapping[str, ProviderMap] = field(default_factory=dict)

    def customer(self, provider: str, user_id: str | None = None, device_id: str | None = None) -> str | None:
        """The customer id for a provider's user (tried first) or device, or None when unmapped."""
        pmap = self.providers.get(provider, ProviderMap())
        for kind, value in (("user_id", user_id), ("device_id", device_id)):
            if value is not None:
                found = pmap.customers.get(kind, {}).get(value)
                if found is not None:
                    return found
        if user_id is not None and pmap.user_id_is_customer_id and len(user_id) <= _ID_MAX:
            return user_id
        return None

    def store(self, provider: str, geofence_id: str | None = None, external_id: str | None = None,
              tag: str | None = None) -> str | None:
        """The store id for a provider geofence (by id, then external id, then tag), or None."""
        pmap = self.providers.get(provider, ProviderMap())
        for kind, value in (("geofence_id", geofence_id), ("external_id", external_id), ("tag", tag)):
            if value is not None:
                found = pmap.stores.get(kind, {}).get(value)
                if found is not None:
                    return found
        if external_id is not None and pmap.external_id_is_store_id and len(external_id) <= _ID_MAX:
            return external_id
        return None


EMPTY_MAP = IdentityMap()


def parse_mapping(document: object, where: str = "mapping") -> IdentityMap:
    """Checks and builds the mapping; raises MappingError naming the bad entry."""
    if document is None:
        return EMPTY_MAP
    if not isinstance(document, dict):
        raise MappingError(f"{where}: must be an object with one section per provider ({', '.join(PROVIDERS)})")
    providers: dict[str, ProviderMap] = {}
    for name, section in document.items():
        if name not in PROVIDERS:
            raise MappingError(f"{where}: unknown provider {name!r}; use {', '.join(PROVIDERS)}")
        providers[name] = _provider(section, f"{where}.{name}")
    return IdentityMap(providers)


def _provider(section: object, where: str) -> ProviderMap:
    if not isinstance(section, dict):
        raise MappingError(f"{where}: must be an object with customers and/or stores")
    unknown = set(section) - {"customers", "stores", *_FLAGS}
    if unknown:
        raise MappingError(f"{where}: unknown key {sorted(unknown)[0]!r}")
    for flag in _FLAGS:
        if flag in section and not isinstance(section[flag], bool):
            raise MappingError(f"{where}.{flag}: must be true or false")
    return ProviderMap(
        customers=_table(section.get("customers"), CUSTOMER_KEYS, f"{where}.customers"),
        stores=_table(section.get("stores"), STORE_KEYS, f"{where}.stores"),
        user_id_is_customer_id=bool(section.get("user_id_is_customer_id", False)),
        external_id_is_store_id=bool(section.get("external_id_is_store_id", False)),
    )


def _table(value: object, kinds: tuple[str, ...], where: str) -> dict[str, dict[str, str]]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise MappingError(f"{where}: must be an object keyed by {', '.join(kinds)}")
    out: dict[str, dict[str, str]] = {}
    for kind, entries in value.items():
        if kind not in kinds:
            raise MappingError(f"{where}: unknown key {kind!r}; use {', '.join(kinds)}")
        if not isinstance(entries, dict):
            raise MappingError(f"{where}.{kind}: must be an object of provider id → Kairos id")
        table: dict[str, str] = {}
        for provider_id, kairos_id in entries.items():
            # YAML reads an unquoted 123 as a number; ids are strings on the wire.
            key = str(provider_id)
            usable = isinstance(kairos_id, str | int) and not isinstance(kairos_id, bool)
            if not usable or not 0 < len(str(kairos_id)) <= _ID_MAX:
                raise MappingError(f"{where}.{kind}.{key}: must be an id of 1 to {_ID_MAX} characters")
            table[key] = str(kairos_id)
        out[kind] = table
    return out


def mapping_summary(mapping: IdentityMap) -> dict[str, Any]:
    """Counts per provider, for the start-up log line."""
    return {name: {"customers": sum(len(t) for t in p.customers.values()),
                   "stores": sum(len(t) for t in p.stores.values())} for name, p in mapping.providers.items()}
