#!/usr/bin/env bash
# Builds the local test image localhost/busybox:test from busybox-static (no
# registry is needed), and tags it under the names the podman-compose
# fixtures use, so they run offline.
set -euo pipefail

IMAGE=localhost/busybox:test
ALIASES=(
  docker.io/library/busybox:latest
  docker.io/library/alpine:latest
  docker.io/nopush/podman-compose-test:latest
  localhost/nopush/podman-compose-test:latest
  localhost/podman-compose-up-down-test:latest
  docker.io/library/debian:up-down-test
)
BUSYBOX=${BUSYBOX:-/bin/busybox}
log() { echo "test-image: $*" >&2; }

[ -x "$BUSYBOX" ] || { log "no static busybox at $BUSYBOX (apt-get install -y busybox-static)"; exit 1; }

# The image is rebuilt only when busybox or this script changed.
stamp=$( (sha256sum "$BUSYBOX" "$0") | sha256sum | cut -c1-16)
if [ "$(podman image inspect --format '{{index .Labels "podstack.test-image"}}' "$IMAGE" 2>/dev/null || true)" = "$stamp" ]; then
  log "$IMAGE is current"
else
  root=$(mktemp -d)
  trap 'rm -rf "$root"' EXIT
  mkdir -p "$root"/{bin,sbin,etc,tmp,var/www,var/log,root,home,proc,sys,dev,run,data,usr/bin,usr/sbin}
  chmod 1777 "$root/tmp"
  cp "$BUSYBOX" "$root/bin/busybox"
  for applet in $("$BUSYBOX" --list); do
    [ -e "$root/bin/$applet" ] || ln -s busybox "$root/bin/$applet"
  done
  # podman-compose's fixtures wrap commands in dumb-init: a shim runs them.
  printf '#!/bin/sh\nexec "$@"\n' > "$root/bin/dumb-init"
  chmod 755 "$root/bin/dumb-init"
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' > "$root/etc/passwd"
  printf 'root:x:0:\nnobody:x:65534:\n' > "$root/etc/group"
  echo '<h1>podstack test image</h1>' > "$root/var/www/index.html"
  tar -C "$root" -cf "$root.tar" .
  podman import --quiet --change 'ENV PATH=/usr/sbin:/usr/bin:/sbin:/bin' --change 'CMD ["/bin/sh"]' \
    --change "LABEL podstack.test-image=$stamp" "$root.tar" "$IMAGE" >/dev/null
  rm -f "$root.tar"
  log "built $IMAGE from $BUSYBOX"
fi
for a in "${ALIASES[@]}"; do
  podman tag "$IMAGE" "$a"
done
log "tagged $IMAGE as ${ALIASES[*]}"
