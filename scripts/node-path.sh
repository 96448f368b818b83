# Sourced by every script: Node 22 from .tools/node/bin (scripts/setup-node.sh) first on PATH when it is there,
# and the Pulumi CLI's cache after it. npm and npx, being Node programs, then run on that Node too.
_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
[ -x "$_root/.tools/node/bin/node" ] && PATH="$_root/.tools/node/bin:$PATH"
PATH="$_root/.tools/pulumi/bin:$_root/.tools/bin:$PATH"
export PATH
unset _root
