#!/usr/bin/env bash
# Rootless Podman for podstack's test matrix: a created user runs the
# distribution's Podman with its own API service, as most users run Podman.
# Run as root; idempotent.
#
#   scripts/rootless.sh start      prepare the user, build its test image, start its
#                                  service (scripts/podman-service.sh as the user);
#                                  prints the service URL
#   scripts/rootless.sh stop       remove the user's containers and pods, stop its
#                                  service and its pause process
#   scripts/rootless.sh url        print the service URL
#   scripts/rootless.sh exec CMD.. run CMD as the user, with HOME, XDG_RUNTIME_DIR,
#                                  STACK_URL and STACK_TEST_URL set (and the
#                                  PODSTACK_*, STACK_BIN, STACK_TEST_REGISTRY and
#                                  CONTAINERS_REGISTRIES_CONF variables passed on:
#                                  the service the user starts reads the last)
#
# The user is $PODSTACK_ROOTLESS_USER (default podstack-test), created here and
# used for nothing else: everything it runs is a test's. On a machine without
# systemd-logind (containers, CI) nobody makes its runtime directory, so this
# does, as /run/user/UID. What a rootless Podman needs and a bare machine may
# lack, each step saying why:
#   - subuid/subgid ranges (useradd allots them on most systems; added if not)
#   - /dev/net/tun usable by the user (slirp4netns opens it; some images ship it 0600)
#   - storage driver overlay (Podman falls back to the slow vfs otherwise)
#   - runc and the machine's [containers] settings (rlimits it can grant)
set -euo pipefail
U=${PODSTACK_ROOTLESS_USER:-podstack-test}
here=$(cd "$(dirname "$0")" && pwd)
log() { echo "rootless: $*" >&2; }
die() { echo "rootless: ERROR: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "run as root (it creates and prepares the test user)"

user_vars() {
  UID_=$(id -u "$U")
  H=$(getent passwd "$U" | cut -d: -f6)
  RT=/run/user/$UID_
  RUN=$RT/podstack-test # scripts/podman-service.sh's default for a normal user
  URL=unix://$RUN/podman.sock
}

# as_user CMD...: CMD as the user, in a clean environment of its own.
as_user() {
  local pass=() v
  for v in $(compgen -e); do
    case $v in
    PODSTACK_ROOTLESS_USER) ;;
    PODSTACK_* | STACK_BIN | STACK_TEST_TIMEOUT | STACK_TEST_REGISTRY | CONTAINERS_REGISTRIES_CONF) pass+=("$v=${!v}") ;;
    esac
  done
  runuser -u "$U" -- env -i HOME="$H" USER="$U" LOGNAME="$U" SHELL=/bin/sh \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin XDG_RUNTIME_DIR="$RT" \
    TMPDIR=/tmp PODMAN_IGNORE_CGROUPSV1_WARNING=1 STACK_URL="$URL" STACK_TEST_URL="$URL" \
    "${pass[@]}" "$@"
}

# write_if_changed FILE: stdin becomes FILE (owned by the user) unless it already says that.
write_if_changed() {
  local tmp; tmp=$(mktemp)
  cat >"$tmp"
  if cmp -s "$tmp" "$1"; then rm -f "$tmp"; return; fi
  install -m 644 -o "$U" -g "$U" "$tmp" "$1"
  rm -f "$tmp"
  log "wrote $1"
}

. "$(dirname "$0")/lib.sh" # alive

# user_pids: the live processes of the user and of its subordinate uids
# (a container's processes run as those).
user_pids() {
  local ranges
  ranges=$(awk -F: -v u="$U" -v id="$UID_" '($1 == u || $1 == id) {print $2, $2 + $3}' /etc/subuid | tr '\n' ' ')
  ps -eo pid=,uid=,stat= | awk -v uid="$UID_" -v r="$ranges" '
    BEGIN { n = split(r, a, " ") }
    $3 ~ /^Z/ { next }
    { ok = ($2 == uid); for (i = 1; i < n; i += 2) if ($2 >= a[i] && $2 < a[i + 1]) ok = 1; if (ok) print $1 }'
}

# reset_runtime: the user's Podman as after a reboot. Everything the user
# runs is a test's, and a run that was killed (CI cancelled, a machine
# reused) leaves its service, pause process, slirp4netns, aardvark-dns and
# conmons dead or half-alive, with their pid files in the runtime directory.
# Podman then trusts those files: it joins a pause process that is gone
# ("invalid internal status ... could not find any running process"), and
# netavark signals an aardvark-dns that is gone or a zombie instead of
# starting one, so no name resolves ("nslookup: write to GATEWAY:
# Connection refused"). So every start kills what the user runs and empties
# its runtime directory (/run/user/UID is a tmpfs that a boot empties; Podman
# knows a boot by its missing "alive" file and refreshes its containers'
# states). Root's Podman is not touched: nothing here is outside the user's
# processes and runtime directory.
reset_runtime() {
  local pids n=0
  pids=$(user_pids)
  if [ -n "$pids" ]; then
    n=$(echo $pids | wc -w)
    kill -9 $pids 2>/dev/null || true
    for _ in $(seq 1 50); do [ -z "$(user_pids)" ] && break; sleep 0.1; done
    [ -z "$(user_pids)" ] || die "processes of $U survive kill -9: $(user_pids | tr '\n' ' ')"
  fi
  [ -d "$RT" ] || return 0
  local m
  for m in $(findmnt -rn -o TARGET | grep "^$RT/" | sort -r); do umount -l "$m" 2>/dev/null || true; done
  find "$RT" -mindepth 1 -maxdepth 1 -exec rm -rf --one-file-system {} +
  log "reset the runtime state of $U (killed $n leftover processes, emptied $RT)"
}

prepare() {
  local need=() p
  for p in podman runc uidmap slirp4netns fuse-overlayfs catatonit busybox-static; do
    dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
  done
  if [ ${#need[@]} -gt 0 ]; then
    log "apt-get install ${need[*]}"
    apt-get update -qq >/dev/null || true
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null || die "apt-get install ${need[*]} failed"
  fi
  id "$U" >/dev/null 2>&1 || { useradd -m -s /bin/sh "$U"; log "created user $U"; }
  user_vars
  grep -q "^$U:" /etc/subuid || { usermod --add-subuids 300000-365535 "$U"; log "added subuids 300000-365535 for $U"; }
  grep -q "^$U:" /etc/subgid || { usermod --add-subgids 300000-365535 "$U"; log "added subgids 300000-365535 for $U"; }
  if [ -c /dev/net/tun ] && [ "$(stat -c %a /dev/net/tun)" != 666 ]; then
    chmod 0666 /dev/net/tun
    log "chmod 0666 /dev/net/tun: slirp4netns opens it as the user (0666 is its usual mode)"
  fi
  reset_runtime
  install -d -m 700 -o "$U" -g "$U" "$RT"
  install -d -m 755 -o "$U" -g "$U" "$H/.config" "$H/.config/containers"
  {
    echo "# podstack's rootless test user: written by scripts/rootless.sh"
    echo "[containers]"
    if [ -f /etc/containers/containers.conf ]; then
      awk '/^\[/{s=($0=="[containers]")} s && !/^\[/ && !/^#/ && NF' /etc/containers/containers.conf
    fi
    printf '[engine]\nruntime = "runc"\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n'
  } | write_if_changed "$H/.config/containers/containers.conf"
  printf '[storage]\ndriver = "overlay"\n' | write_if_changed "$H/.config/containers/storage.conf"
  local drv
  # A failing podman info is reported as it is: resetting storage for it
  # would hide the cause and lose the test image.
  local err; err=$(mktemp)
  drv=$(as_user podman info --format '{{.Store.GraphDriverName}}' 2>"$err") || die "podman info as $U: $(cat "$err")"
  rm -f "$err"
  if [ "$drv" != overlay ]; then
    log "the user's storage driver is '$drv', not overlay: resetting its (test-only) storage"
    as_user podman system reset -f >/dev/null 2>&1 || true
    drv=$(as_user podman info --format '{{.Store.GraphDriverName}}' 2>&1) || die "podman info as $U: $drv"
    [ "$drv" = overlay ] || die "the storage driver of $U is '$drv' after a reset, not overlay"
  fi
  # What earlier runs left (a killed run never reached stop): all of it is
  # tests', and stale networks would use up the subnets Podman allots.
  as_user podman pod rm -af -t 0 >/dev/null 2>&1 || true
  as_user podman rm -af -t 0 >/dev/null 2>&1 || true
  as_user podman network prune -f >/dev/null 2>&1 || true
  as_user podman volume prune -f >/dev/null 2>&1 || true
  (cd / && as_user "$here/test-image.sh") || die "could not build the test image as $U"
}

cmd_start() {
  prepare
  local url
  url=$(cd / && as_user "$here/podman-service.sh" start) || die "the rootless service of $U did not start"
  [ "$url" = "$URL" ] || die "the service answers at $url, expected $URL"
  local probe
  probe=$(as_user podman --url "$URL" info --format '{{.Host.Security.Rootless}}' 2>&1) || die "podman info through $URL: $probe"
  [ "$probe" = true ] || die "the service at $URL is not rootless (rootless: $probe)"
  echo "$URL"
}

# live_conmons: the user's conmon processes, zombies left out.
live_conmons() { pgrep -u "$U" -x conmon -r R,S,D,T || true; }

# descendants PID: PID's children, grandchildren, ... (deepest first).
descendants() {
  local c
  for c in $(pgrep -P "$1" || true); do descendants "$c"; echo "$c"; done
}

cmd_stop() {
  id "$U" >/dev/null 2>&1 || return 0
  user_vars
  [ -d "$RT" ] || return 0
  # The user exists for these tests only: all its containers are theirs.
  as_user podman rm -af -t 0 >/dev/null 2>&1 || true
  as_user podman pod rm -af >/dev/null 2>&1 || true
  # Rootless on cgroup v1 has no per-container cgroup: a `pid: host`
  # container's children outlive it, and exec sessions' conmons linger.
  # Whatever is left under a conmon of the user's is such a leftover.
  local c p n=0
  for c in $(live_conmons); do
    for p in $(descendants "$c") "$c"; do
      [ "$(stat -c %U /proc/"$p" 2>/dev/null)" = "$U" ] || continue
      kill -9 "$p" 2>/dev/null && n=$((n + 1))
    done
  done
  [ $n = 0 ] || log "killed $n leftover conmon/container processes of $U"
  (cd / && as_user "$here/podman-service.sh" stop) || true
  # What the user still runs is a leftover: its pause process (Podman
  # restarts it on demand), slirp4netns, and aardvark-dns, which would
  # otherwise outlive the rootless network namespace it serves.
  local left; left=$(user_pids | tr '\n' ' ')
  if [ -n "$left" ]; then
    kill $left 2>/dev/null || true
    for _ in $(seq 1 30); do [ -z "$(user_pids)" ] && break; sleep 0.1; done
    left=$(user_pids | tr '\n' ' ')
    [ -z "$left" ] || kill -9 $left 2>/dev/null || true
    log "stopped what $U still ran (pause process, slirp4netns, aardvark-dns)"
  fi
}

case ${1:-} in
start) cmd_start ;;
stop) cmd_stop ;;
url) id "$U" >/dev/null 2>&1 || die "no user $U: $0 start"; user_vars; echo "$URL" ;;
exec) shift; [ $# -gt 0 ] || die "usage: $0 exec CMD [ARG...]"; user_vars; as_user "$@" ;;
*) sed -n '2,14p' "$0" >&2; exit 2 ;;
esac
