"""One local Kubernetes control plane, on loopback and free ports, in one folder: etcd, kube-apiserver and
kube-controller-manager, plus kube-scheduler and kwok-driven nodes for the host role. Synchronous on purpose:
it only starts processes and polls /readyz, so it works the same from pytest fixtures, `vcsync dev` and bench."""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import shutil
import socket
import ssl
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from syncer.controlplane import node
from syncer.controlplane.pki import Pki, write_kubeconfig, write_pki
from syncer.controlplane.process import Component
from syncer.kube.client import connect

SERVICE_CIDR = "10.96.0.0/16"  # shared by host and virtual, so host ClusterIPs can be imposed on virtual Services
SERVICE_IP = "10.96.0.1"
CLUSTER_DOMAIN = "cluster.local"
API_AUDIENCES = (
    ",".join(f"https://kubernetes.default.svc{s}" for s in (f".{CLUSTER_DOMAIN}", "")) + ",https://kubernetes.default"
)
# What a virtual cluster must not run (SPEC §1 deployment prerequisites): vcsync plays these parts.
VIRTUAL_DISABLED_CONTROLLERS = (
    "nodeipam",
    "persistentvolume-binder",
    "attachdetach",
    "persistentvolume-expander",
    "cloud-node-lifecycle",
    "ttl",
)
KWOK_CONFIG = Path(__file__).parent / "kwok" / "kwok.yaml"
NODE_POOLS = ("a", "b", "c")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def check_port_free(port: int) -> int:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError as e:
            from syncer.controlplane.assets import ControlPlaneError

            raise ControlPlaneError(f"port {port} on 127.0.0.1 is already in use; choose another or 0") from e
    return port


class ApiError(RuntimeError):
    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"HTTP {status}: {body[:300]}")
        self.status = status


class Cluster:
    """A control plane in `workdir/<role>`; role is "host" (with scheduler, kwok, nodes) or "virtual"."""

    def __init__(
        self,
        role: str,
        workdir: Path,
        binaries: dict[str, Path],
        *,
        nodes: int = 0,
        port: int = 0,
        real_node_images: list[str] | None = None,
        pod_reachable: bool = False,
    ) -> None:
        self.role = role
        # with a real node, pods reach the API servers on the machine's address: vcsync's own pods (CoreDNS) do
        self.pod_reachable = pod_reachable
        self.dir = workdir / role
        self.bin = binaries
        self.nodes = nodes if role == "host" else 0
        self.port = check_port_free(port) if port else free_port()
        self.server = f"https://127.0.0.1:{self.port}"
        self.kubeconfig = self.dir / "kubeconfig"
        # where the API server's kubelet connections go: vcsync's kubelet (virtual), the relay to kwok's (host)
        self.kubelet_egress_socket = self.dir / "kubelet-egress.sock"
        self.components: dict[str, Component] = {}
        # a real node (containerd, kubelet, kube-proxy) next to the kwok ones, host only: see node.py
        self.real_node = (
            node.RealNode(self.dir, self.kubeconfig, binaries, real_node_images) if real_node_images else None
        )
        self.pki: Pki | None = None
        self._ssl: ssl.SSLContext | None = None

    # ---- setup -------------------------------------------------------------------------------------------
    def prepare(self) -> None:
        (self.dir / "logs").mkdir(parents=True, exist_ok=True)
        extra = (node.VCLUSTER_SERVICE_IP,) if self.pod_reachable and self.role == "virtual" else ()
        self.pki = write_pki(self.dir / "pki", SERVICE_IP, CLUSTER_DOMAIN, extra)
        write_kubeconfig(self.kubeconfig, f"vcsync-{self.role}", self.server, self.pki)
        self._ssl = ssl.create_default_context(cafile=str(self.pki.ca_cert))
        self._ssl.load_cert_chain(str(self.pki.admin_cert), str(self.pki.admin_key))
        etcd_port, peer_port = free_port(), free_port()
        self.etcd_url = f"http://127.0.0.1:{etcd_port}"
        self._add("etcd", self._etcd_args(etcd_port, peer_port))
        self._add("kube-apiserver", self._apiserver_args())
        self._add("kube-controller-manager", self._controller_manager_args())
        if self.role == "host":
            self.kwok_port = free_port()
            self._add(
                "kube-scheduler",
                [
                    str(self.bin["kube-scheduler"]),
                    f"--kubeconfig={self.kubeconfig}",
                    "--leader-elect=false",
                    "--bind-address=127.0.0.1",
                    f"--secure-port={free_port()}",
                    "--v=1",
                ],
            )
            self._add(
                "kubelet-relay",
                [
                    sys.executable,
                    "-m",
                    "syncer.controlplane.relay",
                    str(self.kubelet_egress_socket),
                    f"127.0.0.1:{self.kwok_port}",
                    *([self.real_node.ip] if self.real_node else []),
                ],
            )
            self._add(
                "kwok",
                [
                    str(self.bin["kwok"]),
                    f"--kubeconfig={self.kubeconfig}",
                    f"--config={self._kwok_config()}",
                    f"--server-address=127.0.0.1:{self.kwok_port}",
                ],
            )

            if self.real_node:
                self.real_node.prepare(self.dir / "logs")

    def _kwok_config(self) -> Path:
        """kwok's stages plus what its kubelet API answers for every pod: the log files below (CRI format, appended to
        by tests), commands run in `kubelet/` on this machine, attach following the log, port-forwards to
        127.0.0.1:`forward_port`, and resource metrics, so `kubectl logs/exec/attach/port-forward` and the kubelet's
        /metrics/resource work on the host."""
        folder = self.dir / "kubelet"
        folder.mkdir(exist_ok=True)
        self.pod_log, self.previous_pod_log = folder / "containers.log", folder / "previous.log"
        for log in (self.pod_log, self.previous_pod_log):
            log.touch()
        self.forward_port = free_port()
        api = "kwok.x-k8s.io/v1alpha1"
        logs = {"logsFile": str(self.pod_log), "previousLogsFile": str(self.previous_pod_log), "follow": True}
        documents = [
            {"apiVersion": api, "kind": "ClusterLogs", "metadata": {"name": "all"}, "spec": {"logs": [logs]}},
            {
                "apiVersion": api,
                "kind": "ClusterAttach",
                "metadata": {"name": "all"},
                "spec": {"attaches": [{"logsFile": str(self.pod_log)}]},
            },
            {
                "apiVersion": api,
                "kind": "ClusterExec",
                "metadata": {"name": "all"},
                "spec": {"execs": [{"local": {"workDir": str(folder)}}]},
            },
            {
                "apiVersion": api,
                "kind": "ClusterPortForward",
                "metadata": {"name": "all"},
                "spec": {"forwards": [{"target": {"address": "127.0.0.1", "port": self.forward_port}}]},
            },
        ]
        documents += _kwok_resource_metrics()
        path = self.dir / "kwok.yaml"
        path.write_text(KWOK_CONFIG.read_text() + "---\n" + yaml.safe_dump_all(documents, sort_keys=False))
        return path

    def _add(self, name: str, argv: list[str]) -> None:
        grace = 10.0 if name == "etcd" else 2.0
        self.components[name] = Component(f"{self.role}/{name}", argv, self.dir / "logs" / f"{name}.log", grace)

    def _etcd_args(self, port: int, peer: int) -> list[str]:
        peer_url = f"http://127.0.0.1:{peer}"
        return [
            str(self.bin["etcd"]),
            "--name=default",
            f"--data-dir={self.dir / 'etcd'}",
            f"--listen-client-urls={self.etcd_url}",
            f"--advertise-client-urls={self.etcd_url}",
            f"--listen-peer-urls={peer_url}",
            f"--initial-advertise-peer-urls={peer_url}",
            f"--initial-cluster=default={peer_url}",
            "--unsafe-no-fsync",
            "--log-level=warn",
            "--quota-backend-bytes=8589934592",
        ]

    def _apiserver_args(self) -> list[str]:
        assert self.pki
        pki = self.pki
        return [
            str(self.bin["kube-apiserver"]),
            f"--etcd-servers={self.etcd_url}",
            f"--bind-address={'0.0.0.0' if self.pod_reachable else '127.0.0.1'}",
            f"--advertise-address={self.real_node.ip if self.real_node else '127.0.0.1'}",
            f"--secure-port={self.port}",
            f"--cert-dir={self.dir / 'pki'}",
            f"--tls-cert-file={pki.serving_cert}",
            f"--tls-private-key-file={pki.serving_key}",
            f"--client-ca-file={pki.ca_cert}",
            f"--service-account-issuer=https://kubernetes.default.svc.{CLUSTER_DOMAIN}",
            f"--service-account-key-file={pki.sa_pub}",
            f"--service-account-signing-key-file={pki.sa_key}",
            f"--api-audiences={API_AUDIENCES}",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            *self._kubelet_client_args(),
            "--authorization-mode=RBAC",
            "--allow-privileged=true",
            "--profiling=false",
            # loopback addresses are not valid endpoints, and the virtual side never reconciles its own; with a real
            # node the host's `kubernetes` Service leads its pods (vcsync in the chart's pod) to the machine's address
            f"--endpoint-reconciler-type={'lease' if self.real_node else 'none'}",
            "--v=1",
        ]

    def _kubelet_client_args(self) -> list[str]:
        """How this API server reaches kubelets: through its egress selector, as HTTP CONNECT on a unix socket. Host:
        to kwok's kubelet server via `relay.py` (kwok serves a throwaway certificate, left unchecked). Virtual: to
        vcsync's kubelet endpoint, with a client certificate; the tunnel is local, so vcsync's serving certificate (made
        for 127.0.0.1, while nodes carry their host node's IP) is not checked either."""
        assert self.pki
        args = [
            "--kubelet-preferred-address-types=InternalIP,Hostname",
            f"--egress-selector-config-file={self._egress()}",
        ]
        if self.role == "virtual":
            args += [
                f"--kubelet-client-certificate={self.pki.kubelet_client_cert}",
                f"--kubelet-client-key={self.pki.kubelet_client_key}",
            ]
        return args

    def _egress(self) -> Path:
        path = self.dir / "egress-selector.yaml"
        connection = {
            "proxyProtocol": "HTTPConnect",
            "transport": {"uds": {"udsName": str(self.kubelet_egress_socket)}},
        }
        config = {
            "apiVersion": "apiserver.k8s.io/v1beta1",
            "kind": "EgressSelectorConfiguration",
            "egressSelections": [{"name": "cluster", "connection": connection}],
        }
        path.write_text(yaml.safe_dump(config))
        return path

    def _controller_manager_args(self) -> list[str]:
        assert self.pki
        controllers = "*" if self.role == "host" else ",".join(["*", *(f"-{c}" for c in VIRTUAL_DISABLED_CONTROLLERS)])
        return [
            str(self.bin["kube-controller-manager"]),
            f"--kubeconfig={self.kubeconfig}",
            "--leader-elect=false",
            "--bind-address=127.0.0.1",
            f"--secure-port={free_port()}",
            f"--service-account-private-key-file={self.pki.sa_key}",
            f"--root-ca-file={self.pki.ca_cert}",
            f"--cluster-signing-cert-file={self.pki.ca_cert}",
            f"--cluster-signing-key-file={self.pki.ca_key}",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            f"--controllers={controllers}",
            "--v=1",
        ]

    # ---- lifecycle ---------------------------------------------------------------------------------------
    def start_storage_and_apiserver(self) -> None:
        self.components["etcd"].start()
        self.wait_for(self._etcd_healthy, 60, "etcd to be healthy")
        self.components["kube-apiserver"].start()

    def wait_apiserver(self, timeout: float = 120) -> None:
        self.wait_for(self.readyz, timeout, "kube-apiserver /readyz")

    def start_controllers(self) -> None:
        for name, component in self.components.items():
            if name not in ("etcd", "kube-apiserver"):
                component.start()
        if self.real_node:
            self.real_node.start()

    def wait_controllers(self, timeout: float = 120) -> None:
        """The service-account controller has made `default/default`, and every host node is Ready."""
        self.wait_for(
            lambda: self._exists("/api/v1/namespaces/default/serviceaccounts/default"),
            timeout,
            "the controller-manager to create default/default ServiceAccount",
        )
        if self.nodes or self.real_node:
            self.wait_for(self._nodes_ready, timeout, f"{self.nodes} kwok nodes (and the real node) to be Ready")

    def restart(self, component: str, timeout: float = 120) -> None:
        """Restart one component in place (same ports, same data), waiting for the API again if needed."""
        self.components[component].restart()
        if component in ("etcd", "kube-apiserver"):
            self.wait_apiserver(timeout)

    async def restart_async(self, component: str, timeout: float = 120) -> None:
        """`restart` for async callers: stopping and waiting run in a thread, the new process is spawned from the
        main thread (see Component.start)."""
        await asyncio.to_thread(self.components[component].stop)
        self.components[component].start()
        if component in ("etcd", "kube-apiserver"):
            await asyncio.to_thread(self.wait_apiserver, timeout)

    async def wipe_storage_async(self, timeout: float = 120) -> None:
        """Bring the API server back on an empty etcd (same certificates and keys), as after a lost or wiped etcd:
        what the mass-deletion valve is tested against. The controllers are restarted too, as Kubernetes asks after
        an etcd restore: their watches would wait silently for the old revisions."""
        for component in reversed(list(self.components.values())):
            await asyncio.to_thread(component.stop)
        await asyncio.to_thread(shutil.rmtree, self.dir / "etcd")
        self.start_storage_and_apiserver()
        await asyncio.to_thread(self.wait_apiserver, timeout)
        self.start_controllers()

    def stop(self) -> None:
        if self.real_node:  # no scheduler first, or controllers' replacements of the deleted pods would start there
            self.components["kube-scheduler"].stop()
            self.real_node.stop(delete_pods=self._delete_real_node_pods)
        for component in reversed(list(self.components.values())):
            component.stop()

    def _delete_real_node_pods(self) -> None:
        selector = f"spec.nodeName={node.NAME}"
        for pod in self.api("GET", f"/api/v1/pods?fieldSelector={selector}")["items"]:
            meta = pod["metadata"]
            with contextlib.suppress(ApiError):
                self.api("DELETE", f"/api/v1/namespaces/{meta['namespace']}/pods/{meta['name']}?gracePeriodSeconds=0")

    # ---- API access (sync, for setup and readiness only) --------------------------------------------------
    def api(self, method: str, path: str, body: Any = None, timeout: float = 10) -> Any:
        conn = http.client.HTTPSConnection("127.0.0.1", self.port, context=self._ssl, timeout=timeout)
        try:
            headers = {"Content-Type": "application/json", "Accept": "application/json"}
            conn.request(method, path, json.dumps(body) if body is not None else None, headers)
            resp = conn.getresponse()
            data = resp.read().decode()
        finally:
            conn.close()
        if resp.status >= 300:
            raise ApiError(resp.status, data)
        return json.loads(data) if data.startswith(("{", "[")) else data

    def client(self):
        """`async with cluster.client() as api:` a kubernetes_asyncio ApiClient for this cluster's admin."""
        return connect(self.kubeconfig)

    def readyz(self) -> bool:
        try:
            return self.api("GET", "/readyz", timeout=3) == "ok"
        except (OSError, ApiError, http.client.HTTPException):
            return False

    def version(self) -> dict[str, Any]:
        return self.api("GET", "/version")

    def _exists(self, path: str) -> bool:
        try:
            self.api("GET", path)
            return True
        except ApiError as e:
            if e.status == 404:
                return False
            raise
        except OSError:
            return False

    def _etcd_healthy(self) -> bool:
        host, port = self.etcd_url.removeprefix("http://").split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=2)
        try:
            conn.request("GET", "/health")
            return b'"true"' in conn.getresponse().read()
        except OSError:
            return False
        finally:
            conn.close()

    def wait_for(self, predicate: Callable[[], bool], timeout: float, what: str) -> None:
        """Poll `predicate` every 0.2 s; fail fast (with the log tail) if a component dies meanwhile."""
        deadline = time.monotonic() + timeout
        while not predicate():
            for component in self.components.values():
                component.check_running()
            if self.real_node:
                self.real_node.check_running()
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.role}: timed out after {timeout:.0f}s waiting for {what}")
            time.sleep(0.2)

    # ---- kwok nodes --------------------------------------------------------------------------------------
    def create_nodes(self) -> None:
        for i in range(self.nodes):
            self.api("POST", "/api/v1/nodes", kwok_node(i, self.kwok_port))

    def _nodes_ready(self) -> bool:
        items = self.api("GET", "/api/v1/nodes")["items"]
        ready = [
            n
            for n in items
            if any(c["type"] == "Ready" and c["status"] == "True" for c in n.get("status", {}).get("conditions", []))
        ]
        return len(ready) >= self.nodes + (1 if self.real_node else 0)

    def log_tails(self, lines: int = 20) -> dict[str, str]:
        node_parts = self.real_node.components.values() if self.real_node else ()
        return {c.name: c.tail(lines) for c in (*self.components.values(), *node_parts)}


def _kwok_resource_metrics() -> list[dict[str, Any]]:
    """Every container uses 10m CPU and 20 MiB; kwok serves the kubelet's resource metrics per node from that, at the
    path the nodes' `metrics.k8s.io/resource-metrics-path` annotation names."""
    api = "kwok.x-k8s.io/v1alpha1"
    usage = {"cpu": {"value": "10m"}, "memory": {"value": "20Mi"}}
    pod_labels = [
        {"name": "namespace", "value": "pod.metadata.namespace"},
        {"name": "pod", "value": "pod.metadata.name"},
    ]
    container_labels = [{"name": "container", "value": "container.name"}, *pod_labels]

    def metric(name: str, kind: str, dimension: str, value: str) -> dict[str, Any]:
        labels = {"container": container_labels, "pod": pod_labels, "node": []}[dimension]
        return {"name": name, "help": name, "kind": kind, "dimension": dimension, "labels": labels, "value": value}

    metrics = [
        metric(
            "container_cpu_usage_seconds_total", "counter", "container", 'pod.CumulativeUsage("cpu", container.name)'
        ),
        metric("container_memory_working_set_bytes", "gauge", "container", 'pod.Usage("memory", container.name)'),
        metric("pod_memory_working_set_bytes", "gauge", "pod", 'pod.Usage("memory")'),
        metric("node_memory_working_set_bytes", "gauge", "node", 'node.Usage("memory")'),
    ]
    return [
        {"apiVersion": api, "kind": "ClusterResourceUsage", "metadata": {"name": "all"},
         "spec": {"usages": [{"usage": usage}]}},
        {"apiVersion": api, "kind": "Metric", "metadata": {"name": "resource"},
         "spec": {"path": "/metrics/nodes/{nodeName}/metrics/resource", "metrics": metrics}},
    ]  # fmt: skip


def kwok_node(i: int, kubelet_port: int) -> dict[str, Any]:
    """Host node number i: distinct pool/zone labels, the last one tainted, addresses from a documentation range (the
    host API server reaches kwok's kubelet API through the relay, whatever the address)."""
    name = f"kwok-node-{i}"
    pool = NODE_POOLS[i % len(NODE_POOLS)]
    resources = {"cpu": "32", "memory": "256Gi", "ephemeral-storage": "1Ti", "pods": "1000"}
    spec: dict[str, Any] = {}
    if i == 2:
        spec["taints"] = [{"key": "dedicated", "value": "special", "effect": "NoSchedule"}]
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "annotations": {
                "kwok.x-k8s.io/node": "fake",
                "node.alpha.kubernetes.io/ttl": "0",
                # where kwok serves this node's kubelet resource metrics (metrics-server reads the same annotation)
                "metrics.k8s.io/resource-metrics-path": f"/metrics/nodes/{name}/metrics/resource",
            },
            "labels": {
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "type": "kwok",
                "pool": pool,
                "topology.kubernetes.io/zone": f"zone-{pool}",
            },
        },
        "spec": spec,
        "status": {
            "capacity": resources,
            "allocatable": resources,
            "addresses": [
                {"type": "InternalIP", "address": f"198.51.100.{10 + i}"},
                {"type": "Hostname", "address": name},
            ],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": kubelet_port}},
            "nodeInfo": {
                "architecture": "amd64",
                "operatingSystem": "linux",
                "kubeletVersion": "kwok",
                "kubeProxyVersion": "kwok",
                "containerRuntimeVersion": "kwok",
                "kernelVersion": "kwok",
                "osImage": "kwok",
                "machineID": "",
                "bootID": "",
                "systemUUID": "",
            },
        },
    }
