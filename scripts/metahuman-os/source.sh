#!/usr/bin/env bash
# source.sh DEST: puts MetaHuman OS's source at the pinned commit (pin.env) into DEST (which must not exist).
# From METAHUMAN_OS_SOURCE when set (a git checkout, or a `git archive` tarball, .tar or .tar.gz), else from GitHub
# at the pinned commit. The commit is checked either way (`git rev-parse HEAD`, or `git get-tar-commit-id` for an
# archive); a source at another commit, or one whose commit cannot be read, is refused by name.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/pin.env"
dest="${1:?usage: source.sh DEST}"
say() { printf '[metahuman-os] %s\n' "$*"; }
fail() { printf '[metahuman-os] FAILED: %s\n' "$*" >&2; exit 1; }
[ -e "$dest" ] && fail "$dest already exists"
pin="$METAHUMAN_OS_COMMIT"
tmp="$dest.partial"
rm -rf "$tmp"; mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
src="${METAHUMAN_OS_SOURCE:-}"

if [ -z "$src" ]; then
  say "fetching $METAHUMAN_OS_REPO at $pin"
  git -C "$tmp" init -q
  git -C "$tmp" fetch -q --depth 1 "$METAHUMAN_OS_REPO" "$pin" \
    || fail "could not fetch $pin from $METAHUMAN_OS_REPO (no network to GitHub? set METAHUMAN_OS_SOURCE to a checkout or archive of that commit)"
  got="$(git -C "$tmp" rev-parse FETCH_HEAD)"
  [ "$got" = "$pin" ] || fail "$METAHUMAN_OS_REPO gave commit $got, the pin is $pin"
  git -C "$tmp" -c advice.detachedHead=false checkout -q FETCH_HEAD
  rm -rf "$tmp/.git"
elif [ -d "$src" ]; then
  got="$(git -C "$src" rev-parse HEAD 2>/dev/null)" || fail "METAHUMAN_OS_SOURCE=$src is a folder but not a git checkout: its commit cannot be checked (give a checkout or a git archive of $pin)"
  [ "$got" = "$pin" ] || fail "METAHUMAN_OS_SOURCE=$src is at commit $got; the pin (scripts/metahuman-os/pin.env) is $pin"
  [ -z "$(git -C "$src" status --porcelain 2>/dev/null)" ] || fail "METAHUMAN_OS_SOURCE=$src has uncommitted changes: MetaHuman OS is deployed unmodified, at $pin"
  say "using the checkout $src at $pin"
  git -C "$src" archive --format=tar HEAD | tar -x -C "$tmp"
elif [ -f "$src" ]; then
  case "$src" in
    *.tar.gz|*.tgz) reader=(gzip -dc) ;;
    *.tar) reader=(cat) ;;
    *) fail "METAHUMAN_OS_SOURCE=$src: an archive must be .tar, .tar.gz or .tgz (made by git archive)" ;;
  esac
  got="$("${reader[@]}" "$src" | git get-tar-commit-id 2>/dev/null || true)"
  [ -n "$got" ] || fail "METAHUMAN_OS_SOURCE=$src carries no commit id (not made by git archive from a commit), so it cannot be checked against $pin"
  [ "$got" = "$pin" ] || fail "METAHUMAN_OS_SOURCE=$src holds commit $got; the pin (scripts/metahuman-os/pin.env) is $pin"
  say "using the archive $src at $pin"
  "${reader[@]}" "$src" | tar -x -C "$tmp"
  # git archive --prefix puts everything under one folder: lift what is inside it.
  shopt -s nullglob dotglob; entries=("$tmp"/*); shopt -u nullglob dotglob
  if [ "${#entries[@]}" = 1 ] && [ -d "${entries[0]}" ] && [ ! -f "$tmp/package.json" ]; then
    inner="${entries[0]}"
    mv "$inner" "$tmp.inner" && rmdir "$tmp" && mv "$tmp.inner" "$tmp"
  fi
else
  fail "METAHUMAN_OS_SOURCE=$src does not exist (a git checkout or a git archive of $pin)"
fi
[ -f "$tmp/package.json" ] && [ -d "$tmp/apps/site" ] || fail "the source at $pin has no package.json or apps/site"
printf '%s\n' "$pin" > "$tmp/.metahuman-os-commit"
trap - EXIT
mv "$tmp" "$dest"
say "source at $pin in $dest"
