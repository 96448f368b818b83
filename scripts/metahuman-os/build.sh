#!/usr/bin/env bash
# build.sh DIR: builds MetaHuman OS's web site in DIR (its source at the pin, from source.sh), in place, unmodified:
#   1. keeps only the workspace members the site needs (root, packages/core, packages/server, apps/site): its lock
#      file does not cover apps/robot-friend, so a frozen install over the whole workspace fails;
#   2. installs them with its own pnpm (the version in its package.json's packageManager), --frozen-lockfile;
#   3. builds apps/site (Astro, @astrojs/node standalone): DIR/apps/site/dist/server/entry.mjs, which needs
#      DIR/node_modules at run time.
# Needs Node >= 22.3 < 23 on PATH (its preinstall checks). Used by the web image and scripts/setup-metahuman-os.sh.
set -euo pipefail
dir="${1:?usage: build.sh DIR}"
cd "$dir"
say() { printf '[metahuman-os build] %s\n' "$*"; }
fail() { printf '[metahuman-os build] FAILED: %s\n' "$*" >&2; exit 1; }

node_version="$(node --version)"
case "$node_version" in v22.*) ;; *) fail "MetaHuman OS installs on Node >= 22.3 < 23; node on PATH is $node_version" ;; esac
pnpm_version="$(node -p 'const pm = require("./package.json").packageManager || ""; (pm.match(/^pnpm@([0-9][^+]*)/) || [])[1] || ""')"
[ -n "$pnpm_version" ] || fail "package.json names no pnpm version in packageManager"

keep=" packages/core packages/server apps/site "
for member in apps/* packages/*; do
  [ -d "$member" ] || continue
  case "$keep" in *" $member "*) ;; *) rm -rf "$member" ;; esac
done
say "workspace members kept:$keep"

pnpm() { CI=true npm_config_update_notifier=false npm exec --yes --package="pnpm@$pnpm_version" -- pnpm "$@"; }
start=$(date +%s)
say "pnpm@$pnpm_version install --frozen-lockfile (Node $node_version)"
pnpm install --frozen-lockfile --reporter=append-only >install.log 2>&1 || { tail -40 install.log >&2; fail "pnpm install --frozen-lockfile failed (last lines above; whole log $dir/install.log)"; }
say "installed in $(( $(date +%s) - start ))s"
start=$(date +%s)
pnpm --filter metahuman-site build >build.log 2>&1 || { tail -40 build.log >&2; fail "the site's build (pnpm --filter metahuman-site build) failed (last lines above; whole log $dir/build.log)"; }
[ -f apps/site/dist/server/entry.mjs ] || fail "the build left no apps/site/dist/server/entry.mjs"
say "built apps/site in $(( $(date +%s) - start ))s"
