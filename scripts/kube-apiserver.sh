#!/usr/bin/env bash
# A real Kubernetes API server (kube-apiserver + etcd) on 127.0.0.1, for the
# export tests: what `stack export kube` writes must be accepted by the server
# itself, not only decode strictly.
#
#   scripts/kube-apiserver.sh start    build when needed, start, print the kubeconfig path
#   scripts/kube-apiserver.sh stop     stop what `start` started and wipe its etcd data
#   scripts/kube-apiserver.sh status   exit 0 when the server answers /readyz
#   scripts/kube-apiserver.sh build    build (or find cached) binaries only
#   scripts/kube-apiserver.sh bindir   print the directory holding kubectl
#   scripts/kube-apiserver.sh lockfile print a file to flock while using the
#                                      server (make test-kube does: two runs
#                                      on one machine take turns)
#
# Everything is built from the Go module proxy with the ordinary go client:
# kube-apiserver and kubectl from k8s.io/kubernetes (through a small wrapper
# module, because that module's go.mod points its staging modules at local
# directories), etcd from go.etcd.io/etcd/server/v3. The binaries are cached
# outside the clone, keyed by version, in ${PODSTACK_CACHE:-~/.cache/podstack}/kube;
# delete that directory to force a rebuild. A cold build takes about 20 minutes
# on two cores (peak 2.3 GB of memory); with Go's build cache warm it relinks in
# about a minute; once cached, start to ready is a few seconds.
#
# The server only validates, admits and stores objects: no controller-manager,
# scheduler or kubelet runs. So admission plugins that wait on a controller are
# off (ServiceAccount: no default account is ever made; StorageObjectInUseProtection:
# its finalizer would hang PVC deletes), and a deleted namespace stays Terminating:
# tests use a fresh namespace each. Authorization is AlwaysAllow behind a random
# token and a self-made certificate; it listens on 127.0.0.1 only.
#
# Settings (environment): PODSTACK_CACHE, PODSTACK_KUBE_RUN (state: certificates,
# etcd data, logs, PIDs; default $cache/kube/run), PODSTACK_KUBE_PORT (API, 26443),
# PODSTACK_ETCD_PORT (client port 26379; peer and metrics use the next two),
# KUBE_VERSION (1.37.2), ETCD_VERSION (3.7.0).
set -euo pipefail

K8S=${KUBE_VERSION:-1.37.2}
ETCDV=${ETCD_VERSION:-3.7.0}
cache=${PODSTACK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/podstack}/kube
bin=$cache/bin
run=${PODSTACK_KUBE_RUN:-$cache/run}
pki=$run/pki
api_port=${PODSTACK_KUBE_PORT:-26443}
etcd_port=${PODSTACK_ETCD_PORT:-26379}
apiserver=$bin/kube-apiserver-v$K8S
kubectl=$bin/kubectl-v$K8S
etcd=$bin/etcd-v$ETCDV

log() { echo "kube-apiserver.sh: $*" >&2; }
die() { log "$*"; exit 1; }

# gobuild OUT PKG LDFLAGS: build one command into the cache, atomically, at low priority.
gobuild() {
  local t0=$SECONDS
  nice -n 10 go build -trimpath -ldflags="$3" -o "$1.tmp" "$2" >>build.log 2>&1 || return 1
  mv "$1.tmp" "$1"
  log "built $(basename "$1") in $((SECONDS - t0)) s"
}

build_etcd() {
  [ -x "$etcd" ] && return 0
  log "building etcd v$ETCDV (once per machine: about 2 minutes cold)"
  local w=$cache/src/etcd-v$ETCDV
  mkdir -p "$w"
  ( cd "$w"
    [ -f go.mod ] || printf 'module podstack.local/etcd\n\ngo 1.26\n' > go.mod
    go get "go.etcd.io/etcd/server/v3@v$ETCDV" >build.log 2>&1
    gobuild "$etcd" go.etcd.io/etcd/server/v3 "-s -w"
  ) || { tail -20 "$w/build.log" >&2; die "etcd build failed (log: $w/build.log)"; }
}

build_kube() {
  [ -x "$apiserver" ] && [ -x "$kubectl" ] && return 0
  log "building kube-apiserver and kubectl v$K8S (once per machine: about 20 minutes cold, 1 minute to relink)"
  local w=$cache/src/k8s-v$K8S minor=${K8S#*.}
  local staging=v0.$minor # k8s.io/kubernetes v1.37.2 publishes its staging modules as v0.37.2
  mkdir -p "$w"
  ( cd "$w"
    if [ ! -f go.mod ]; then
      # A wrapper that requires k8s.io/kubernetes and replaces each of its
      # "./staging/..." modules with the published one of the same release.
      local dir
      dir=$(go mod download -json "k8s.io/kubernetes@v$K8S" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
      [ -f "$dir/go.mod" ] || exit 1
      { printf 'module podstack.local/k8s\n\ngo 1.26.0\n\ngodebug default=go1.26\n\nrequire k8s.io/kubernetes v%s\n\nreplace (\n' "$K8S"
        awk -v v="$staging" '$2 == "=>" && $3 ~ /^\.\/staging\// {print "\t" $1 " => " $1 " " v}' "$dir/go.mod"
        printf ')\n'
      } > go.mod.tmp
      mv go.mod.tmp go.mod
    fi
    # set -e does not hold inside a subshell that is the left side of ||:
    # each step fails the subshell itself.
    go get "k8s.io/kubernetes/cmd/kube-apiserver@v$K8S" "k8s.io/kubernetes/cmd/kubectl@v$K8S" >build.log 2>&1 || exit 1
    # Without the version stamp the server reports v0.0.0-master.
    local X=k8s.io/component-base/version
    local ld="-s -w -X $X.gitVersion=v$K8S -X $X.gitMajor=${K8S%%.*} -X $X.gitMinor=${minor%%.*} -X $X.gitTreeState=clean"
    [ -x "$apiserver" ] || gobuild "$apiserver" k8s.io/kubernetes/cmd/kube-apiserver "$ld" || exit 1
    [ -x "$kubectl" ] || gobuild "$kubectl" k8s.io/kubernetes/cmd/kubectl "$ld" || exit 1
  ) || { tail -20 "$w/build.log" >&2; die "kube-apiserver build failed (log: $w/build.log)"; }
}

build() {
  command -v go >/dev/null || die "go is needed to build the server binaries"
  export CGO_ENABLED=0 GOFLAGS="-p=2 -buildvcs=false"
  mkdir -p "$bin"
  build_etcd
  build_kube
  ln -sf "kubectl-v$K8S" "$bin/kubectl"
}

# running NAME BINARY: the PID recorded for NAME is alive and runs BINARY.
running() {
  local f=$run/$1.pid p
  [ -f "$f" ] || return 1
  p=$(cat "$f")
  [ -r "/proc/$p/cmdline" ] && tr '\0' ' ' <"/proc/$p/cmdline" | grep -qF "$2"
}

token() { cat "$pki/token"; }

ready() {
  curl -sf --max-time 2 --cacert "$pki/ca.crt" -H "Authorization: Bearer $(token)" \
    "https://127.0.0.1:$api_port/readyz" >/dev/null 2>&1
}

certificates() {
  [ -f "$pki/token" ] && return 0
  command -v openssl >/dev/null || die "openssl is needed for the server's certificates"
  mkdir -p "$pki"
  ( cd "$pki"
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj /CN=podstack-test-ca -keyout ca.key -out ca.crt
    openssl req -newkey rsa:2048 -nodes -subj /CN=kube-apiserver -keyout apiserver.key -out apiserver.csr
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes.default.svc\n' > san.ext
    openssl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 -extfile san.ext -out apiserver.crt
    openssl genrsa -out sa.key 2048
    openssl rsa -in sa.key -pubout -out sa.pub
    local t
    t=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
    echo "$t,admin,admin,system:masters" > tokens.csv
    (umask 077; echo "$t" > token)
  ) 2>/dev/null || die "could not make certificates in $pki"
}

start() {
  local t0=$SECONDS
  build
  mkdir -p "$run"
  certificates
  if ! running etcd "$etcd"; then
    rm -rf "$run/etcd-data"
    local peer=$((etcd_port + 1)) metrics=$((etcd_port + 2))
    setsid "$etcd" --name podstack --data-dir "$run/etcd-data" \
      --listen-client-urls "http://127.0.0.1:$etcd_port" --advertise-client-urls "http://127.0.0.1:$etcd_port" \
      --listen-peer-urls "http://127.0.0.1:$peer" --initial-advertise-peer-urls "http://127.0.0.1:$peer" \
      --initial-cluster "podstack=http://127.0.0.1:$peer" --listen-metrics-urls "http://127.0.0.1:$metrics" \
      --quota-backend-bytes=1073741824 --unsafe-no-fsync >"$run/etcd.log" 2>&1 </dev/null &
    echo $! > "$run/etcd.pid"
  fi
  if ! running apiserver "$apiserver"; then
    setsid "$apiserver" --bind-address=127.0.0.1 --advertise-address=127.0.0.1 --secure-port="$api_port" \
      --etcd-servers="http://127.0.0.1:$etcd_port" --service-cluster-ip-range=10.96.0.0/12 \
      --tls-cert-file="$pki/apiserver.crt" --tls-private-key-file="$pki/apiserver.key" \
      --token-auth-file="$pki/tokens.csv" --authorization-mode=AlwaysAllow --allow-privileged=true \
      --service-account-key-file="$pki/sa.pub" --service-account-signing-key-file="$pki/sa.key" \
      --service-account-issuer=https://kubernetes.default.svc \
      --disable-admission-plugins=ServiceAccount,StorageObjectInUseProtection \
      --endpoint-reconciler-type=none --profiling=false >"$run/apiserver.log" 2>&1 </dev/null &
    echo $! > "$run/apiserver.pid"
  fi
  local i
  for i in $(seq 1 240); do
    ready && break
    running etcd "$etcd" || { tail -20 "$run/etcd.log" >&2; die "etcd exited (log: $run/etcd.log)"; }
    running apiserver "$apiserver" || { tail -20 "$run/apiserver.log" >&2; die "kube-apiserver exited (log: $run/apiserver.log)"; }
    sleep 0.5
  done
  ready || die "kube-apiserver not ready after 120 s (log: $run/apiserver.log)"
  (umask 077; cat > "$run/kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: podstack-test
  cluster: {server: "https://127.0.0.1:$api_port", certificate-authority: "$pki/ca.crt"}
users:
- name: admin
  user: {token: "$(token)"}
contexts:
- name: podstack-test
  context: {cluster: podstack-test, user: admin, namespace: default}
current-context: podstack-test
EOF
  )
  log "ready on https://127.0.0.1:$api_port in $((SECONDS - t0)) s (kube-apiserver v$K8S, etcd v$ETCDV)"
  echo "$run/kubeconfig"
}

stop() {
  local n b p
  for n in apiserver etcd; do
    b=$apiserver
    [ "$n" = etcd ] && b=$etcd
    if running "$n" "$b"; then
      p=$(cat "$run/$n.pid")
      kill "$p"
      for _ in $(seq 1 40); do [ -d "/proc/$p" ] || break; sleep 0.25; done
      [ -d "/proc/$p" ] && kill -9 "$p"
      log "stopped $n (pid $p)"
    fi
    rm -f "$run/$n.pid"
  done
  rm -rf "$run/etcd-data"
}

case ${1:-} in
  start) start ;;
  stop) stop ;;
  status) [ -f "$pki/token" ] && ready ;;
  build) build ;;
  bindir) echo "$bin" ;;
  lockfile) mkdir -p "$run" && echo "$run.lock" ;;
  *) echo "usage: $0 start|stop|status|build|bindir|lockfile" >&2; exit 2 ;;
esac
