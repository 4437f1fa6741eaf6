#!/usr/bin/env bash
# The README's run command: creates .venv and installs Kairos the first time (and again when
# pyproject.toml changes), then runs `kairos serve --demo` (embedded broker, demo catalog,
# default policy, a development API key) with any arguments given.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
stamp=.venv/.kairos-installed
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e .
  echo "$want" > "$stamp"
fi
# --demo: without KAIROS_API_KEYS_FILE, a development API key is made and printed.
exec .venv/bin/kairos serve --demo "$@"
