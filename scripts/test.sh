#!/usr/bin/env bash
# Every test of the project, in the order that fails fastest. Runs setup first, so it works on a fresh clone.
# A skipped test fails the run, naming it: every test must run where `npm test` runs (CI runs as root in Debian).
# Each phase's wall time is printed at the end, passed or not (a failed phase is marked).
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }
reports="$(mktemp -d)"

# Phase timing: `phase NAME` starts a phase (ending the one before); the EXIT trap ends the last one and prints
# the table, so a failing run still says where its time went.
phase_names=()
phase_secs=()
phase_name=""
phase_note=""
phase_start=0
run_start=$SECONDS
phase_end() {
  if [ -n "$phase_name" ]; then
    phase_names+=("$phase_name${phase_note:+ ($phase_note)}")
    phase_note=""
    phase_secs+=("$((SECONDS - phase_start))")
    phase_name=""
  fi
}
phase() { phase_end; phase_name="$1"; phase_start=$SECONDS; step "${2:-$1}"; }
print_phases() {
  local rc=$?
  # A pytest still running beside vitest (the run was stopped) goes too.
  if [ -n "${pytest_pid:-}" ] && kill -0 "$pytest_pid" 2>/dev/null; then pkill -TERM -P "$pytest_pid" || true; kill "$pytest_pid" 2>/dev/null || true; fi
  [ -n "$phase_name" ] && [ "$rc" != 0 ] && phase_name="$phase_name (FAILED)"
  phase_end
  printf '\n==> phase times (wall, %s cores)\n' "$(nproc 2>/dev/null || echo '?')"
  local i
  for i in "${!phase_names[@]}"; do printf '  %-44s %5d s\n' "${phase_names[$i]}" "${phase_secs[$i]}"; done
  printf '  %-44s %5d s\n' "total" "$((SECONDS - run_start))"
  rm -rf "$reports"
}
trap print_phases EXIT

phase "setup"
bash scripts/setup.sh
source scripts/node-path.sh

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

phase "typecheck"
npx tsc --noEmit -p .

# pytest and vitest run side by side: pytest spends most of its time waiting for pip's resolver to read PyPI
# (test_dependencies.py) and for worker processes, vitest for worker processes, Chromium and schemathesis, so on
# 2 cores together they finish about when the longer one alone would. TEST_SERIAL=1 runs them one after the other.
pytest_check() {
  if grep -Eq '[0-9]+ (skipped|xfailed|deselected)' "$reports/pytest.txt"; then
    echo "worker: pytest skipped tests (listed above with -rs); every test must run here" >&2
    return 1
  fi
}
if [ "${TEST_SERIAL:-0}" = 1 ]; then
  phase "pytest" "worker: pytest"
  .venv/bin/python -m pytest -q -rs handler/tests | tee "$reports/pytest.txt"
  pytest_check
  phase "vitest" "unit, program, provider, emulator, app and browser tests (vitest)"
  npx vitest run --reporter=default --reporter=json --outputFile.json="$reports/unit.json"
  no_skipped_tests "$reports/unit.json" "vitest"
else
  phase "pytest + vitest" "worker: pytest (output below when it ends), beside the unit, program, provider, emulator, app and browser tests (vitest)"
  ( start=$(date +%s); rc=0
    .venv/bin/python -m pytest -q -rs handler/tests >"$reports/pytest.txt" 2>&1 || rc=$?
    echo "$rc $(( $(date +%s) - start ))" >"$reports/pytest.done" ) &
  pytest_pid=$!
  vitest_start=$(date +%s)
  vitest_rc=0
  npx vitest run --reporter=default --reporter=json --outputFile.json="$reports/unit.json" || vitest_rc=$?
  vitest_secs=$(( $(date +%s) - vitest_start ))
  wait "$pytest_pid" || true
  read -r pytest_rc pytest_secs <"$reports/pytest.done"
  step "worker: pytest (ran beside vitest)"
  cat "$reports/pytest.txt"
  printf '  (alone in this phase: pytest %s s, vitest %s s)\n' "$pytest_secs" "$vitest_secs"
  phase_note="pytest ${pytest_secs} s, vitest ${vitest_secs} s"
  [ "$pytest_rc" = 0 ] || { echo "worker: pytest failed (exit $pytest_rc)" >&2; exit 1; }
  pytest_check
  [ "$vitest_rc" = 0 ] || exit "$vitest_rc"
  no_skipped_tests "$reports/unit.json" "vitest"
fi

# Hook for MetaHuman OS's build as a phase of its own: today scripts/setup.sh builds it (scripts/setup-metahuman-os.sh,
# cached in .tools/metahuman-os by its inputs' hash), so its time is in "setup". To time it apart, take it out of
# setup.sh and call it here, before the e2e suite that uses it:
#   phase "metahuman-os build" "MetaHuman OS: install and build at the pin (cached by its inputs' hash)"
#   bash scripts/setup-metahuman-os.sh

phase "e2e" "end to end with the real Pulumi CLI (vitest, e2e)"
npx vitest run -c vitest.e2e.config.ts --reporter=default --reporter=json --outputFile.json="$reports/e2e.json"
no_skipped_tests "$reports/e2e.json" "vitest e2e"
