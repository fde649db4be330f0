# Shell functions the scripts share; each sources it from its own directory:
#   . "$(dirname "$0")/lib.sh"

# alive PID: PID runs. A zombie does not, though kill -0 says yes to one: a
# machine whose init reaps slowly keeps the zombies of a killed run for a
# while, and Podman, netavark and these scripts must not take them for live.
alive() { local st; st=$(ps -o stat= -p "$1" 2>/dev/null) && [ -n "$st" ] && [ "${st#Z}" = "$st" ]; }

# probe_build PODMAN...: a build with a RUN step works with the podman
# command given (its words, the last lines of the build's output, where it
# does not). Buildah asks for other rlimits than a container's run does:
# rootful, an open-files limit of 1048576 whatever the service's own, which
# a host without CAP_SYS_RESOURCE refuses ("error setting rlimit type 7:
# operation not permitted") while every container runs.
probe_build() {
  local dir rc=0
  dir=$(mktemp -d)
  printf 'FROM localhost/busybox:test\nRUN true\n' >"$dir/Containerfile"
  # Not -q: the runtime's words are in the build's output, not its error.
  "$@" build --network none -t localhost/podstack-probe:build "$dir" >"$dir/out" 2>&1 || rc=$?
  "$@" rmi -f localhost/podstack-probe:build >/dev/null 2>&1 || true
  [ $rc = 0 ] || tail -8 "$dir/out"
  rm -rf "$dir"
  return $rc
}
