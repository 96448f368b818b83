#!/usr/bin/env bash
# Runs a command with the project's Node 22 first on PATH (see scripts/node-path.sh); package.json's scripts use it
# so that `npm run X` under an older system Node still runs on Node 22.
set -euo pipefail
source "$(dirname "$0")/node-path.sh"
exec "$@"
