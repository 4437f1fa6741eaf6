"""Adapters: read the identity/place mapping file (YAML or JSON) at start; a bad file stops Kairos."""

from __future__ import annotations

from pathlib import Path

import orjson
import yaml

from service.providers.mapping import EMPTY_MAP, IdentityMap, MappingError, parse_mapping
from service.settings import SettingsError


def load_mapping_file(path: Path | None) -> IdentityMap:
    if path is None:
        return EMPTY_MAP
    try:
        text = path.read_text(encoding="utf-8")
        document = orjson.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
        return parse_mapping(document, str(path))
    except (OSError, UnicodeDecodeError, orjson.JSONDecodeError, yaml.YAMLError) as exc:
        raise SettingsError(f"KAIROS_MAPPING_FILE={path}: cannot be read ({str(exc)[:300]})") from None
    except MappingError as exc:
        raise SettingsError(f"KAIROS_MAPPING_FILE: {exc}") from None
