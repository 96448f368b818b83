#!/usr/bin/env bash
# `npm run local`: sets up what is missing (npm packages, the worker's virtualenv, the Pulumi CLI; no browser),
# then runs the whole system on this machine (src/local/npm-run-local.ts). Ctrl-C stops everything and exits 0.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --no-browser
source scripts/node-path.sh
echo
# exec: one process receives Ctrl-C and stops its children in order.
exec node --import tsx src/local/npm-run-local.ts
