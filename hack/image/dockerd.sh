#!/usr/bin/env bash
# Makes sure a Docker engine answers: installs Debian's docker.io when dockerd is missing and starts the daemon in
# the background when it is not running (there is no systemd here). Its log goes to the cache folder.
set -euo pipefail
cache=${VCSYNC_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vcsync}/docker
say() { printf '[dockerd %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

docker info >/dev/null 2>&1 && exit 0
if ! command -v dockerd >/dev/null; then
  say "installing Debian's docker.io"
  [ "$(id -u)" = 0 ] || { say "dockerd is not installed and installing it needs root"; exit 1; }
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q docker.io >/dev/null
fi
mkdir -p "$cache"
say "starting dockerd (log: $cache/dockerd.log)"
nohup dockerd >"$cache/dockerd.log" 2>&1 &
for _ in $(seq 120); do
  docker info >/dev/null 2>&1 && exit 0
  sleep 0.5
done
say "dockerd did not answer within 60 s:"; tail -20 "$cache/dockerd.log" >&2
exit 1
