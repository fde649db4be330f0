#!/usr/bin/env bash
# Starts, stops or prints the URL of a private Podman API service for tests:
#   scripts/podman-service.sh start|stop|url
# Its socket, pid and log live in $PODSTACK_TEST_RUN: by default
# /run/podstack-test for root, and $XDG_RUNTIME_DIR/podstack-test for a
# normal user (a rootless service, the user's own containers). The service
# reads CONTAINERS_REGISTRIES_CONF as `start` finds it (the test legs point
# it at a file that makes their registry insecure: scripts/registry.sh); a
# running service started with another one is restarted.
set -euo pipefail
log() { echo "podman-service: $*" >&2; }
if [ -n "${PODSTACK_TEST_RUN:-}" ]; then
  dir=$PODSTACK_TEST_RUN
elif [ "$(id -u)" = 0 ]; then
  dir=/run/podstack-test
elif [ -n "${XDG_RUNTIME_DIR:-}" ]; then
  dir=$XDG_RUNTIME_DIR/podstack-test
else
  log "XDG_RUNTIME_DIR is not set (no login session?): set it, or PODSTACK_TEST_RUN to a directory of yours"
  exit 1
fi
sock=$dir/podman.sock
url=unix://$sock

. "$(dirname "$0")/lib.sh" # alive
answers() { [ -S "$sock" ] && podman --url "$url" version >/dev/null 2>&1; }
# registries_conf PID: the CONTAINERS_REGISTRIES_CONF PID was started with.
registries_conf() { tr '\0' '\n' <"/proc/$1/environ" 2>/dev/null | sed -n 's/^CONTAINERS_REGISTRIES_CONF=//p'; }

case ${1:-} in
start)
  mkdir -p -m 700 "$dir"
  if [ -f "$dir/pid" ] && alive "$(cat "$dir/pid")" && answers &&
    [ "$(registries_conf "$(cat "$dir/pid")")" = "${CONTAINERS_REGISTRIES_CONF:-}" ]; then
    log "already running (pid $(cat "$dir/pid")) at $url"
  else
    # A killed run leaves its pid file: the pid may be a zombie (kill -0
    # says yes), a process since given that pid, or a service that hangs.
    stale=$(cat "$dir/pid" 2>/dev/null || true)
    if [ -n "$stale" ] && alive "$stale" && grep -qa 'system.service' "/proc/$stale/cmdline" 2>/dev/null; then
      kill -9 "$stale" 2>/dev/null || true
    fi
    rm -f "$sock" "$dir/pid"
    setsid podman system service --time=0 "$url" >"$dir/service.log" 2>&1 &
    echo $! > "$dir/pid"
    for _ in $(seq 1 100); do
      if [ -S "$sock" ] && podman --url "$url" version >/dev/null 2>&1; then break; fi
      sleep 0.1
    done
    podman --url "$url" version >/dev/null 2>&1 || { log "service did not answer; log:"; cat "$dir/service.log" >&2; exit 1; }
    log "started podman system service (pid $(cat "$dir/pid")) at $url"
  fi
  echo "$url"
  ;;
stop)
  if [ -f "$dir/pid" ]; then
    pid=$(cat "$dir/pid")
    if alive "$pid" && grep -qa 'system.service' "/proc/$pid/cmdline" 2>/dev/null; then kill "$pid" 2>/dev/null || true; fi
    rm -f "$dir/pid"
    log "stopped the service at $url"
  fi
  ;;
url) echo "$url" ;;
*) echo "usage: $0 start|stop|url" >&2; exit 2 ;;
esac
