"""Core layer: localized texts — her locale's fallback chain and text look-up with placeholders.

Chain for a requested tag such as "de-AT": the tag itself, then the policy's declared
fallbacks for it (`locales.fallbacks`), then its language ("de"), then the policy's default
locale — each once, only those the policy has texts for. No locale: the default alone.
"""

from __future__ import annotations

import string
from collections.abc import Mapping

from service.core.policy.model import Policy

_FORMATTER = string.Formatter()


def locale_chain(policy: Policy, requested: str | None) -> tuple[str, ...]:
    wanted: list[str] = []
    if requested:
        wanted.append(requested)
        wanted.extend(policy.fallbacks.get(requested, ()))
        wanted.append(requested.split("-")[0].lower())
    wanted.append(policy.default_locale)
    seen: list[str] = []
    for tag in wanted:
        match = next((loc for loc in policy.texts if loc.lower() == tag.lower()), None)
        if match is not None and match not in seen:
            seen.append(match)
    return tuple(seen) or (policy.default_locale,)


def placeholders(text: str) -> set[str]:
    return {name for _lit, name, _spec, _conv in _FORMATTER.parse(text) if name}


def text(policy: Policy, chain: tuple[str, ...], key: str | None, values: Mapping[str, object] | None = None
         ) -> str | None:
    """The text for `key` in the first locale of the chain that has it, placeholders filled
    ({name} from values; an unknown placeholder is left as written)."""
    if key is None:
        return None
    for loc in chain:
        found = policy.texts.get(loc, {}).get(key)
        if found is not None:
            if not values:
                return found
            out = []
            for literal, name, spec, _conv in _FORMATTER.parse(found):
                out.append(literal)
                if name is not None:
                    out.append(str(values[name]) if name in values else "{" + name + (f":{spec}" if spec else "") + "}")
            return "".join(out)
    return None
