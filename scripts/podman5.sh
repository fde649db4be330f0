#!/usr/bin/env bash
# Podman 5 for podstack's test matrix: builds it from the Go module proxy and
# runs it as a rootful API service BESIDE the distribution's Podman, sharing
# none of its storage, locks, networks, bridges, firewall rules or ports.
#
#   scripts/podman5.sh build      build podman (cached per version, see below)
#   scripts/podman5.sh start      build if needed, start the service, load the
#                                 test image; prints the service URL
#   scripts/podman5.sh stop       remove what runs on it, stop it, drop its netns
#   scripts/podman5.sh url        print the service URL
#   scripts/podman5.sh exec CMD.. run CMD in the service's network namespace (where
#                                 published ports answer on 127.0.0.1), with a
#                                 `podman` bound to the service first in PATH and
#                                 STACK_URL / STACK_TEST_URL set
#
# The binary is cached outside the clone, keyed by version:
# ${PODSTACK_CACHE:-$HOME/.cache/podstack}/podman-VERSION/podman; it is rebuilt
# only when absent (~4 min on 2 cores, then seconds). The service's state lives in
# $PODMAN5_ROOT (/var/lib/podstack-podman5) and $PODMAN5_RUN (/run/podstack-podman5).
# It reads CONTAINERS_REGISTRIES_CONF as `start` finds it (a test leg's, where
# the leg's registry is insecure); one running with another is restarted.
#
# Why the isolation (every item is shared between rootful Podmans by default,
# whatever --root and --runroot say):
#   - locks: the SHM lock segment -> lock_type = "file" in the service's tmp_dir
#   - network configs (/etc/containers/networks) -> network_config_dir
#   - netavark's run dir (IPAM, aardvark-dns) /run/containers/networks and the
#     blob-info cache /var/lib/containers/cache are hard-coded for root -> the
#     service gets a private mount namespace with its own directories bound there
#   - the podman0 bridge, iptables rules, aardvark-dns and host ports -> the service
#     runs in its own network namespace; published ports answer on 127.0.0.1
#     there only, so tests that reach them run through `exec`
# A machine that runs Podman 5 as its only Podman needs none of this.
set -euo pipefail

VERSION=${PODMAN5_VERSION:-v5.8.6}
TAGS="seccomp exclude_graphdriver_btrfs exclude_graphdriver_devicemapper containers_image_openpgp libsqlite3 grpcnotrace"
CACHE=${PODSTACK_CACHE:-${HOME:-/root}/.cache/podstack}
BUILD=$CACHE/podman-$VERSION
BIN=$BUILD/podman
ROOT=${PODMAN5_ROOT:-/var/lib/podstack-podman5}
RUN=${PODMAN5_RUN:-/run/podstack-podman5}
NETNS=${PODMAN5_NETNS:-podstack-podman5}
CONF=$ROOT/etc/containers.conf
# [containers] settings a failed probe added (see probe_build): kept with
# the service's state, so a later start writes them again.
TWEAKS=$ROOT/etc/containers.tweaks
SCONF=$ROOT/etc/storage.conf
SOCK=$RUN/podman.sock
URL=unix://$SOCK
WRAP=$RUN/bin
here=$(cd "$(dirname "$0")" && pwd)

log() { echo "podman5: $*" >&2; }
die() { echo "podman5: ERROR: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "run as root: this is a rootful service"

export CONTAINERS_CONF=$CONF CONTAINERS_STORAGE_CONF=$SCONF PODMAN_IGNORE_CGROUPSV1_WARNING=1

apt_install() {
  local missing=() p
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  command -v apt-get >/dev/null || die "missing ${missing[*]}: install them with your package manager"
  log "apt-get install ${missing[*]}"
  apt-get update -qq >/dev/null || true
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
    die "apt-get install ${missing[*]} failed"
}

built() { [ -x "$BIN" ] && [ "$(cat "$BUILD/tags" 2>/dev/null)" = "$TAGS" ]; }

cmd_build() {
  if built; then
    log "cached: $BIN"
    return 0
  fi
  command -v go >/dev/null || die "no go toolchain in PATH"
  # The only -dev package podman needs beyond a Go toolchain and a C compiler.
  apt_install libseccomp-dev libsqlite3-dev pkg-config gcc
  # `go install ...@VERSION` reads the module's version list for its
  # deprecation check (the v5 module is deprecated for v6), which proxies may
  # refuse: download the module and build in a writable copy instead.
  local dir src t0=$SECONDS
  dir=$(cd / && GOFLAGS=-mod=mod go mod download -json "github.com/containers/podman/v5@$VERSION" |
    sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
  [ -n "$dir" ] && [ -d "$dir" ] || die "go mod download github.com/containers/podman/v5@$VERSION failed"
  src=$(mktemp -d)
  trap 'rm -rf "$src"' RETURN
  cp -r "$dir/." "$src"
  chmod -R u+w "$src"
  log "building podman $VERSION (cgo; tags: $TAGS); minutes when cold"
  mkdir -p "$BUILD"
  (cd "$src" && CGO_ENABLED=1 go build -trimpath -tags "$TAGS" -ldflags "-s -w" -o "$BIN.new" ./cmd/podman) ||
    die "go build podman@$VERSION failed"
  mv "$BIN.new" "$BIN"
  echo "$TAGS" >"$BUILD/tags"
  log "built $(env -u CONTAINERS_CONF -u CONTAINERS_STORAGE_CONF "$BIN" --version) in $((SECONDS - t0))s: $BIN"
}

# write_if_changed FILE: stdin becomes FILE unless FILE already says that.
write_if_changed() {
  local tmp; tmp=$(mktemp)
  cat >"$tmp"
  if cmp -s "$tmp" "$1"; then rm -f "$tmp"; else mv "$tmp" "$1"; chmod 644 "$1"; fi
}

write_conf() {
  mkdir -p "$ROOT/etc" "$ROOT/networks" "$ROOT/cache" "$RUN/networks" "$RUN/libpod" "$WRAP"
  {
    echo "# podstack's Podman 5 test service: written by scripts/podman5.sh"
    echo "[containers]"
    # The machine's own [containers] settings (the rlimits it can grant).
    if [ -f /etc/containers/containers.conf ]; then
      awk '/^\[/{s=($0=="[containers]")} s && !/^\[/ && !/^#/ && NF' /etc/containers/containers.conf
    fi
    if [ -f "$TWEAKS" ]; then cat "$TWEAKS"; fi
    cat <<EOF
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
tmp_dir = "$RUN/libpod"
lock_type = "file"
[network]
network_backend = "netavark"
network_config_dir = "$ROOT/networks"
EOF
  } | write_if_changed "$CONF"
  printf '[storage]\ndriver = "overlay"\ngraphroot = "%s"\nrunroot = "%s"\n' "$ROOT" "$RUN" | write_if_changed "$SCONF"
  # The `podman` the tests find first in PATH: always a client of this
  # service, never a local Podman 5 on the distribution Podman's storage.
  cat <<EOF | write_if_changed "$WRAP/podman"
#!/bin/sh
# Podman $VERSION, a client of podstack's Podman 5 test service (scripts/podman5.sh)
export CONTAINERS_CONF=$CONF CONTAINERS_STORAGE_CONF=$SCONF PODMAN_IGNORE_CGROUPSV1_WARNING=1
case "\$1" in
  --url|--url=*|--version|-v) exec $BIN "\$@" ;;
esac
if [ "\$1 \$2" = "system service" ]; then
  # Another service on the same state (stack starts a temporary one when
  # none answers, the fault tests one they can kill), in the same network
  # and mount namespaces as the main one: a container's network namespace
  # outlives the service that made it, as on a host.
  unset CONTAINER_HOST # the service is local
  exec nsenter --net=/run/netns/$NETNS --mount=$MNTNS $BIN --root $ROOT --runroot $RUN "\$@"
fi
exec $BIN --url $URL "\$@"
EOF
  chmod 755 "$WRAP/podman"
}

. "$(dirname "$0")/lib.sh" # alive, probe_build
# running: the pid file names a live service of ours (not a pid reused since).
running() {
  local pid
  pid=$(cat "$RUN/pid" 2>/dev/null) && [ -n "$pid" ] && alive "$pid" &&
    [ "$(readlink "/proc/$pid/exe" 2>/dev/null)" = "$(readlink -f "$BIN")" ]
}
answers() { curl -sf --max-time 3 --unix-socket "$SOCK" http://d/_ping >/dev/null 2>&1; }
# same_registries: the running service reads the CONTAINERS_REGISTRIES_CONF
# this start was given (a test leg's, naming its registry insecure).
same_registries() {
  [ "$(tr '\0' '\n' <"/proc/$(cat "$RUN/pid")/environ" 2>/dev/null | sed -n 's/^CONTAINERS_REGISTRIES_CONF=//p')" = \
    "${CONTAINERS_REGISTRIES_CONF:-}" ]
}

# MNTNS is a mount namespace every Podman 5 service of the leg runs in (a
# slave of the host's, where the directories Podman hard-codes are the
# leg's own). It is kept by a bind mount, not by a process: the network
# namespaces of containers are mounted in it, and must outlive a service
# that dies (the fault tests kill one).
MNTNS=$RUN/ns/mnt
ensure_mntns() {
  nsenter --mount="$MNTNS" true 2>/dev/null && return 0
  mkdir -p "$RUN/ns" /run/containers/networks /var/lib/containers/cache "$RUN/networks" "$ROOT/cache"
  mountpoint -q "$RUN/ns" || mount --bind "$RUN/ns" "$RUN/ns"
  mount --make-private "$RUN/ns"
  touch "$MNTNS"
  unshare --mount="$MNTNS" --propagation slave sh -c "
    mount --bind '$RUN/networks' /run/containers/networks &&
    mount --bind '$ROOT/cache' /var/lib/containers/cache" || die "could not make the services' mount namespace"
}

drop_mntns() {
  umount "$MNTNS" 2>/dev/null || true
  umount "$RUN/ns" 2>/dev/null || true
}

# The leg's network namespace, as `ip netns add` makes it: /run/netns/$NETNS,
# a bind mount of the namespace. A killed run leaves it mounted (reused) or,
# after a reboot or a half-done delete, as a plain file (removed). Never found
# through `ip netns list | grep -q`: with pipefail, grep exiting early kills
# the listing with SIGPIPE, the pipeline fails, and a namespace that exists
# looks absent ("File exists"). The other names in /run/netns are not ours.
NETNS_FILE=/run/netns/$NETNS
netns_live() { nsenter --net="$NETNS_FILE" true 2>/dev/null; }
ensure_netns() {
  if [ -e "$NETNS_FILE" ] && ! netns_live; then
    log "removing a stale $NETNS_FILE (left by an earlier run)"
    umount "$NETNS_FILE" 2>/dev/null || true
    rm -f "$NETNS_FILE" || die "could not remove the stale $NETNS_FILE"
  fi
  if netns_live; then
    log "reusing network namespace $NETNS"
  else
    ip netns add "$NETNS" || die "ip netns add $NETNS failed"
  fi
  ip netns exec "$NETNS" ip link set lo up
  ip netns exec "$NETNS" sysctl -qw net.ipv4.ip_forward=1
}

cmd_start() {
  cmd_build
  apt_install conmon runc netavark aardvark-dns catatonit iptables busybox-static curl iproute2 util-linux
  write_conf
  if running && answers && same_registries && [ "${1:-}" != restart ]; then
    log "already running (pid $(cat "$RUN/pid")) at $URL"
  else
    if running; then
      local old; old=$(cat "$RUN/pid")
      kill "$old" 2>/dev/null || true
      for _ in $(seq 1 50); do alive "$old" || break; sleep 0.2; done
    fi
    ensure_netns
    ensure_mntns
    # Nothing of ours runs in the namespace while the service does not: an
    # aardvark-dns left there by an earlier service answers from a config
    # this one never writes, netavark signals it instead of starting its
    # own, and no container name resolves (seen: NXDOMAIN for every name).
    local left; left=$(ip netns pids "$NETNS" 2>/dev/null | tr '\n' ' ')
    if [ -n "$left" ]; then
      kill -9 $left 2>/dev/null || true
      log "killed what an earlier service left in network namespace $NETNS (pids $left)"
    fi
    rm -f "$SOCK"
    # nsenter joins the network namespace (`ip netns exec` would remount /sys
    # and hide cgroup v1 hierarchies) and the leg's mount namespace, where
    # the hard-coded shared directories are the service's own.
    nsenter --net="/run/netns/$NETNS" --mount="$MNTNS" setsid \
      "$BIN" --root "$ROOT" --runroot "$RUN" system service --time=0 "$URL" >>"$RUN/service.log" 2>&1 </dev/null &
    echo $! >"$RUN/pid"
    for _ in $(seq 1 150); do answers && break; running || break; sleep 0.2; done
    answers || { tail -20 "$RUN/service.log" >&2; die "the Podman 5 service did not answer at $URL"; }
    log "started podman $VERSION (pid $(cat "$RUN/pid")) at $URL, network namespace $NETNS"
  fi
  # The same test image as the distribution Podman's, built by the same script.
  PATH="$WRAP:$PATH" "$here/test-image.sh" || die "could not load the test image into the Podman 5 service"
  local out
  if ! out=$(probe_build "$BIN" --url "$URL"); then
    if grep -qi rlimit <<<"$out" && [ "${1:-}" != restart ] && ! grep -q '^default_ulimits' "$CONF"; then
      # The service's own hard limits, which it can grant (an unlimited
      # one needs no setting).
      local lim=() n
      n=$(ulimit -Hn); [ "$n" = unlimited ] || lim+=("\"nofile=$n:$n\"")
      n=$(ulimit -Hu); [ "$n" = unlimited ] || lim+=("\"nproc=$n:$n\"")
      log "a build's RUN step cannot get the rlimits Buildah asks for (no CAP_SYS_RESOURCE here):" \
        "setting default_ulimits to the service's own hard limits (${lim[*]}) and restarting it"
      (IFS=,; echo "default_ulimits = [${lim[*]}]") >"$TWEAKS"
      cmd_start restart
      return
    fi
    die "a build with a RUN step fails on the Podman 5 service: $out"
  fi
  echo "$URL"
}

cmd_stop() {
  if running && answers; then
    # The service is the tests' alone: what they left goes (the image stays).
    "$BIN" --url "$URL" pod rm -af -t 0 >/dev/null 2>&1 || true
    "$BIN" --url "$URL" rm -af -t 0 >/dev/null 2>&1 || true
    "$BIN" --url "$URL" volume prune -f >/dev/null 2>&1 || true
    "$BIN" --url "$URL" network prune -f >/dev/null 2>&1 || true
  fi
  if running; then
    local pid; pid=$(cat "$RUN/pid")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do alive "$pid" || break; sleep 0.2; done
    log "stopped the service (pid $pid)"
  fi
  rm -f "$RUN/pid" "$SOCK"
  if [ -e "$NETNS_FILE" ]; then
    # What still runs in the namespace once its containers are gone is ours
    # and lost: exec sessions' conmons waiting out their exit delay,
    # aardvark-dns, or what a killed run left.
    local left; left=$(ip netns pids "$NETNS" 2>/dev/null | tr '\n' ' ')
    if [ -n "$left" ]; then
      kill -9 $left 2>/dev/null || true
      log "killed what was left in network namespace $NETNS (pids $left)"
      for _ in $(seq 1 25); do [ -z "$(ip netns pids "$NETNS" 2>/dev/null)" ] && break; sleep 0.2; done
    fi
    if [ -z "$(ip netns pids "$NETNS" 2>/dev/null)" ]; then
      drop_mntns
      ip netns delete "$NETNS"
      # Like a reboot for the service: its next start refreshes its state
      # (the namespace's mounts and interfaces are gone).
      rm -f "$RUN/libpod/alive"
    else
      log "processes still run in network namespace $NETNS: left it"
    fi
  fi
}

cmd_exec() {
  [ $# -gt 0 ] || die "usage: $0 exec CMD [ARG...]"
  running && answers || die "the Podman 5 service does not run: $0 start"
  exec nsenter --net="/run/netns/$NETNS" env PATH="$WRAP:$PATH" STACK_URL="$URL" STACK_TEST_URL="$URL" \
    PODSTACK_AARDVARK_DIR="$RUN/networks/aardvark-dns" "$@"
}

case ${1:-} in
build) cmd_build ;;
start) cmd_start ;;
stop) cmd_stop ;;
url) echo "$URL" ;;
exec) shift; cmd_exec "$@" ;;
*) sed -n '2,14p' "$0" >&2; exit 2 ;;
esac
