#!/usr/bin/env bash
# Says, loudly, how many peer tests (podman-compose's fixtures) a test run
# could not run because the peer suite was absent: go test hides the output
# of passing packages, so the tests append their counts to FILE.
#   scripts/peer-report.sh FILE
set -euo pipefail
file=${1:?usage: $0 FILE}
[ -s "$file" ] || { rm -f "$file"; exit 0; }
n=$(awk '{s += $1} END {print s + 0}' "$file")
rm -f "$file"
[ "$n" -gt 0 ] || exit 0
cat >&2 <<MSG

************************************************************************
  $n peer tests NOT RUN: podman-compose's integration fixtures were not
  found. Point PODSTACK_PEER_CORPUS at podman-compose's tests/integration
  directory to run them (CI does, with PODSTACK_REQUIRE_PEER=1).
************************************************************************

MSG
