#!/usr/bin/env bash
# Removes what an earlier test run killed mid-test left on a Podman service
# (its cleanup never ran), and what Podman itself leaves that breaks later
# tests. Only what cannot be anyone's is touched:
#   - pods, containers, networks, volumes and secrets of e2e-* projects
#     (every e2e project is named so): a leftover network, say, holds the
#     fixed subnet a fixture asks for;
#   - conmon processes (and the `runc init` each waits on) whose container
#     is gone from storage: a service killed between a container's create
#     and start (the e2e fault tests do that) leaves them waiting forever,
#     while the container is removed once the service is back;
#   - aardvark-dns entry files of networks that no longer exist, whatever
#     their name. When the Podman service is killed while it starts a
#     container (the e2e fault tests do that on purpose), or a teardown
#     fails (rootless 4.3.1), netavark's entries outlive the container and
#     its network (the upstream problem is containers/podman#22407). A file
#     whose gateway is also a live network's (freed subnets are handed out
#     again) makes aardvark-dns answer NXDOMAIN for every name of that live
#     network. No live network has a file of another name, so a file without
#     its network is always garbage.
#
# Runs as the service's user, with `podman` on PATH bound to the service.
# PODSTACK_AARDVARK_DIR names netavark's aardvark-dns directory where it is not the
# default for the user (root: /run/containers/networks/aardvark-dns, others:
# $XDG_RUNTIME_DIR/containers/networks/aardvark-dns).
set -uo pipefail

say() { echo "clean-leftovers: $*" >&2; }

for kind in pod container network volume secret; do
  case $kind in
  pod) names=$(podman pod ls --filter label=io.podstack.project --format '{{.Name}}') ;;
  container) names=$(podman ps -a --filter label=io.podstack.project --format '{{.Names}}') ;;
  network) names=$(podman network ls --filter label=io.podstack.project --format '{{.Name}}') ;;
  volume) names=$(podman volume ls --filter label=io.podstack.project --format '{{.Name}}') ;;
  secret) names=$(podman secret ls --format '{{.Name}}') ;;
  esac
  names=$(grep '^e2e-' <<<"$names" || true)
  [ -z "$names" ] && continue
  say "removing $(wc -l <<<"$names") ${kind}(s) left by an earlier run"
  # shellcheck disable=SC2086
  if [ $kind = secret ]; then podman secret rm $names; else podman $kind rm -f $names; fi >/dev/null 2>&1 || true
done

# A container's conmon has its bundle directory (-b) under the storage
# Podman removes with the container; seen through the process's own root,
# so a rootless conmon's mount namespace is the one asked. An exec
# session's conmon (-e) outlives its container for its exit delay by
# design and goes by itself: it is left alone.
orphans=0
for pid in $(pgrep -u "$(id -u)" -x conmon); do
  args=$(tr '\0' '\n' 2>/dev/null <"/proc/$pid/cmdline") || continue
  bundle=$(awk 'prev == "-b" {print; exit} {prev = $0}' <<<"$args")
  [ -n "$bundle" ] && ! grep -qx -- -e <<<"$args" && [ -e "/proc/$pid/root" ] && [ ! -d "/proc/$pid/root$bundle" ] || continue
  # shellcheck disable=SC2046
  kill -9 $(pgrep -P "$pid") "$pid" 2>/dev/null && orphans=$((orphans + 1))
done
# A `runc init` whose conmon died too is left to init (pid 1): nothing
# will ever start it.
for pid in $(pgrep -u "$(id -u)" -f '^(/usr/bin/|/usr/sbin/)?runc init$'); do
  [ "$(ps -o ppid=,stat= -p "$pid" | awk '$2 !~ /^Z/ {print $1}')" = 1 ] && kill -9 "$pid" 2>/dev/null && orphans=$((orphans + 1))
done
[ $orphans = 0 ] || say "killed $orphans conmon or runc init process(es) waiting for good on a container that is gone (a Podman service killed while it started them)"

if [ -z "${PODSTACK_AARDVARK_DIR:-}" ]; then
  if [ "$(id -u)" = 0 ]; then
    PODSTACK_AARDVARK_DIR=/run/containers/networks/aardvark-dns
  else
    PODSTACK_AARDVARK_DIR=${XDG_RUNTIME_DIR:-/run/user/$(id -u)}/containers/networks/aardvark-dns
  fi
fi
[ -d "$PODSTACK_AARDVARK_DIR" ] || exit 0
# netavark trusts aardvark-dns's pid file: when it names a pid that some
# other process holds now (aardvark-dns exited and the pids wrapped),
# netavark signals that process and never starts aardvark-dns again.
pidfile=$PODSTACK_AARDVARK_DIR/aardvark.pid
if [ -f "$pidfile" ]; then
  pid=$(tr -dc 0-9 <"$pidfile")
  # A zombie still answers signals: it counts as gone (field 3 of stat).
  if [ -z "$pid" ] || [ "$(cat /proc/"$pid"/comm 2>/dev/null)" != aardvark-dns ] ||
    [ "$(awk '{print $3}' /proc/"$pid"/stat 2>/dev/null)" = Z ]; then
    rm -f "$pidfile"
    say "removed aardvark-dns's pid file: pid ${pid:-?} is not a live aardvark-dns"
  fi
fi
networks=$(podman network ls --format '{{.Name}}') || exit 0
stale=()
for f in "$PODSTACK_AARDVARK_DIR"/*; do
  [ -f "$f" ] && [ "$(basename "$f")" != aardvark.pid ] || continue
  grep -qxF "$(basename "$f")" <<<"$networks" || stale+=("$f")
done
if [ ${#stale[@]} -gt 0 ]; then
  rm -f "${stale[@]}"
  say "removed the aardvark-dns entries of ${#stale[@]} network(s) that no longer exist (in $PODSTACK_AARDVARK_DIR)"
fi
