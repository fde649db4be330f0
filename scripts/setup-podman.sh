#!/usr/bin/env bash
# Makes this machine able to run podstack's tests and demo: installs Podman
# from the OS packages when it is missing (as root), builds the local test
# image, and probes that a container really runs. Only when the probe fails
# does it change containers.conf, and it says exactly what and why.
set -euo pipefail
log() { echo "setup-podman: $*" >&2; }
here=$(cd "$(dirname "$0")" && pwd)

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

conf=/etc/containers/containers.conf
probe() { podman run --rm --network none localhost/busybox:test /bin/sh -c true 2>&1; }
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
    log "probe container ran (attempt $attempt)"
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
