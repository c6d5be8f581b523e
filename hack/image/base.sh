#!/usr/bin/env bash
# Makes the image's base locally, since no container registry is reachable: Debian bookworm (Python 3.11 with its
# venv module) made by debootstrap from Debian's packages, trimmed and `docker import`ed. The root filesystem is
# cached as a tarball keyed by this script, so a fresh Docker engine only imports it. Prints the image reference.
set -euo pipefail
key=$(sha256sum "$0" | cut -c1-12)
image="vcsync-base:bookworm-$key"
cache=${VCSYNC_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vcsync}/image
tarball="$cache/base-$key.tar"
say() { printf '[image %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

if docker image inspect "$image" >/dev/null 2>&1; then echo "$image"; exit 0; fi
if ! [ -s "$tarball" ]; then
  command -v debootstrap >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap >/dev/null
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  say "debootstrap bookworm (about a minute)"
  debootstrap --variant=minbase --include=python3,python3-venv bookworm "$work/root" http://deb.debian.org/debian \
    >"$work/debootstrap.log" 2>&1 || { tail -20 "$work/debootstrap.log" >&2; exit 1; }
  rm -rf "$work/root"/var/cache/apt/* "$work/root"/var/lib/apt/lists/* "$work/root"/var/log/* \
    "$work/root"/usr/share/{doc,man,info,locale}/*
  mkdir -p "$cache"
  tar -C "$work/root" --numeric-owner -cf "$tarball.partial" . && mv "$tarball.partial" "$tarball"
fi
say "importing $image"
docker import --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8' \
  --change 'CMD ["/bin/bash"]' "$tarball" "$image" >/dev/null
echo "$image"
