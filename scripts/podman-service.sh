#!/usr/bin/env bash
# Starts, stops or prints the URL of a private Podman API service for tests:
#   scripts/podman-service.sh start|stop|url
# Its socket, pid and log live in $PODSTACK_TEST_RUN: by default
# /run/podstack-test for root, and $XDG_RUNTIME_DIR/podstack-test for a
# normal user (a rootless service, the user's own containers).
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

case ${1:-} in
start)
  mkdir -p -m 700 "$dir"
  if [ -f "$dir/pid" ] && kill -0 "$(cat "$dir/pid")" 2>/dev/null; then
    log "already running (pid $(cat "$dir/pid")) at $url"
  else
    rm -f "$sock"
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
    kill "$(cat "$dir/pid")" 2>/dev/null || true
    rm -f "$dir/pid"
    log "stopped the service at $url"
  fi
  ;;
url) echo "$url" ;;
*) echo "usage: $0 start|stop|url" >&2; exit 2 ;;
esac
