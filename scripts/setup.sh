#!/usr/bin/env bash
# Brings a fresh clone to the point where `npm test` and `npm run local` can run:
# Node.js 22 (from the npm registry when the system's is older), npm packages, MetaHuman OS built at its pin, the Python virtualenv for the worker, the Pulumi CLI (built from the Go module
# proxy when not on PATH), actionlint, Debian's Chromium for the browser tests, and (as root) Debian's image tools
# for the web image's test (mmdebstrap, buildah, podman, runc: scripts/build-web-image.sh).
# Idempotent and quick when everything is already there. Pass --no-browser to skip Chromium, --no-images to skip
# the image tools.
set -euo pipefail
cd "$(dirname "$0")/.."

want_browser=1
want_images=1
for arg in "$@"; do
  [ "$arg" = "--no-browser" ] && want_browser=0
  [ "$arg" = "--no-images" ] && want_images=0
done

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

if [ "$want_images" = 1 ] && [ "$(id -u)" = 0 ]; then
  # The web image is built and run for real by test/images (root only: no user namespaces needed, chroot
  # isolation, no Docker engine or registry). runc because crun refuses machines with hybrid cgroups.
  step "image tools for the web image's test (mmdebstrap, buildah, podman, runc)"
  need=()
  for tool in mmdebstrap buildah podman runc; do command -v "$tool" >/dev/null 2>&1 || need+=("$tool"); done
  if [ "${#need[@]}" = 0 ]; then
    echo "image tools: already installed"
  elif command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mmdebstrap buildah podman runc >/dev/null
    echo "installed: ${need[*]}"
  else
    echo "missing ${need[*]} and no apt-get: install Debian's mmdebstrap, buildah, podman and runc" >&2
    exit 1
  fi
fi
