#!/usr/bin/env bash
# Makes this machine able to run podstack's tests and demo: installs Podman
# from the OS packages when it is missing (as root), builds the local test
# image, and probes that a container really runs. Only when the probe fails
# does it change containers.conf, and it says exactly what and why.
set -euo pipefail
log() { echo "setup-podman: $*" >&2; }
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh" # probe_build

need=()
command -v podman >/dev/null || need+=(podman)
command -v runc >/dev/null || need+=(runc)
[ -x /bin/busybox ] || need+=(busybox-static)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    log "missing: ${need[*]}. Run as root, or: sudo apt-get install -y ${need[*]}"
    exit 1
  fi
  log "installing ${need[*]} from the OS packages (apt-get)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  log "installed: $(podman --version)"
else
  log "found $(podman --version)"
fi

"$here/test-image.sh"

# netavark finds its aardvark-dns by the pid in a file and signals whatever
# process holds that pid now. Once aardvark-dns has exited, a test run that
# wraps the kernel's pids (32768 by default: a whole run forks far more)
# hands that pid to another process: netavark signals it instead of starting
# aardvark-dns, and no container name resolves for the rest of the run
# ("nslookup: write to GATEWAY: Connection refused"). A larger pid space
# makes the wrap as unlikely as on a machine that is rebooted now and then.
want_pids=4194304
if [ "$(cat /proc/sys/kernel/pid_max 2>/dev/null || echo "$want_pids")" -lt $want_pids ]; then
  if [ "$(id -u)" = 0 ] && echo $want_pids >/proc/sys/kernel/pid_max 2>/dev/null; then
    log "raised kernel.pid_max to $want_pids: netavark's aardvark-dns pid file must not name a reused pid"
  else
    log "WARNING: kernel.pid_max is $(cat /proc/sys/kernel/pid_max); a long test run may reuse aardvark-dns's pid and lose container DNS (as root: sysctl kernel.pid_max=$want_pids)"
  fi
fi

conf=/etc/containers/containers.conf
# probe: a container runs, and so does a build's RUN step (probe_build).
probe() {
  podman run --rm --network none localhost/busybox:test /bin/sh -c true 2>&1 && probe_build podman
}
# add_setting SECTION LINE: appends LINE under [SECTION] in containers.conf.
add_setting() {
  local section=$1 line=$2
  mkdir -p "$(dirname "$conf")"
  touch "$conf"
  if grep -q "^\[$section\]" "$conf"; then
    sed -i "/^\[$section\]/a $line" "$conf"
  else
    printf '\n[%s]\n%s\n' "$section" "$line" >> "$conf"
  fi
  log "wrote '$line' under [$section] in $conf"
}

for attempt in 1 2 3; do
  if out=$(probe); then
    log "probe container and build ran (attempt $attempt)"
    exit 0
  fi
  log "probe container failed: $out"
  changed=0
  if grep -qiE "hybrid mode|crun" <<<"$out" && ! grep -q '^runtime *= *"runc"' "$conf" 2>/dev/null; then
    log "crun cannot run here (cgroups in hybrid mode): switching the OCI runtime to runc"
    add_setting engine 'runtime = "runc"'
    changed=1
  fi
  if grep -qiE "rlimit|RLIMIT" <<<"$out" && ! grep -q 'default_ulimits' "$conf" 2>/dev/null; then
    log "this sandbox cannot raise rlimits (no CAP_SYS_RESOURCE): setting default ulimits it can grant"
    add_setting containers 'default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]'
    changed=1
  fi
  [ $changed = 1 ] || { log "no known fix for this failure"; exit 1; }
done
log "containers still fail to run"
exit 1
