#!/usr/bin/env bash
# The README's run command: creates .venv if needed, installs Kairos, then runs `kairos serve`
# (embedded broker, demo catalog, default policy) with any arguments given.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e .
exec .venv/bin/kairos serve "$@"
