#!/usr/bin/env bash
# The sandbox ("pause") image for the real node, built here since no registry is reachable: Kubernetes' own
# pause.c from the pinned k8s.io/kubernetes module, compiled static with gcc (libc6-dev), in an image FROM scratch.
# Tag vcsync.local/pause:3.10.2 (syncer/controlplane/node.py names it); skipped when it exists. Prints the tag.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
image=vcsync.local/pause:3.10.2
if docker image inspect "$image" >/dev/null 2>&1; then echo "$image"; exit 0; fi
# shellcheck source=../controlplane/versions.env
source "$root/hack/controlplane/versions.env"
module=$(cd "$root/hack/controlplane/k8s" && go mod download -json "k8s.io/kubernetes@$KUBERNETES_VERSION" |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["Dir"])')
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
gcc -Os -Wall -Werror -static -DVERSION="v3.10.2-vcsync" -o "$work/pause" "$module/build/pause/linux/pause.c"
strip "$work/pause"
printf 'FROM scratch\nCOPY pause /pause\nUSER 65535:65535\nENTRYPOINT ["/pause"]\n' >"$work/Dockerfile"
docker build --quiet -t "$image" "$work" >/dev/null 2>"$work/build.log" || { cat "$work/build.log" >&2; exit 1; }
echo "$image"
