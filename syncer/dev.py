"""`vcsync dev`: one command from a fresh clone to a working setup. It obtains the binaries (building them once),
starts both clusters, runs `vcsync run` between them (as the sidecar would, into host namespace `vcluster`),
prints ready-to-paste kubeconfig lines, streams the syncer's log, and on Ctrl-C stops every process and removes
its temp state (unless --keep)."""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import sys
import time
from pathlib import Path

from syncer.controlplane import ClusterPair, assets, node
from syncer.controlplane.cluster import free_port
from syncer.controlplane.process import Component

VCLUSTER = "vcluster"  # the vcluster's name, host namespace and host Service, as a chart install would have


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--nodes", type=int, default=3, help="kwok nodes in the host cluster (default 3)")
    parser.add_argument("--keep", action="store_true", help="keep the temp folder (kubeconfigs, logs, etcd data)")
    parser.add_argument("--host-port", type=int, default=0, help="host kube-apiserver port (default: a free one)")
    parser.add_argument("--virtual-port", type=int, default=0, help="virtual kube-apiserver port (default: a free one)")
    parser.add_argument(
        "--real-node",
        action="store_true",
        help="add a real node (containerd, kubelet, kube-proxy; needs root and Docker) for pods that tolerate it",
    )


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
  {kubectl} --kubeconfig {v} get deployment,pods,nodes -o wide   # Available, Running, fake nodes
  {kubectl} --kubeconfig {v} -n kube-system get deployment,service  # CoreDNS and kube-dns, kept by vcsync
  {kubectl} --kubeconfig {h} -n {VCLUSTER} get pods -o wide      # web-...-x-default-x-{VCLUSTER} on kwok nodes
  echo "$(date -u +%FT%TZ) stdout F hello" >> {pair.host.pod_log}   # what every kwok pod logs
  {kubectl} --kubeconfig {v} logs deployment/web                 # through vcsync's kubelet endpoint
  {kubectl} --kubeconfig {v} exec deployment/web -- echo hello   # runs on this machine, as kwok does

{_real_node_text(pair, kubectl)}Component logs: {pair.workdir}/{{host,virtual}}/logs/
Ctrl-C stops everything{"" if pair.keep else " and removes " + str(pair.workdir)}.
"""


def _real_node_text(pair: ClusterPair, kubectl: str) -> str:
    real = pair.host.real_node
    if real is None:
        return ""
    overrides = json.dumps({"spec": {"nodeSelector": node.NODE_SELECTOR, "tolerations": [node.TOLERATION]}})
    return f"""Real node {node.NAME} ({real.ip}): real containers for pods that tolerate {node.TAINT}; images come from
this machine's Docker (no registry), e.g. {real.images[-1]}:
  {kubectl} --kubeconfig {pair.virtual.kubeconfig} run web --image={real.images[-1]} --image-pull-policy=Never \\
    --overrides='{overrides}' -- python3 -m http.server 8080

"""


def run(args: argparse.Namespace) -> int:
    if args.nodes < 0:
        raise assets.ControlPlaneError("--nodes must be 0 or more")
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even when started with SIGINT ignored
    signal.signal(signal.SIGTERM, _raise_interrupt)
    binaries = assets.ensure(real_node=args.real_node)
    images = node.local_images() if args.real_node else None
    pair = ClusterPair(
        nodes=args.nodes,
        host_port=args.host_port,
        virtual_port=args.virtual_port,
        keep=args.keep,
        binaries=binaries,
        real_node_images=images,
    )
    syncer: Component | None = None
    try:
        print(f"vcsync dev: starting host and virtual clusters in {pair.workdir} ...", file=sys.stderr, flush=True)
        started = time.monotonic()
        pair.start()
        syncer = _start_syncer(pair)
        version = pair.virtual.version()["gitVersion"]
        print(_usage_text(pair, version), flush=True)
        print(
            f"vcsync dev: ready in {time.monotonic() - started:.1f}s; syncer log follows", file=sys.stderr, flush=True
        )
        _follow(pair, syncer)
    except KeyboardInterrupt:
        print("\nvcsync dev: stopping ...", file=sys.stderr, flush=True)
    finally:
        if syncer is not None:
            syncer.stop()
        pair.stop()
    print("vcsync dev: stopped" + (f"; state kept in {pair.workdir}" if args.keep else ""), file=sys.stderr)
    return 0


def _start_syncer(pair: ClusterPair) -> Component:
    """`vcsync run` between the clusters, into host namespace `vcluster` next to a `vcluster` Service, keeping a
    CoreDNS in the virtual cluster as the chart does (pods get its `kube-system/kube-dns` host copy's IP)."""
    pair.host.api("POST", "/api/v1/namespaces", {"metadata": {"name": VCLUSTER}})
    service = {"metadata": {"name": VCLUSTER}, "spec": {"ports": [{"name": "https", "port": 443}]}}
    pair.host.api("POST", f"/api/v1/namespaces/{VCLUSTER}/services", service)
    ports = (free_port(), free_port(), free_port())
    argv = pair.syncer_argv(VCLUSTER, VCLUSTER, *ports, "--coredns", "--log-format=console")
    syncer = Component("vcsync", argv, pair.workdir / "vcsync.log", stop_grace=25)
    syncer.start()
    return syncer


def _follow(pair: ClusterPair, syncer: Component) -> None:
    """Stream the syncer's log until interrupted; any component dying is an error worth stopping for."""
    with Path(syncer.log_path).open("rb") as log:
        while True:
            sys.stdout.write(log.read().decode(errors="replace"))
            sys.stdout.flush()
            syncer.check_running()
            for cluster in pair.clusters:
                for component in cluster.components.values():
                    component.check_running()
            if pair.host.real_node:
                pair.host.real_node.check_running()
            time.sleep(0.5)
