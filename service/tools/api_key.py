"""Tools (edge): which API key `kairos load` / `kairos replay` send, where it came from, and what to say
when the running Kairos refuses it.

Order: `--key`, `--key-file`, `KAIROS_API_KEY`, `KAIROS_API_KEY_FILE`, then the development key
`kairos serve --demo` writes to `<data dir>/dev-api-key` — but not when `KAIROS_API_KEYS_FILE` is
set: a Kairos with a keys file makes no development key, so a `dev-api-key` still lying in the data
directory is from an earlier demo run and would only earn a 401.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from service.settings import SettingsError

DEV_KEY_FILE = "dev-api-key"
_CREATE = "`kairos keys create --id replay --scopes ingest,metrics --file {file}`, then restart Kairos"
_GIVE = "Pass --key or --key-file (or set KAIROS_API_KEY / KAIROS_API_KEY_FILE) with a key that has the ingest scope"


@dataclass(frozen=True)
class ApiKey:
    key: str = ""
    source: str = ""  # said to the user: "--key", "KAIROS_API_KEY_FILE=/run/secrets/k", a path …
    development: bool = False  # the demo's dev-api-key file


def _from_file(path: Path, source: str) -> str:
    try:
        key = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise SettingsError(f"{source}: cannot be read ({exc})") from None
    if not key:
        raise SettingsError(f"{source}: holds no API key")
    return key


def resolve_key(key: str | None, key_file: Path | None, data_dir: Path, env: Mapping[str, str]) -> ApiKey:
    """The key to send and its source; SettingsError saying what to do when there is none."""
    if key:
        return ApiKey(key, "--key")
    if key_file is not None:
        source = f"--key-file {key_file}"
        return ApiKey(_from_file(key_file, source), source)
    if env.get("KAIROS_API_KEY"):
        return ApiKey(env["KAIROS_API_KEY"], "KAIROS_API_KEY")
    if env.get("KAIROS_API_KEY_FILE"):
        source = f"KAIROS_API_KEY_FILE={env['KAIROS_API_KEY_FILE']}"
        return ApiKey(_from_file(Path(env["KAIROS_API_KEY_FILE"]), source), source)
    keys_file = env.get("KAIROS_API_KEYS_FILE")
    if keys_file:
        raise SettingsError(f"no API key given, and KAIROS_API_KEYS_FILE is set, so Kairos accepts only the keys in "
                            f"{keys_file} (a development key in the data directory is from an earlier demo run). "
                            f"Pass --key or --key-file, or set KAIROS_API_KEY / KAIROS_API_KEY_FILE, with a key "
                            f"that has the ingest scope: {_CREATE.format(file=keys_file)}.")
    path = data_dir / DEV_KEY_FILE
    if path.is_file():
        return ApiKey(_from_file(path, str(path)), str(path), development=True)
    raise SettingsError(f"no API key: pass --key or --key-file, set KAIROS_API_KEY or KAIROS_API_KEY_FILE, or "
                        f"start Kairos with `kairos serve --demo`, which writes a development key to {path}")


def refused(url: str, key: ApiKey, status: int) -> str:
    """What to tell the user when Kairos answers 401 or 403 to this key."""
    if status == 403:
        return (f"{url} refused the API key from {key.source} (403 forbidden): it lacks the ingest scope. "
                f"{_GIVE}: {_CREATE.format(file='<the keys file>')}.")
    if key.development:
        return (f"{url} refused the API key from {key.source} (401 unauthorized). That file is the development "
                "key `kairos serve --demo` writes when Kairos runs without a keys file; a Kairos started with "
                "KAIROS_API_KEYS_FILE does not accept it, and each demo start makes a new one. "
                f"{_GIVE}: {_CREATE.format(file='<the keys file>')}.")
    return (f"{url} refused the API key from {key.source} (401 unauthorized): it is not one of the running "
            f"Kairos's keys. {_GIVE}: {_CREATE.format(file='<the keys file>')}.")
