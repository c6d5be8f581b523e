"""A host cluster and a virtual cluster side by side in one temp folder: what tests, `vcsync dev` and the
benchmarks all run against. Both API servers start in parallel; the folder is removed on stop (unless kept),
and folders left by a killed run are swept at the next start."""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
from pathlib import Path

from syncer.controlplane import assets
from syncer.controlplane.cluster import Cluster
from syncer.controlplane.pki import KUBELET_CLIENT_USER

WORKDIR_PREFIX = "vcsync-cp-"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_stale_workdirs(parent: Path) -> None:
    """Remove control-plane folders whose owning process is gone (its children died with it)."""
    for d in parent.glob(f"{WORKDIR_PREFIX}*"):
        try:
            owner = int((d / "owner.pid").read_text())
        except (OSError, ValueError):
            continue
        if not _pid_alive(owner):
            shutil.rmtree(d, ignore_errors=True)


class ClusterPair:
    def __init__(
        self,
        nodes: int = 3,
        host_port: int = 0,
        virtual_port: int = 0,
        keep: bool = False,
        binaries: dict[str, Path] | None = None,
        real_node_images: list[str] | None = None,
    ) -> None:
        """`real_node_images`: a real node (node.py) joins the host cluster, with these local Docker images."""
        self.keep = keep
        self.binaries = binaries or assets.locate(real_node=bool(real_node_images))
        parent = Path(tempfile.gettempdir())
        sweep_stale_workdirs(parent)
        self.workdir = Path(tempfile.mkdtemp(prefix=WORKDIR_PREFIX, dir=parent))
        try:
            (self.workdir / "owner.pid").write_text(str(os.getpid()))
            reachable = bool(real_node_images)
            self.host = Cluster(
                "host",
                self.workdir,
                self.binaries,
                nodes=nodes,
                port=host_port,
                real_node_images=real_node_images,
                pod_reachable=reachable,
            )
            self.virtual = Cluster("virtual", self.workdir, self.binaries, port=virtual_port, pod_reachable=reachable)
        except BaseException:
            shutil.rmtree(self.workdir, ignore_errors=True)
            raise

    @property
    def clusters(self) -> tuple[Cluster, Cluster]:
        return self.host, self.virtual

    def start(self) -> ClusterPair:
        try:
            for c in self.clusters:
                c.prepare()
                c.start_storage_and_apiserver()
            for c in self.clusters:
                c.wait_apiserver()
                c.start_controllers()
            self.host.create_nodes()
            for c in self.clusters:
                c.wait_controllers()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for c in self.clusters:
            c.stop()
        if not self.keep:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def syncer_argv(
        self, name: str, namespace: str, health_port: int, metrics_port: int, kubelet_port: int, *args: str
    ) -> list[str]:
        """`vcsync run` between this pair, as `vcsync dev`, the tests and the benchmarks all start it: its kubelet
        endpoint on loopback and on the socket the virtual API server's egress selector names."""
        assert self.virtual.pki
        return [
            sys.executable,
            "-m",
            "syncer.cli",
            "run",
            f"--virtual-kubeconfig={self.virtual.kubeconfig}",
            f"--host-kubeconfig={self.host.kubeconfig}",
            f"--name={name}",
            f"--own-namespace={namespace}",
            f"--health-bind-address=127.0.0.1:{health_port}",
            f"--metrics-bind-address=127.0.0.1:{metrics_port}",
            f"--kubelet-bind-address=127.0.0.1:{kubelet_port}",
            "--kubelet-address=127.0.0.1",
            f"--kubelet-egress-socket={self.virtual.kubelet_egress_socket}",
            f"--kubelet-apiserver-user={KUBELET_CLIENT_USER}",
            f"--kubelet-tls-cert-file={self.virtual.pki.kubelet_serving_cert}",
            f"--kubelet-tls-private-key-file={self.virtual.pki.kubelet_serving_key}",
            *args,
        ]

    def log_tails(self, lines: int = 20) -> dict[str, str]:
        return {**self.host.log_tails(lines), **self.virtual.log_tails(lines)}

    def __enter__(self) -> ClusterPair:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(Exception):
            self.stop()
