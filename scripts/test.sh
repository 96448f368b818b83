#!/usr/bin/env bash
# Every test of the project, in the order that fails fastest. Runs setup first, so it works on a fresh clone.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
export PATH="$PWD/.tools/pulumi/bin:$PWD/.tools/bin:$PATH"

step() { printf '\n==> %s\n' "$*"; }

step "typecheck"
npx tsc --noEmit -p .

step "worker: pytest"
.venv/bin/python -m pytest -q handler/tests

step "unit, program, provider, emulator, app and browser tests (vitest)"
npx vitest run

step "end to end with the real Pulumi CLI (vitest, e2e)"
npx vitest run -c vitest.e2e.config.ts
