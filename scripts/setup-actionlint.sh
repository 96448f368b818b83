#!/usr/bin/env bash
# Installs actionlint (the GitHub Actions workflow linter) into .tools/bin from the Go module proxy,
# at a pinned version. Cached: a second run with the same version does nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION="v1.7.12"
BIN_DIR="$PWD/.tools/bin"
BIN="$BIN_DIR/actionlint"

if [ -x "$BIN" ] && "$BIN" -version 2>/dev/null | head -n 1 | grep -qx "${VERSION#v}\|$VERSION"; then
  echo "actionlint $VERSION: $BIN (cached)"
  exit 0
fi
if ! command -v go >/dev/null 2>&1; then
  echo "actionlint: Go is not installed; install Go 1.22+ so actionlint $VERSION can be built from the module proxy." >&2
  exit 1
fi
mkdir -p "$BIN_DIR"
echo "building actionlint $VERSION from the Go module proxy into $BIN_DIR"
if ! GOBIN="$BIN_DIR" CGO_ENABLED=0 go install -trimpath -ldflags "-s -w -X github.com/rhysd/actionlint.version=${VERSION#v}" \
    "github.com/rhysd/actionlint/cmd/actionlint@$VERSION"; then
  echo "actionlint: go install github.com/rhysd/actionlint/cmd/actionlint@$VERSION failed (see above)." >&2
  exit 1
fi
"$BIN" -version | head -n 1
