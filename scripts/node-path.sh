# Sourced by every script: Node 22 from .tools/node/bin (scripts/setup-node.sh) first on PATH when it is there,
# and the Pulumi CLI's cache after it. npm and npx, being Node programs, then run on that Node too.
_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
[ -x "$_root/.tools/node/bin/node" ] && PATH="$_root/.tools/node/bin:$PATH"
PATH="$_root/.tools/pulumi/bin:$_root/.tools/bin:$PATH"
export PATH
# Node's on-disk cache of compiled code (Node >= 22.1): every process these scripts start (the Pulumi program and its
# providers, the pod, tsx scripts, test workers) skips compiling the JavaScript it loaded before. About a tenth of a
# preview's CPU. Node checks each entry against the source, so a stale one is recompiled, never used. A cache the
# caller chose is kept.
export NODE_COMPILE_CACHE="${NODE_COMPILE_CACHE:-$_root/.tools/node-compile-cache}"
unset _root
