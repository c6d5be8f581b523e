#!/usr/bin/env bash
# Builds the pinned `helm` (for the chart tests and `helm install` from a checkout) with `go install` into a cache
# folder keyed by its version, next to the control-plane binaries, and prints the binary's path. No Docker and no
# release download is needed: only Go and the Go module proxy. Skips the build when the binary is already there.
# Progress and errors go to stderr.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=versions.env
source "$here/versions.env"
out="${VCSYNC_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vcsync}/tools/helm-${HELM_VERSION}"
say() { printf '[helm %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

if [ -x "$out/helm" ]; then echo "$out/helm"; exit 0; fi
command -v go >/dev/null || { say "Go is not installed: install Go 1.26+ to build helm ${HELM_VERSION}."; exit 3; }
say "building helm ${HELM_VERSION} (first time: a few minutes)"
rm -rf "$out.partial" && mkdir -p "$out.partial"
export GOFLAGS="${GOFLAGS:-} -buildvcs=false" CGO_ENABLED=0
# helm takes its version, and the Kubernetes version `helm template`/`lint` assume without --kube-version, from
# ldflags that `go install` does not set by itself; the latter follows the client-go helm is built with.
gomod=$(go mod download -json "helm.sh/helm/v3@${HELM_VERSION}" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
minor=$(awk '$1 == "k8s.io/client-go" { split($2, v, "."); print v[2] }' "$gomod")
ld="-s -w -X helm.sh/helm/v3/internal/version.version=${HELM_VERSION}"
for p in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do
  ld="$ld -X $p.k8sVersionMajor=1 -X $p.k8sVersionMinor=${minor:-20}"
done
GOBIN="$out.partial" go install -trimpath -ldflags "$ld" "helm.sh/helm/v3/cmd/helm@${HELM_VERSION}"
[ -x "$out.partial/helm" ] || { say "build incomplete: see the errors above"; exit 1; }
rm -rf "$out" && mv "$out.partial" "$out"
say "helm ready in $out"
echo "$out/helm"
