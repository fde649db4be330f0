#!/usr/bin/env bash
# Starts, stops or prints the URL of a private Podman API service for tests:
#   scripts/podman-service.sh start|stop|url
set -euo pipefail
dir=${PODSTACK_TEST_RUN:-/run/podstack-test}
sock=$dir/podman.sock
url=unix://$sock
log() { echo "podman-service: $*" >&2; }

case ${1:-} in
start)
  mkdir -p "$dir"
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
