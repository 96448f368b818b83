#!/usr/bin/env bash
# Builds MetaHuman OS at the pin into .tools/metahuman-os/app once (scripts/metahuman-os/source.sh + build.sh) and
# reuses it while its inputs are unchanged: the pin, both scripts and the Node version make the cache key, so a new
# pin or build step rebuilds and nothing else does. The source comes from METAHUMAN_OS_SOURCE or GitHub (source.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/node-path.sh
dest=".tools/metahuman-os/app"
key="$( (cat scripts/metahuman-os/pin.env scripts/metahuman-os/source.sh scripts/metahuman-os/build.sh; node --version) | sha256sum | cut -d' ' -f1)"
if [ -f "$dest/.build-key" ] && [ "$(cat "$dest/.build-key")" = "$key" ] && [ -f "$dest/apps/site/dist/server/entry.mjs" ]; then
  echo "[metahuman-os] built at $(cat "$dest/.metahuman-os-commit"): cached in $dest"
  exit 0
fi
start=$(date +%s)
rm -rf "$dest.new" "$dest.new.partial"
mkdir -p "$(dirname "$dest")"
bash scripts/metahuman-os/source.sh "$dest.new"
bash scripts/metahuman-os/build.sh "$dest.new"
echo "$key" > "$dest.new/.build-key"
rm -rf "$dest" && mv "$dest.new" "$dest"
echo "[metahuman-os] ready in $dest ($(( $(date +%s) - start ))s)"
