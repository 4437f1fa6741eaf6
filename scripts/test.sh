#!/usr/bin/env bash
# The README's test command: creates .venv if needed, installs Kairos with its test extras, then
# runs lint, type checks and the whole test suite (unit, property, integration on a real broker).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[test]'
# promtool and prometheus (Debian's prometheus package) for tests/deploy/ and the live-scrape test;
# only the binaries are used, its service is never started. Installed when missing and root.
if ! command -v promtool >/dev/null 2>&1 || ! command -v prometheus >/dev/null 2>&1; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends prometheus >/dev/null
  else
    echo "note: promtool/prometheus are missing and this is not root: the tests that need them are" \
         "skipped (sudo apt-get install prometheus to run them)" >&2
  fi
fi
.venv/bin/ruff check service tests scripts
.venv/bin/mypy
set +e
.venv/bin/python -m pytest "$@"
code=$?
set -e
if [ "$code" -eq 5 ]; then
  echo "pytest collected no tests: treated as a failure" >&2
  exit 1
fi
exit "$code"
