#!/usr/bin/env bash
# A real OCI registry (distribution's `registry`, the one Docker Hub's
# "registry" image runs) on 127.0.0.1 over plain HTTP, for the push and pull
# tests: each Podman leg starts its own, with its storage in a fresh
# directory that `stop` removes.
#
#   scripts/registry.sh start           build when needed, start, print HOST:PORT
#   scripts/registry.sh stop            stop what `start` started, remove its storage
#   scripts/registry.sh url             print HOST:PORT of the running registry
#   scripts/registry.sh build           build (or find cached) the binary only
#   scripts/registry.sh registries-conf HOST:PORT FILE
#                                       write FILE: the machine's registries.conf
#                                       plus HOST:PORT as an insecure (plain HTTP)
#                                       registry, for a Podman service started with
#                                       CONTAINERS_REGISTRIES_CONF=FILE
#
# Built from the Go module proxy with the ordinary go client
# (github.com/distribution/distribution/v3, cmd/registry; pure Go, built with
# CGO_ENABLED=0), cached outside the clone, keyed by version, in
# ${PODSTACK_CACHE:-~/.cache/podstack}/registry-VERSION/registry; it is rebuilt
# only when absent (delete that directory to force it). A cold build takes a
# few minutes on two cores; once cached, start to ready is under a second.
#
# Settings (environment): PODSTACK_CACHE; PODSTACK_REGISTRY_RUN, the state
# directory (configuration, storage, log, PID; default
# /run/podstack-test-registry for root, $XDG_RUNTIME_DIR/podstack-test-registry
# for a user): one registry per directory; PODSTACK_REGISTRY_PORT (default: a
# free port between 20000 and 29999, in the network namespace `start` runs
# in); REGISTRY_VERSION (3.1.2).
set -euo pipefail

VERSION=${REGISTRY_VERSION:-3.1.2}
cache=${PODSTACK_CACHE:-${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/podstack}/registry-v$VERSION
BIN=$cache/registry
if [ -n "${PODSTACK_REGISTRY_RUN:-}" ]; then
  run=$PODSTACK_REGISTRY_RUN
elif [ "$(id -u)" = 0 ]; then
  run=/run/podstack-test-registry
else
  run=${XDG_RUNTIME_DIR:-/tmp/podstack-$(id -u)}/podstack-test-registry
fi

log() { echo "registry.sh: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

build() {
  [ -x "$BIN" ] && return 0
  command -v go >/dev/null || die "go is needed to build the registry"
  mkdir -p "$cache"
  # Legs that start beside each other on a machine with no binary yet:
  # one builds, the others wait for it.
  ( flock 7 && build_locked ) 7>"$cache/build.lock" || exit 1
}

build_locked() {
  [ -x "$BIN" ] && return 0
  log "building registry v$VERSION (once per machine: a few minutes cold)"
  local w=$cache/src t0=$SECONDS
  mkdir -p "$w"
  # A module of our own that requires distribution's, so the build takes
  # the versions distribution's go.mod pins (go install would too, but it
  # also asks the proxy for the module's latest version).
  # (errexit does not hold inside a subshell on the left of ||: each step
  # is chained.)
  ( cd "$w" &&
    { [ -f go.mod ] || printf 'module podstack.local/registry\n\ngo 1.26.0\n' > go.mod; } &&
    export CGO_ENABLED=0 GOFLAGS="-p=2 -buildvcs=false" &&
    go get "github.com/distribution/distribution/v3/cmd/registry@v$VERSION" >build.log 2>&1 &&
    nice -n 10 go build -trimpath -ldflags "-s -w" -o "$BIN.tmp" \
      github.com/distribution/distribution/v3/cmd/registry >>build.log 2>&1 &&
    mv "$BIN.tmp" "$BIN"
  ) || { tail -20 "$w/build.log" >&2; die "registry build failed (log: $w/build.log)"; }
  log "built $BIN in $((SECONDS - t0)) s"
}

. "$(dirname "$0")/lib.sh" # alive
# running: the pid file names a live registry of ours (not a pid reused since).
running() {
  local pid
  pid=$(cat "$run/pid" 2>/dev/null) && [ -n "$pid" ] && alive "$pid" &&
    [ "$(readlink "/proc/$pid/exe" 2>/dev/null)" = "$(readlink -f "$BIN")" ]
}
# answers HOST:PORT: the registry API answers there (an empty registry
# answers /v2/ with 200 and {}).
answers() { curl -sf --max-time 2 "http://$1/v2/" >/dev/null 2>&1; }

# free_port: a port nothing listens on in this network namespace. Another
# process may take it before the registry binds it: start then tries again.
free_port() {
  local used p
  used=$(ss -Htln 2>/dev/null | awk '{n = split($4, a, ":"); print a[n]}')
  for _ in $(seq 1 50); do
    p=$((20000 + RANDOM % 10000))
    grep -qx "$p" <<<"$used" || { echo "$p"; return; }
  done
  die "no free port found between 20000 and 29999"
}

start() {
  build
  if running && answers "$(cat "$run/addr")"; then
    log "already running (pid $(cat "$run/pid")) at $(cat "$run/addr")"
    cat "$run/addr"
    return
  fi
  stop >/dev/null 2>&1 || true
  mkdir -p "$run"
  local try port addr pid
  for try in 1 2 3 4 5; do
    port=${PODSTACK_REGISTRY_PORT:-$(free_port)}
    addr=127.0.0.1:$port
    rm -rf "$run/storage"
    mkdir -p "$run/storage"
    # Only what the tests need: filesystem storage, deletes allowed (the
    # tests remove what they push), no debug or metrics listener.
    cat >"$run/config.yml" <<EOF
version: 0.1
log:
  level: info
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $run/storage
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: $addr
EOF
    # OTEL_TRACES_EXPORTER=none: the registry would otherwise try to send
    # traces to an OpenTelemetry collector on localhost:4318.
    OTEL_TRACES_EXPORTER=none setsid "$BIN" serve "$run/config.yml" >"$run/registry.log" 2>&1 </dev/null &
    pid=$!
    echo "$pid" >"$run/pid"
    for _ in $(seq 1 100); do
      answers "$addr" && break
      alive "$pid" || break
      sleep 0.1
    done
    if alive "$pid" && answers "$addr"; then
      echo "$addr" >"$run/addr"
      log "started registry v$VERSION (pid $pid) at $addr, storage $run/storage"
      echo "$addr"
      return
    fi
    kill "$pid" 2>/dev/null || true
    # A port taken meanwhile: another try on another port (unless it is fixed).
    if [ -z "${PODSTACK_REGISTRY_PORT:-}" ] && grep -q 'address already in use' "$run/registry.log"; then
      log "port $port was taken: trying another"
      continue
    fi
    break
  done
  tail -20 "$run/registry.log" >&2
  die "the registry did not answer at $addr (log: $run/registry.log)"
}

stop() {
  if running; then
    local pid; pid=$(cat "$run/pid")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do alive "$pid" || break; sleep 0.1; done
    alive "$pid" && kill -9 "$pid" 2>/dev/null
    log "stopped the registry (pid $pid)"
  fi
  rm -rf "$run/storage"
  rm -f "$run/pid" "$run/addr" "$run/config.yml"
}

# registries_conf HOST:PORT FILE: the machine's registries.conf (its search
# registries, mirrors, blocks) with HOST:PORT added as plain-HTTP. Podman
# reads the registries.conf.d drop-ins besides it, as without the variable.
registries_conf() {
  local addr=${1:?usage: $0 registries-conf HOST:PORT FILE} file=${2:?usage: $0 registries-conf HOST:PORT FILE}
  local sys=/etc/containers/registries.conf
  if [ -f "$sys" ] && grep -qE '^[[:space:]]*\[registries\.' "$sys"; then
    die "$sys is in the old (v1) format, which cannot be extended with a [[registry]] table: convert it to the v2 format (man containers-registries.conf)"
  fi
  {
    if [ -f "$sys" ]; then cat "$sys"; echo; fi
    echo "# podstack's test registry: written by scripts/registry.sh"
    printf '[[registry]]\nlocation = "%s"\ninsecure = true\n' "$addr"
  } >"$file.tmp"
  chmod 644 "$file.tmp"
  mv "$file.tmp" "$file"
}

case ${1:-} in
start) start ;;
stop) stop ;;
url) running && cat "$run/addr" || die "no registry runs for $run: $0 start" ;;
build) build ;;
registries-conf) shift; registries_conf "$@" ;;
*) sed -n '7,16p' "$0" >&2; exit 2 ;;
esac
