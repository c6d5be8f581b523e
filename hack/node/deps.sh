#!/usr/bin/env bash
# What the real node (syncer/controlplane/node.py) needs from Debian: containerd and runc (with docker.io), the CNI
# plugins, iptables and conntrack for kube-proxy. Installs what is missing (root); the Docker engine itself comes
# from hack/image/dockerd.sh.
set -euo pipefail
missing=()
command -v containerd >/dev/null || missing+=(containerd)
command -v runc >/dev/null || missing+=(runc)
[ -x /usr/lib/cni/bridge ] || missing+=(containernetworking-plugins)
command -v iptables >/dev/null || missing+=(iptables)
command -v conntrack >/dev/null || missing+=(conntrack)
if [ ${#missing[@]} -gt 0 ]; then
  [ "$(id -u)" = 0 ] || { echo "the real node needs root to install: ${missing[*]}" >&2; exit 1; }
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null
fi
