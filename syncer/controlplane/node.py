"""A real node for the local host cluster, opt-in (`vcsync dev --real-node`, the real-node test tier): containerd
as the CRI, the kubelet, CNI from Debian's plugins (bridge, host-local, portmap, firewall) and kube-proxy in iptables
mode. Pods scheduled there run real containers, ClusterIPs route, and `kubectl logs/exec` reach a real kubelet, which
kwok's fake nodes cannot show. It needs root, Debian's containerd, runc and containernetworking-plugins, and takes
its images from the local Docker engine: no registry is reachable here."""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from syncer.controlplane.assets import run_hack
from syncer.controlplane.process import Component

NAME = "real-node-0"
TAINT = "vcsync.dev/real-node"  # NoSchedule: only pods that tolerate it land here, never the kwok-era tests' pods
POD_CIDR = "10.244.0.0/24"
CLUSTER_CIDR = "10.244.0.0/16"
PAUSE_IMAGE = "vcsync.local/pause:3.10.2"
CNI_BIN = Path("/usr/lib/cni")
KUBELET_PORT = 10250  # the kubelet's own port: one real node per machine
TOLERATION = {"key": TAINT, "operator": "Exists", "effect": "NoSchedule"}
# the vcluster Service's ClusterIP for pods on this node that call the virtual API server (CoreDNS): the virtual
# serving certificate names it, as vcluster's names its Service's IP
VCLUSTER_SERVICE_IP = "10.96.0.100"
NODE_SELECTOR = {"kubernetes.io/hostname": NAME}


def local_images() -> list[str]:
    """Prepare a source checkout's machine for a real node and return the workload images it gets besides pause:
    Debian's packages (hack/node/deps.sh), the Docker engine, the pause image, the Debian base (python3) and CoreDNS,
    all built here (hack/image) since no registry is reachable."""
    printed = [
        run_hack(script)
        for script in ("node/deps.sh", "image/dockerd.sh", "image/pause.sh", "image/base.sh", "image/coredns.sh")
    ]
    return printed[-2:]


def primary_ip() -> str:
    """This machine's address on its default route (a UDP connect sends nothing): the node's InternalIP."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect(("203.0.113.1", 9))  # TEST-NET-3: only the route is looked up
        return s.getsockname()[0]


class RealNode:
    """containerd, kubelet and kube-proxy in `<cluster dir>/node`, all state (images, sandboxes, network namespaces,
    IP leases) inside that folder, so `stop` can take everything away again."""

    def __init__(self, cluster_dir: Path, kubeconfig: Path, binaries: dict[str, Path], images: list[str]) -> None:
        self.dir = cluster_dir / "node"
        self.kubeconfig = kubeconfig
        self.bin = binaries
        self.images = [PAUSE_IMAGE, *images]
        self.ip = primary_ip()
        self.socket = self.dir / "containerd.sock"
        self.components: dict[str, Component] = {}

    # ---- setup -------------------------------------------------------------------------------------------
    def prepare(self, logs: Path) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        self._add("containerd", ["containerd", f"--config={self._containerd_config()}"], logs)
        self._add(
            "kubelet",
            [
                str(self.bin["kubelet"]),
                f"--config={self._kubelet_config()}",
                f"--kubeconfig={self.kubeconfig}",
                f"--root-dir={self.dir / 'kubelet'}",
                f"--hostname-override={NAME}",
                f"--node-ip={self.ip}",
                f"--node-labels={TAINT}=true",
                f"--register-with-taints={TAINT}=true:NoSchedule",
                "--v=1",
            ],
            logs,
        )
        self._add("kube-proxy", [str(self.bin["kube-proxy"]), f"--config={self._proxy_config()}", "--v=1"], logs)

    def _add(self, name: str, argv: list[str], logs: Path) -> None:
        self.components[name] = Component(f"host/{name}", argv, logs / f"{name}.log", stop_grace=5.0)

    def _containerd_config(self) -> Path:
        """CRI on its own socket and folders. restrict_oom_score_adj: this machine withholds CAP_SYS_RESOURCE, so a
        negative oom_score_adj (the kubelet asks -998 for sandboxes) fails runc; containers keep containerd's own."""
        cni = self.dir / "cni"
        cni.mkdir(exist_ok=True)
        (cni / "10-vcsync-node.conflist").write_text(json.dumps(self._cni_config(), indent=1))
        cri = {
            "sandbox_image": PAUSE_IMAGE,
            "restrict_oom_score_adj": True,
            "netns_mounts_under_state_dir": True,
            "cni": {"bin_dir": str(CNI_BIN), "conf_dir": str(cni)},
            "containerd": {"snapshotter": "overlayfs"},
        }
        lines = [
            "version = 2",
            f'root = "{self.dir / "containerd"}"',
            f'state = "{self.dir / "containerd-state"}"',
            "[grpc]",
            f'  address = "{self.socket}"',
            '[plugins."io.containerd.internal.v1.opt"]',
            f'  path = "{self.dir / "opt"}"',
            *_toml_table('plugins."io.containerd.grpc.v1.cri"', cri),
        ]
        path = self.dir / "containerd.toml"
        path.write_text("\n".join(lines) + "\n")
        return path

    def _cni_config(self) -> dict[str, Any]:
        """A bridge with masquerading out, IP leases kept in this folder, port mappings, and the firewall plugin:
        Docker's FORWARD policy is DROP, and the firewall plugin accepts the pods' traffic."""
        ipam = {"type": "host-local", "dataDir": str(self.dir / "ipam"), "ranges": [[{"subnet": POD_CIDR}]]}
        bridge = {"type": "bridge", "bridge": "vcsync0", "isGateway": True, "ipMasq": True, "hairpinMode": True}
        return {
            "cniVersion": "0.4.0",
            "name": "vcsync-node",
            "plugins": [
                bridge | {"ipam": ipam | {"routes": [{"dst": "0.0.0.0/0"}]}},
                {"type": "portmap", "capabilities": {"portMappings": True}},
                {"type": "firewall"},
            ],
        }

    def _kubelet_config(self) -> Path:
        """cgroup v1 is refused by default since 1.35 (failCgroupV1); the driver is cgroupfs as in containerd 1.6,
        which cannot tell the kubelet its own. The kubelet API accepts anyone on the node's address: only the host
        API server (through its egress relay) and tests on this machine call it."""
        config = {
            "apiVersion": "kubelet.config.k8s.io/v1beta1",
            "kind": "KubeletConfiguration",
            "address": self.ip,
            "port": KUBELET_PORT,
            "readOnlyPort": 0,
            "healthzPort": 0,
            "cgroupDriver": "cgroupfs",
            "failCgroupV1": False,
            "failSwapOn": False,
            "containerRuntimeEndpoint": f"unix://{self.socket}",
            "authentication": {"anonymous": {"enabled": True}, "webhook": {"enabled": False}},
            "authorization": {"mode": "AlwaysAllow"},
            "clusterDomain": "cluster.local",
            "clusterDNS": ["10.96.0.10"],
            "imageGCHighThresholdPercent": 100,
            "imageGCLowThresholdPercent": 99,
            "evictionHard": {},
            "localStorageCapacityIsolation": False,
            "enforceNodeAllocatable": [],
            "serializeImagePulls": False,
        }
        path = self.dir / "kubelet.yaml"
        path.write_text(yaml.safe_dump(config))
        return path

    def _proxy_config(self) -> Path:
        config = {
            "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
            "kind": "KubeProxyConfiguration",
            "mode": "iptables",
            "clusterCIDR": CLUSTER_CIDR,
            "hostnameOverride": NAME,
            "clientConnection": {"kubeconfig": str(self.kubeconfig)},
            "metricsBindAddress": "127.0.0.1:10249",
            "healthzBindAddress": "127.0.0.1:10256",
            "nodePortAddresses": ["primary"],
            "conntrack": {"maxPerCore": 0},
        }
        path = self.dir / "kube-proxy.yaml"
        path.write_text(yaml.safe_dump(config))
        return path

    # ---- lifecycle ---------------------------------------------------------------------------------------
    def start(self) -> None:
        """containerd, then the images it cannot pull, then the kubelet and kube-proxy."""
        _enable_bridge_netfilter()
        self.components["containerd"].start()
        _wait(lambda: self._ctr("version").returncode == 0, 30, "containerd to answer")
        self.load_images(self.images)
        self.components["kubelet"].start()
        self.components["kube-proxy"].start()

    def _ctr(self, *args: str, **kwargs: Any) -> subprocess.CompletedProcess[bytes]:
        argv = ["ctr", f"--address={self.socket}", "--namespace=k8s.io", *args]
        return subprocess.run(argv, capture_output=True, check=False, timeout=120, **kwargs)

    def load_images(self, images: list[str]) -> None:
        """Copy images from the local Docker engine into the node's containerd (pods use them with any pull policy
        but Always)."""
        save = subprocess.Popen(["docker", "save", *images], stdout=subprocess.PIPE)
        loaded = self._ctr("images", "import", "-", stdin=save.stdout)
        if save.wait() != 0 or loaded.returncode != 0:
            raise RuntimeError(f"loading {images} from Docker into containerd failed: {loaded.stderr.decode()}")

    def check_running(self) -> None:
        for component in self.components.values():
            component.check_running()

    def stop(self, delete_pods: Callable[[], None] | None = None) -> None:
        """Pods first, through the kubelet, so CNI releases their addresses and rules (`delete_pods`, when the API
        server is still up); then the processes; then whatever is left: tasks killed, mounts undone, kube-proxy's
        iptables rules removed."""
        if delete_pods is not None and self.components["kubelet"].running():
            with contextlib.suppress(Exception):
                delete_pods()
                _wait(lambda: not self._tasks(), 60, "the real node's containers to stop")
        for name in ("kube-proxy", "kubelet"):
            self.components[name].stop()
        if self.components["containerd"].running():
            for task in self._tasks():
                self._ctr("tasks", "kill", "--signal=SIGKILL", "--all", task)
            with contextlib.suppress(TimeoutError):
                _wait(lambda: all(self._ctr("tasks", "delete", t).returncode == 0 for t in self._tasks()), 20, "")
        self.components["containerd"].stop()
        _unmount_under(self.dir)
        subprocess.run([str(self.bin["kube-proxy"]), "--cleanup"], capture_output=True, check=False, timeout=60)
        _drop_chains(KUBELET_CHAINS)

    def _tasks(self) -> list[str]:
        listed = self._ctr("tasks", "list", "--quiet")
        return listed.stdout.decode().split() if listed.returncode == 0 else []


def _toml_table(name: str, values: dict[str, Any]) -> list[str]:
    """The few TOML shapes containerd's config needs: strings, booleans and nested tables."""
    lines, tables = [f"[{name}]"], []
    for key, value in values.items():
        if isinstance(value, dict):
            tables += _toml_table(f"{name}.{key}", value)
        else:
            lines.append(f"  {key} = {json.dumps(value)}")
    return lines + tables


def _enable_bridge_netfilter() -> None:
    """Pod-to-ClusterIP traffic between pods on one bridge must pass iptables for kube-proxy's rules to apply."""
    for key, value in (("net/bridge/bridge-nf-call-iptables", "1"), ("net/ipv4/ip_forward", "1")):
        path = Path("/proc/sys") / key
        if not path.exists():
            raise RuntimeError(f"{path} is missing: load br_netfilter (modprobe br_netfilter) for a real node")
        if path.read_text().strip() != value:
            path.write_text(value)


KUBELET_CHAINS = ("KUBE-FIREWALL", "KUBE-KUBELET-CANARY")  # the kubelet's own iptables chains


def _drop_chains(chains: tuple[str, ...]) -> None:
    """Remove the rules that jump to these chains, then the chains, in every table the kubelet writes."""
    for table in ("filter", "nat", "mangle"):
        saved = subprocess.run(["iptables-save", "-t", table], capture_output=True, text=True, check=False).stdout
        for rule in saved.splitlines():
            if rule.startswith("-A ") and rule.split()[-1] in chains:
                subprocess.run(["iptables", "-t", table, "-D", *rule.split()[1:]], capture_output=True, check=False)
        for chain in chains:
            for action in ("-F", "-X"):
                subprocess.run(["iptables", "-t", table, action, chain], capture_output=True, check=False)


def _unmount_under(folder: Path) -> None:
    """Sandboxes' network namespaces and volumes a killed kubelet left mounted: deepest first."""
    prefix = str(folder.resolve()) + "/"
    with open("/proc/self/mounts") as mounts:
        points = [line.split()[1].replace("\\040", " ") for line in mounts]
    for point in sorted((p for p in points if p.startswith(prefix)), key=len, reverse=True):
        subprocess.run(["umount", "--lazy", point], capture_output=True, check=False)


def _wait(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.2)
