"""`vcsync dev`: one command from a fresh clone to a running host + virtual cluster pair. It obtains the
binaries (building them once), starts both clusters, prints ready-to-paste kubeconfig lines, and on Ctrl-C
stops every process and removes its temp state (unless --keep)."""

from __future__ import annotations

import argparse
import shutil
import signal
import sys
import time

from syncer.controlplane import ClusterPair, assets


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--nodes", type=int, default=3, help="kwok nodes in the host cluster (default 3)")
    parser.add_argument("--keep", action="store_true", help="keep the temp folder (kubeconfigs, logs, etcd data)")
    parser.add_argument("--host-port", type=int, default=0, help="host kube-apiserver port (default: a free one)")
    parser.add_argument("--virtual-port", type=int, default=0, help="virtual kube-apiserver port (default: a free one)")


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _usage_text(pair: ClusterPair, version: str) -> str:
    kubectl = shutil.which("kubectl") or str(pair.binaries["kubectl"])
    v, h = pair.virtual.kubeconfig, pair.host.kubeconfig
    return f"""
vcsync dev: host and virtual clusters are running (Kubernetes {version}).

  # the virtual cluster, where tenants work:
  export KUBECONFIG={v}
  # the host cluster, where their pods run:
  export KUBECONFIG={h}

Try:
  {kubectl} --kubeconfig {v} create deployment web --image=nginx --replicas=2
  {kubectl} --kubeconfig {v} get pods -A
  {kubectl} --kubeconfig {h} get nodes -L pool

Component logs: {pair.workdir}/{{host,virtual}}/logs/
Ctrl-C stops everything{"" if pair.keep else " and removes " + str(pair.workdir)}.
"""


def run(args: argparse.Namespace) -> int:
    if args.nodes < 0:
        raise assets.ControlPlaneError("--nodes must be 0 or more")
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even when started with SIGINT ignored
    signal.signal(signal.SIGTERM, _raise_interrupt)
    binaries = assets.ensure()
    pair = ClusterPair(
        nodes=args.nodes, host_port=args.host_port, virtual_port=args.virtual_port, keep=args.keep, binaries=binaries
    )
    try:
        print(f"vcsync dev: starting host and virtual clusters in {pair.workdir} ...", file=sys.stderr, flush=True)
        started = time.monotonic()
        pair.start()
        version = pair.virtual.version()["gitVersion"]
        print(_usage_text(pair, version), flush=True)
        print(f"vcsync dev: ready in {time.monotonic() - started:.1f}s", file=sys.stderr, flush=True)
        _watch_components(pair)
    except KeyboardInterrupt:
        print("\nvcsync dev: stopping ...", file=sys.stderr, flush=True)
    finally:
        pair.stop()
    print("vcsync dev: stopped" + (f"; state kept in {pair.workdir}" if args.keep else ""), file=sys.stderr)
    return 0


def _watch_components(pair: ClusterPair) -> None:
    """Block until interrupted; a component that dies is an error worth stopping for."""
    while True:
        for cluster in pair.clusters:
            for component in cluster.components.values():
                component.check_running()
        time.sleep(1)
