#!/usr/bin/env bash
# CoreDNS for the real node, as no registry is reachable: built from its Go module (static, cached by version in
# ~/.cache/vcsync/tools) into an image FROM scratch, tag vcsync.local/coredns:<version>. vcsync's --coredns
# Deployment runs it there with --coredns-image. Skipped when the image exists; prints the tag.
set -euo pipefail
version=v1.14.2  # the version --coredns-image names by default
image="vcsync.local/coredns:${version#v}"
if docker image inspect "$image" >/dev/null 2>&1; then echo "$image"; exit 0; fi
tools=${VCSYNC_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vcsync}/tools/coredns-$version
if ! [ -x "$tools/coredns" ]; then
  echo "[image] building CoreDNS $version (about 2 minutes)" >&2
  GOBIN="$tools.partial" CGO_ENABLED=0 GOFLAGS=-buildvcs=false \
    go install -trimpath -ldflags "-s -w" "github.com/coredns/coredns@$version" >&2
  rm -rf "$tools" && mv "$tools.partial" "$tools"
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$tools/coredns" "$work/coredns"
printf 'FROM scratch\nCOPY coredns /coredns\nUSER 65532:65532\nENTRYPOINT ["/coredns"]\n' >"$work/Dockerfile"
docker build --quiet -t "$image" "$work" >/dev/null 2>"$work/build.log" || { cat "$work/build.log" >&2; exit 1; }
echo "$image"
