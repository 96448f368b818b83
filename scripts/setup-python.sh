#!/usr/bin/env bash
# Creates .venv/ at the repo root with the worker's test dependencies (handler/requirements-dev.txt).
# Idempotent and quick when done: a stamp holding the requirements' hash skips pip when nothing changed.
set -euo pipefail
cd "$(dirname "$0")/.."

python_bin="${PYTHON:-python3}"
req="handler/requirements-dev.txt"
stamp=".venv/.requirements-dev.sha256"
want="$(sha256sum "$req" | cut -d' ' -f1)"

if [ -x .venv/bin/python ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  echo ".venv is up to date ($(.venv/bin/python --version))"
  exit 0
fi

if [ ! -x .venv/bin/python ]; then
  "$python_bin" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check --no-input -r "$req"
echo "$want" > "$stamp"
echo ".venv ready ($(.venv/bin/python --version))"
