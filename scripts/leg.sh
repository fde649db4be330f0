#!/usr/bin/env bash
# Runs one leg of podstack's test matrix: starts the leg's own Podman service
# (a leg that cannot start its Podman FAILS, it is never skipped), runs the
# compiled integration and end-to-end test binaries against it, stops the
# service, and prints the leg's wall time.
#
#   scripts/leg.sh podman     the machine's Podman, as whoever runs it (root:
#                             rootful; a normal user: rootless)
#   scripts/leg.sh podman5    Podman 5 rootful, isolated (scripts/podman5.sh)
#   scripts/leg.sh rootless   the machine's Podman as a created user (scripts/rootless.sh)
#   scripts/leg.sh kube       a real kube-apiserver (scripts/kube-apiserver.sh) for the
#                             export tests (e2e's TestKubeAPI*); runs on one machine
#                             take turns on it (flock)
#
# Env: TESTBIN (directory of the *.test binaries `make test-binaries` builds,
# default bin/test), STACK_BIN (the built stack), RUN (only tests matching this
# regexp, as go test -run), TEST_TIMEOUT (per binary, default 25m), V=1
# (verbose), LEG_SUMMARY (a file the leg's result line is appended to),
# PARALLEL (how many tests marked parallel run at once, default 3: most of
# an end-to-end test is waiting on containers, so the leg's wall time falls
# with it while the CPU stays shared; see parallel() in e2e/main_test.go).
#
# Each Podman leg also runs its own registry (scripts/registry.sh: plain HTTP
# on 127.0.0.1, its storage removed when the leg ends) where its Podman pulls
# from: in the host's network namespace for podman and rootless (a free
# port), in the service's for podman5 (port 5000 there). The service is
# started with CONTAINERS_REGISTRIES_CONF naming that registry insecure, and
# the tests get STACK_TEST_REGISTRY=127.0.0.1:PORT and
# PODSTACK_REQUIRE_REGISTRY=1: a leg without its registry fails, it never
# skips the push and pull tests.
set -uo pipefail
leg=${1:?usage: $0 podman|podman5|rootless|kube}
cd "$(dirname "$0")/.."
top=$(pwd)
here=$top/scripts
TESTBIN=$(cd "${TESTBIN:-bin/test}" 2>/dev/null && pwd) || { echo "leg $leg: no test binaries: make test-binaries" >&2; exit 1; }
export STACK_BIN=${STACK_BIN:-$top/bin/stack}
[ -x "$STACK_BIN" ] || { echo "leg $leg: no stack binary at $STACK_BIN: make build" >&2; exit 1; }
t0=$SECONDS

say() { echo "=== leg $leg: $*" >&2; }
elapsed() { local s=$((SECONDS - $1)); printf '%dm%02ds' $((s / 60)) $((s % 60)); }
finish() {
  local rc=$1 what=$2
  local line
  line=$(printf '%-10s %-6s %8s  %s' "$leg" "$what" "$(elapsed "$t0")" "${detail:-}")
  say "$what in $(elapsed "$t0") ${detail:+($detail)}"
  [ -n "${LEG_SUMMARY:-}" ] && echo "$line" >>"$LEG_SUMMARY"
  exit "$rc"
}

# The packages a leg runs, each as DIR, DIR:RUN (only the tests matching
# RUN) or DIR!SKIP (all but those matching SKIP): the Podman legs run the
# integration and e2e tests, the kube leg the tests that need an API
# server. The e2e test that kills a Podman service runs last, by itself:
# a killed service can leave netavark and aardvark-dns state that no API
# call reaches (see README, Compatibility), and on rootless 4.3.1 new
# networks' names then stop resolving until the leftovers are cleaned
# between binaries. With RUN set, each package runs once, RUN alone
# choosing its tests.
pkgs=(podmanapi "e2e!^TestServiceCrashConverges\$" "e2e:^TestServiceCrashConverges\$")
lock=
case $leg in
podman)
  start() { "$here/podman-service.sh" start; }
  stop() { "$here/podman-service.sh" stop; }
  runner() { env STACK_URL="$url" STACK_TEST_URL="$url" "$@"; }
  ;;
podman5)
  start() { "$here/podman5.sh" start; }
  stop() { "$here/podman5.sh" stop; }
  runner() { "$here/podman5.sh" exec "$@"; }
  ;;
rootless)
  if [ "$(id -u)" != 0 ]; then
    say "needs root to create and prepare its user; as a normal user, 'make test-podman' is the rootless leg"
    finish 1 FAIL
  fi
  start() { "$here/rootless.sh" start; }
  stop() { "$here/rootless.sh" stop; }
  runner() { "$here/rootless.sh" exec "$@"; }
  ;;
kube)
  # Its "service" is the API server; start prints its kubeconfig. Only the
  # e2e binary has tests that use it; the others' need Podman.
  lock=$("$here/kube-apiserver.sh" lockfile)
  start() { "$here/kube-apiserver.sh" start; }
  stop() { "$here/kube-apiserver.sh" stop; }
  runner() {
    env PODSTACK_TEST_KUBECONFIG="$url" PODSTACK_KUBECTL="$("$here/kube-apiserver.sh" bindir)/kubectl" PODSTACK_REQUIRE_KUBE=1 "$@"
  }
  pkgs=("e2e:^TestKubeAPI" cluster "cmd/stack:^(TestTarget|TestPlanTargetKube)")
  service="Kubernetes API server"
  ;;
*) echo "usage: $0 podman|podman5|rootless|kube" >&2; exit 2 ;;
esac

# The rootless leg's user and the podman5 leg's namespaces are the machine's,
# one of each (as is the kube leg's API server): a second run of the same
# leg (another clone, another user of the machine) waits its turn, since each
# start resets what the last left. The lock is held by flock itself, which
# runs this script again with it closed (-o): an open lock descriptor would
# pass to the services, conmons and slirp4netns the leg starts, and one left
# running by a killed run would hold the lock for good.
case $leg in
rootless | podman5) lock="$(if [ -d /run/lock ]; then echo /run/lock; else echo /tmp; fi)/podstack-leg-$leg.lock" ;;
esac
if [ -n "${lock:-}" ] && [ -z "${PODSTACK_LEG_LOCKED:-}" ]; then
  flock -n "$lock" true || say "waiting for another run of this leg to finish"
  PODSTACK_LEG_LOCKED=1 exec flock -o "$lock" "$here/leg.sh" "$leg"
fi

# The leg's registry: its state (configuration, storage, log) and the
# registries.conf its service reads live in a directory of the leg's own,
# readable by the rootless leg's user and removed when the leg ends.
regdir=
cleanup() {
  [ -n "$regdir" ] && { "$here/registry.sh" stop >/dev/null 2>&1 || true; }
  [ -n "${started:-}" ] && { stop >/dev/null 2>&1 || true; }
  [ -n "$regdir" ] && rm -rf "$regdir"
}
trap cleanup EXIT
if [ "$leg" != kube ]; then
  regdir=$(mktemp -d) && chmod 755 "$regdir" || { detail="no directory for its registry"; finish 1 FAIL; }
  export PODSTACK_REGISTRY_RUN=$regdir/registry
  # Built (once per machine) here: the podman5 leg starts it in a namespace
  # with no route to the Go module proxy.
  "$here/registry.sh" build || { detail="its registry did not build"; finish 1 FAIL; }
  if [ "$leg" = podman5 ]; then
    # Its own network namespace (locked above): a fixed port is free there.
    export PODSTACK_REGISTRY_PORT=${PODSTACK_REGISTRY_PORT:-5000}
    registry=127.0.0.1:$PODSTACK_REGISTRY_PORT
  else
    say "starting its registry"
    registry=$("$here/registry.sh" start) || { detail="its registry did not start"; finish 1 FAIL; }
  fi
  "$here/registry.sh" registries-conf "$registry" "$regdir/registries.conf" ||
    { detail="could not write its registries.conf"; finish 1 FAIL; }
  export CONTAINERS_REGISTRIES_CONF=$regdir/registries.conf STACK_TEST_REGISTRY=$registry PODSTACK_REQUIRE_REGISTRY=1
fi

say "starting its ${service:-Podman service}"
if ! url=$(start); then
  detail="its ${service:-Podman service} did not start"
  finish 1 FAIL
fi
started=1
say "service at $url ($(elapsed "$t0"))"
if [ "$leg" = podman5 ]; then
  say "starting its registry in the service's network namespace"
  runner "$here/registry.sh" start >/dev/null || { detail="its registry did not start"; finish 1 FAIL; }
fi
[ -n "$regdir" ] && say "registry at $registry"

# What an earlier run killed mid-test left behind (its cleanup never ran):
# e2e-* projects' objects, and aardvark-dns entries a killed service left
# (scripts/clean-leftovers.sh says why they break the next network's names).
clean() { [ "$leg" = kube ] || runner env CONTAINER_HOST="$url" "$here/clean-leftovers.sh" || true; }
clean
if ! runner test -r "$top/go.mod" -a -x "$TESTBIN"; then
  detail="the clone ($top) or $TESTBIN is not readable by the leg's user: give others read access (chmod o+rX)"
  finish 1 FAIL
fi

# The peer suite's count of tests not run (see scripts/peer-report.sh); the
# file must be writable by a rootless leg's user.
export PODSTACK_PEER_REPORT
PODSTACK_PEER_REPORT=$(mktemp)
chmod 666 "$PODSTACK_PEER_REPORT"

args=(-test.count=1 -test.timeout="${TEST_TIMEOUT:-25m}" -test.parallel="${PARALLEL:-3}")
[ -n "${RUN:-}" ] && args+=(-test.run="$RUN")
[ "${V:-}" = 1 ] && args+=(-test.v)
rc=0
detail=
ran=" "
first=1
for entry in "${pkgs[@]}"; do
  run=()
  case $entry in
  *:*) pkg=${entry%%:*} run=(-test.run="${entry#*:}") ;;
  *'!'*) pkg=${entry%%!*} run=(-test.skip="${entry#*!}") ;;
  *) pkg=$entry ;;
  esac
  if [ -n "${RUN:-}" ]; then
    case $ran in *" $pkg "*) continue ;; esac
    ran+="$pkg "
    run=()
  fi
  bin=$TESTBIN/$(echo "$pkg" | tr / -).test
  [ -x "$bin" ] || { say "no test binary $bin: make test-binaries"; rc=1; continue; }
  t1=$SECONDS
  # What the last binary's tests left for Podman to trip on (its cleanup
  # is per test; aardvark-dns entries a failed teardown left are not).
  [ -n "$first" ] || clean
  first=
  # A test binary runs in its package's directory, as go test runs it.
  if (cd "$top/$pkg" && runner "$bin" "${args[@]}" "${run[@]}"); then what=ok; else what=FAILED; rc=1; fi
  name=$pkg
  case $entry in *:*) [ -n "${RUN:-}" ] || name="$pkg $(echo "${entry#*:}" | tr -d '^$')" ;; esac
  detail+="$name $what $(elapsed "$t1"), "
  say "$name: $what in $(elapsed "$t1")"
done
"$here/peer-report.sh" "$PODSTACK_PEER_REPORT"
detail=${detail%, }
if [ $rc = 0 ]; then finish 0 PASS; else finish 1 FAIL; fi
