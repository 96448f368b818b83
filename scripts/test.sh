#!/usr/bin/env bash
# Every test of the project, in the order that fails fastest. Runs setup first, so it works on a fresh clone.
# A skipped test fails the run, naming it: every test must run where `npm test` runs (CI runs as root in Debian).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
source scripts/node-path.sh

step() { printf '\n==> %s\n' "$*"; }
reports="$(mktemp -d)"
trap 'rm -rf "$reports"' EXIT

# Fails when vitest's JSON report holds a skipped (or todo) test, naming each one.
no_skipped_tests() { # <report.json> <what>
  node -e '
    const report = require(process.argv[1]);
    const skipped = report.testResults.flatMap((file) => file.assertionResults
      .filter((t) => ["skipped", "pending", "todo", "disabled"].includes(t.status))
      .map((t) => `${file.name.replace(process.cwd() + "/", "")}: ${t.fullName}`));
    if (skipped.length > 0) {
      console.error(`${process.argv[2]}: ${skipped.length} test(s) did not run; every test must run here:\n  ${skipped.join("\n  ")}`);
      process.exit(1);
    }' "$1" "$2"
}

step "typecheck"
npx tsc --noEmit -p .

step "worker: pytest"
.venv/bin/python -m pytest -q -rs handler/tests | tee "$reports/pytest.txt"
if grep -Eq '[0-9]+ (skipped|xfailed|deselected)' "$reports/pytest.txt"; then
  echo "worker: pytest skipped tests (listed above with -rs); every test must run here" >&2
  exit 1
fi

step "unit, program, provider, emulator, app and browser tests (vitest)"
npx vitest run --reporter=default --reporter=json --outputFile.json="$reports/unit.json"
no_skipped_tests "$reports/unit.json" "vitest"

step "end to end with the real Pulumi CLI (vitest, e2e)"
npx vitest run -c vitest.e2e.config.ts --reporter=default --reporter=json --outputFile.json="$reports/e2e.json"
no_skipped_tests "$reports/e2e.json" "vitest e2e"
