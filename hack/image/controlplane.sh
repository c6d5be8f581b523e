#!/usr/bin/env bash
# Images of the virtual cluster's control plane for the chart on the real node, as no registry is reachable: the
# project's own etcd, kube-apiserver and kube-controller-manager binaries (hack/controlplane/build.sh) on the local
# Debian base, at the repositories and tags the chart's values name, under vcsync.local/. Skipped when they exist.
# Prints the image references, one per line.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=../controlplane/versions.env
source "$root/hack/controlplane/versions.env"
bin=$(bash "$root/hack/controlplane/build.sh")
base=$(bash "$root/hack/image/base.sh")
for component in "etcd:${ETCD_VERSION#v}-0" "kube-apiserver:$KUBERNETES_VERSION" "kube-controller-manager:$KUBERNETES_VERSION"; do
  name=${component%%:*}
  image="vcsync.local/$component"
  if ! docker image inspect "$image" >/dev/null 2>&1; then
    work=$(mktemp -d)
    cp "$bin/$name" "$work/$name"
    printf 'FROM %s\nCOPY %s /usr/local/bin/%s\nUSER 65532:65532\nENTRYPOINT ["/usr/local/bin/%s"]\n' \
      "$base" "$name" "$name" "$name" >"$work/Dockerfile"
    docker build --quiet -t "$image" "$work" >/dev/null 2>"$work/build.log" || { cat "$work/build.log" >&2; exit 1; }
    rm -rf "$work"
  fi
  echo "$image"
done
