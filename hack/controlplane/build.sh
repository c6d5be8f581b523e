#!/usr/bin/env bash
# Builds the real control-plane binaries (kube-apiserver, kube-controller-manager, kube-scheduler, kubectl,
# etcd, kwok; kubelet and kube-proxy for the opt-in real node) from Go modules into a cache folder keyed by the
# pinned versions, and prints that folder.
# Skips everything when the binaries are already there. Progress goes to stderr.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=versions.env
source "$here/versions.env"
key="k8s-${KUBERNETES_VERSION}_etcd-${ETCD_VERSION}_kwok-${KWOK_VERSION}"
cache_root=${VCSYNC_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vcsync}/controlplane
out="$cache_root/$key/bin"
bins=(kube-apiserver kube-controller-manager kube-scheduler kubectl etcd kwok kubelet kube-proxy)

have_all() { for b in "${bins[@]}"; do [ -x "$1/$b" ] || return 1; done; }
say() { printf '[controlplane %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
# go build -v prints one line per compiled package: show a count every 50 so a long build visibly moves, and
# pass through everything else (compiler errors contain spaces or start with "#").
progress() {
  awk -v what="$1" '/ |^#/ { print > "/dev/stderr"; next }
    { n++; if (n % 50 == 0) { printf "[controlplane] %s: %d packages compiled\n", what, n > "/dev/stderr"; fflush("/dev/stderr") } }'
}

if have_all "$out"; then echo "$out"; exit 0; fi
command -v go >/dev/null || { say "Go is not installed: install Go 1.26+ or set VCSYNC_ASSETS to a folder with the binaries."; exit 3; }
export GOFLAGS="${GOFLAGS:-} -buildvcs=false" CGO_ENABLED=0
minor=${KUBERNETES_VERSION#v1.}; minor=${minor%%.*}
ld="-s -w"
for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ld="$ld -X $p.gitVersion=$KUBERNETES_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean"
  ld="$ld -X $p.buildDate=1970-01-01T00:00:00Z"
done
# kubelet and kube-proxy, for the opt-in real node (syncer/controlplane/node.py)
build_node() {
  say "building kubelet and kube-proxy $KUBERNETES_VERSION"
  (cd "$here/k8s" && go build -v -trimpath -ldflags "$ld" -o "$1/" \
      k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes/cmd/kube-proxy 2>&1) | progress node
}
if [ -x "$out/kube-apiserver" ]; then  # a cache from before the node binaries: add them in place
  build_node "$out"
  have_all "$out" || { say "build incomplete: see the errors above"; exit 1; }
  echo "$out"; exit 0
fi
mkdir -p "$out.partial"

if ! [ -x "$out.partial/kube-apiserver" ] || ! [ -x "$out.partial/kubectl" ]; then
  say "building Kubernetes $KUBERNETES_VERSION (first time: 15-30 minutes on 2 cores)"
  (cd "$here/k8s" && go build -v -trimpath -ldflags "$ld" -o "$out.partial/" \
      k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
      k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl 2>&1) | progress kubernetes
fi
if ! [ -x "$out.partial/kubelet" ] || ! [ -x "$out.partial/kube-proxy" ]; then
  build_node "$out.partial"
fi
if ! [ -x "$out.partial/etcd" ]; then
  say "building etcd $ETCD_VERSION"
  (cd "$here/etcd" && go build -v -trimpath -ldflags "-s -w" -o "$out.partial/etcd" go.etcd.io/etcd/server/v3 2>&1) | progress etcd
fi
if ! [ -x "$out.partial/kwok" ]; then
  say "building kwok $KWOK_VERSION"
  (GOBIN="$out.partial" go install -v -trimpath -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION" 2>&1) | progress kwok
fi
have_all "$out.partial" || { say "build incomplete: see the errors above"; exit 1; }
rm -rf "$out" && mv "$out.partial" "$out"
say "binaries ready in $out"
echo "$out"
