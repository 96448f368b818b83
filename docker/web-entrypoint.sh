#!/bin/sh
# Web pod entrypoint: runs as root only long enough to give the server (uid/gid 1000, the
# image's `node` user) its METAHUMAN_ROOT folder on a fresh network volume, which RunPod
# mounts empty and root-owned; then drops to 1000:1000 and execs the image's CMD.
#
# It never creates anything when the volume is not mounted: the server then refuses to
# start with its own clear message, instead of writing a person's memory to the pod's
# ephemeral disk. It never changes ownership recursively: only the METAHUMAN_ROOT folder
# itself (and folders it creates) change owner; existing user data is left as it is.
#
# MOUNTINFO_FILE (default /proc/self/mountinfo) is read to tell a mounted volume from a
# plain folder; tests point it at a fake file.
set -eu

APP_UID=1000
APP_GID=1000
MOUNTINFO_FILE="${MOUNTINFO_FILE:-/proc/self/mountinfo}"

say() {
  echo "web-entrypoint: $*"
}

# Prints the filesystem type and mount point of the deepest mount that holds $1, as
# "<fstype> <at|in> <mountpoint>" ("at": $1 is that mount point itself). Mount points in mountinfo escape space, tab, newline and
# backslash as octal; the path is encoded the same way so the comparison is exact.
mount_of() {
  encoded=$(printf '%s' "$1" | sed -e 's/\\/\\134/g' -e 's/ /\\040/g' -e 's/	/\\011/g')
  awk -v p="$encoded" '
    {
      mp = $5
      fstype = ""
      for (i = 7; i <= NF; i++) if ($i == "-") { fstype = $(i + 1); break }
      if (mp == p || mp == "/" || substr(p, 1, length(mp) + 1) == mp "/") {
        if (length(mp) >= length(best)) { best = mp; bestType = fstype }
      }
    }
    END { if (best != "") print bestType " " (best == p ? "at" : "in") " " best }
  ' "$MOUNTINFO_FILE"
}

# Prepares METAHUMAN_ROOT, or explains why it leaves it alone. Never fails the start:
# the server's own checks decide whether it can run.
prepare_root() {
  root="${METAHUMAN_ROOT:-}"
  if [ -z "$root" ]; then
    say "METAHUMAN_ROOT is not set; nothing to prepare"
    return 0
  fi
  case "$root" in
    /*) ;;
    *) say "METAHUMAN_ROOT \"$root\" is not an absolute path; leaving it to the server"; return 0 ;;
  esac
  # Strip trailing slashes; refuse . and .. segments, which could lead off the volume.
  while [ "${root%/}" != "$root" ] && [ "$root" != "/" ]; do root="${root%/}"; done
  case "/$root/" in
    */./* | */../*) say "METAHUMAN_ROOT \"$root\" contains . or .. segments; leaving it to the server"; return 0 ;;
  esac
  if [ "$root" = "/" ]; then
    say "METAHUMAN_ROOT is /; leaving it to the server"
    return 0
  fi
  if [ ! -r "$MOUNTINFO_FILE" ]; then
    say "cannot read $MOUNTINFO_FILE to see whether the volume is mounted; created nothing"
    return 0
  fi

  # The nearest folder that already exists: METAHUMAN_ROOT itself or an ancestor.
  existing="$root"
  while [ ! -e "$existing" ] && [ ! -L "$existing" ]; do
    existing=$(dirname "$existing")
  done
  if [ -L "$existing" ] || [ ! -d "$existing" ]; then
    say "\"$existing\" is not a folder; created nothing for METAHUMAN_ROOT \"$root\""
    return 0
  fi

  if [ "$existing" != "$root" ]; then
    # Missing: create it only when the folder that should hold it is itself a mount point
    # of a persistent filesystem (the network volume at /runpod-volume), never on the
    # container's root filesystem or a RAM-backed one.
    found=$(mount_of "$existing")
    fstype="${found%% *}"
    where="${found#* }"
    mountpoint="${where#* }"
    if [ -z "$found" ] || [ "${where%% *}" != "at" ] || [ "$existing" = "/" ]; then
      say "\"$existing\" is not a mounted volume; created nothing (METAHUMAN_ROOT \"$root\" stays missing, so the server will refuse to start)"
      return 0
    fi
    case "$fstype" in
      tmpfs | ramfs)
        say "\"$existing\" is a $fstype mount (lost on restart); created nothing for METAHUMAN_ROOT \"$root\""
        return 0
        ;;
    esac
    # Create one level at a time so only the folders made here change owner.
    rest="${root#"$existing"}"
    current="$existing"
    old_ifs=$IFS
    IFS=/
    set -f
    for part in $rest; do
      [ -n "$part" ] || continue
      current="$current/$part"
      if ! mkdir -m 0750 "$current" || ! chown "$APP_UID:$APP_GID" "$current"; then
        IFS=$old_ifs
        set +f
        say "could not create \"$current\" owned by $APP_UID:$APP_GID; the server will report what is wrong"
        return 0
      fi
    done
    IFS=$old_ifs
    set +f
    say "created METAHUMAN_ROOT \"$root\" on the volume mounted at \"$mountpoint\", owned by $APP_UID:$APP_GID"
    return 0
  fi

  # Exists: fix the owner of this one folder only, and only on a mounted volume.
  found=$(mount_of "$root")
  fstype="${found%% *}"
  where="${found#* }"
  mountpoint="${where#* }"
  # MetaHuman OS would write the person's data there and lose it at the next restart: the pod does not start.
  if [ -z "$found" ] || [ "$mountpoint" = "/" ]; then
    say "METAHUMAN_ROOT \"$root\" is not on a mounted volume; left it as it is and refusing to start (is the network volume attached?)" >&2
    exit 78
  fi
  case "$fstype" in
    tmpfs | ramfs)
      say "METAHUMAN_ROOT \"$root\" is on a $fstype mount (lost on restart); left it as it is and refusing to start" >&2
      exit 78
      ;;
  esac
  owner=$(stat -c '%u:%g' "$root")
  if [ "$owner" != "$APP_UID:$APP_GID" ]; then
    if ! chown "$APP_UID:$APP_GID" "$root"; then
      say "could not change the owner of METAHUMAN_ROOT \"$root\" ($owner) to $APP_UID:$APP_GID; the server will report what is wrong"
      return 0
    fi
    say "METAHUMAN_ROOT \"$root\" was owned by $owner; changed that folder (not its contents) to $APP_UID:$APP_GID"
  elif ! setpriv --reuid="$APP_UID" --regid="$APP_GID" --init-groups test -w "$root" -a -x "$root"; then
    chmod u+rwx "$root" || { say "could not add u+rwx to METAHUMAN_ROOT \"$root\"; the server will report what is wrong"; return 0; }
    say "METAHUMAN_ROOT \"$root\" was not writable by its owner $APP_UID; added u+rwx to that folder"
  else
    say "METAHUMAN_ROOT \"$root\" is ready (owned by $APP_UID:$APP_GID)"
  fi
}

if [ "$#" -eq 0 ]; then
  say "no command given" >&2
  exit 64
fi

if [ "$(id -u)" != "0" ]; then
  # Started as a non-root user (docker run --user ...): nothing can be prepared or dropped.
  say "running as uid $(id -u), not root; METAHUMAN_ROOT left to the server"
  exec "$@"
fi

prepare_root

# The secrets leave the command's environment and reach it on file descriptor 3 instead (POD_SECRETS_FD, read once
# at the server's start and closed: src/app/secrets-fd.ts). MetaHuman OS runs as the same user as the server, and a
# process's start environment stays readable in /proc/PID/environ by every process of that user for its whole life;
# a pipe read to its end leaves nothing there. The names are src/app/env.ts's SECRET_VARIABLES (a test holds the two
# lists together).
SECRET_VARIABLES="RUNPOD_API_KEY SESSION_SECRET OPENAI_API_KEY MONITORING_TOKEN ALERT_WEBHOOK_URL"
newline='
'
secrets=""
for name in $SECRET_VARIABLES; do
  eval "value=\${$name-}"
  [ -n "$value" ] || continue
  case "$value" in
    *"$newline"*) say "$name holds a line break, which no secret of the pod may; refusing to start" >&2; exit 78 ;;
  esac
  secrets="$secrets$name=$value$newline"
  unset "$name"
done
value=""
export POD_SECRETS_FD=3
exec setpriv --reuid="$APP_UID" --regid="$APP_GID" --init-groups -- "$@" 3<<SECRETS
$secrets
SECRETS
