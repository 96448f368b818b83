#!/usr/bin/env bash
# Puts the Pulumi CLI, the Node.js language host and the dynamic-provider plugin in .tools/pulumi/bin.
#
# Where only package registries are reachable, the CLI cannot be downloaded (get.pulumi.com, GitHub and
# the npm `pulumi` wrapper all fetch binaries from the internet), so it is built from the Go module proxy:
#   pulumi                         github.com/pulumi/pulumi/pkg/v3/cmd/pulumi at $PULUMI_VERSION
#                                  (module scripts/pulumi-cli: pkg/v3 has replace directives, so it
#                                  cannot be `go install`ed; as a dependency its replaces are ignored)
#   pulumi-language-nodejs         from sdk/v3 $LANGHOST_VERSION (module scripts/pulumi-cli/language-nodejs;
#                                  see the comment in its go.mod for why that version)
#   pulumi-resource-pulumi-nodejs  a script that runs node on @pulumi/pulumi/cmd/dynamic-provider
# A `pulumi` already on PATH at the pinned version is used instead of building, and so are the other two
# when they sit beside it. Built binaries are cached in .tools/pulumi/bin, so later runs take a second.
# Set PULUMI_SETUP_FORCE=1 to rebuild. Every failure says which step failed and why.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"

PULUMI_VERSION="v3.276.0"
LANGHOST_VERSION="v3.68.0"
bin_dir="$root/.tools/pulumi/bin"
mod_dir="$root/scripts/pulumi-cli"
mkdir -p "$bin_dir"

say() { printf '[setup-pulumi] %s\n' "$*"; }
fail() { printf '[setup-pulumi] FAILED: %s\n' "$*" >&2; exit 1; }

# The version a pulumi binary reports, or nothing when it does not run.
version_of() { "$1" version 2>/dev/null | tr -d '[:space:]' || true; }

# The first `pulumi` on PATH that is not our own cache.
system_pulumi() {
  local p
  p="$(PATH="$(printf '%s' "$PATH" | tr ':' '\n' | grep -vxF "$bin_dir" | paste -sd: -)" command -v pulumi || true)"
  printf '%s' "$p"
}

need_go() {
  command -v go >/dev/null 2>&1 || fail "Go is not installed; it is needed to build $1 from the Go module proxy (install Go >= 1.26, or put pulumi $PULUMI_VERSION with its language host on PATH)"
}

# go build into a temporary file and move it into place, so an interrupted build leaves no half binary.
go_build() { # <module dir> <output name> <package> [ldflags]
  local dir="$1" out="$2" pkg="$3" ldflags="${4:-}" log start
  log="$(mktemp)"
  start=$(date +%s)
  say "building $out from $pkg (module $(basename "$dir")); a cold build downloads ~1 GB of modules and takes minutes"
  if ! (cd "$dir" && CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath -ldflags "-s -w $ldflags" -o "$bin_dir/.$out.tmp" "$pkg") >"$log" 2>&1; then
    cat "$log" >&2
    rm -f "$log" "$bin_dir/.$out.tmp"
    fail "go build of $out ($pkg) failed; the Go errors are above (GOPROXY=$(go env GOPROXY))"
  fi
  rm -f "$log"
  mv "$bin_dir/.$out.tmp" "$bin_dir/$out"
  say "built $out in $(( $(date +%s) - start ))s"
}

# 1. The CLI.
cached="$bin_dir/pulumi"
if [ -z "${PULUMI_SETUP_FORCE:-}" ] && [ -x "$cached" ] && [ "$(version_of "$cached")" = "$PULUMI_VERSION" ]; then
  say "pulumi $PULUMI_VERSION: cached in .tools/pulumi/bin"
else
  sys="$(system_pulumi)"
  if [ -z "${PULUMI_SETUP_FORCE:-}" ] && [ -n "$sys" ] && [ "$(version_of "$sys")" = "$PULUMI_VERSION" ]; then
    say "pulumi $PULUMI_VERSION: using $sys"
    ln -sf "$sys" "$cached"
    sys_dir="$(dirname "$(readlink -f "$sys")")"
    if [ -x "$sys_dir/pulumi-language-nodejs" ]; then
      ln -sf "$sys_dir/pulumi-language-nodejs" "$bin_dir/pulumi-language-nodejs"
    fi
  else
    [ -n "$sys" ] && say "ignoring $sys: it reports '$(version_of "$sys")', the project pins $PULUMI_VERSION"
    need_go "the Pulumi CLI"
    rm -f "$cached"
    go_build "$mod_dir" pulumi github.com/pulumi/pulumi/pkg/v3/cmd/pulumi \
      "-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$PULUMI_VERSION"
    got="$(version_of "$cached")"
    [ "$got" = "$PULUMI_VERSION" ] || fail "the built CLI reports '$got', expected $PULUMI_VERSION"
  fi
fi

# 2. The Node.js language host (runs the TypeScript program named by Pulumi.yaml).
host="$bin_dir/pulumi-language-nodejs"
if [ -z "${PULUMI_SETUP_FORCE:-}" ] && [ -x "$host" ]; then
  say "pulumi-language-nodejs: cached in .tools/pulumi/bin"
else
  need_go "the Node.js language host"
  rm -f "$host"
  go_build "$mod_dir/language-nodejs" pulumi-language-nodejs \
    "github.com/pulumi/pulumi/sdk/v3/nodejs/cmd/pulumi-language-nodejs" \
    "-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$LANGHOST_VERSION"
fi

# 3. The dynamic-provider plugin: the engine starts it to run our dynamic resources' CRUD.
# It resolves @pulumi/pulumi from the program's directory, which is where the engine starts it.
plugin="$bin_dir/pulumi-resource-pulumi-nodejs"
cat >"$plugin.tmp" <<'EOF'
#!/bin/sh
# Runs the dynamic providers of a Node.js Pulumi program (installed by scripts/setup-pulumi.sh).
exec node "$(node -e 'process.stdout.write(require.resolve("@pulumi/pulumi/cmd/dynamic-provider"))')" "$@"
EOF
chmod +x "$plugin.tmp"
mv "$plugin.tmp" "$plugin"

say "ready: $("$cached" version) with pulumi-language-nodejs and pulumi-resource-pulumi-nodejs in .tools/pulumi/bin"
say "use it with: export PATH=\"\$PWD/.tools/pulumi/bin:\$PATH\""
