"""Fake virtual Nodes (SPEC §7.1): the node a virtual pod is bound to when real nodes are not synced. The shape is
vcluster's byte for byte so tooling keeps working across syncers, and heartbeats keep a virtual node-lifecycle
controller from marking the nodes NotReady. Times are passed in, so everything here stays pure."""

from __future__ import annotations

import platform
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from translators.names import safe_concat_name

FAKE_NODE_LABEL = "vcluster.loft.sh/fake-node"
BELONGS_TO = "vcluster.loft.sh/belongs-to"
NODE_LABEL = "vcluster.loft.sh/node"
OWNER_SET_KIND = "vcluster.loft.sh/owner-set-kind"
NODE_LEASE_NAMESPACE = "kube-node-lease"
KUBELET_PORT = 10250
FAKE_NODE_VERSION = "v1.19.1"

_RESOURCES = {
    "cpu": "16",
    "memory": "32Gi",
    "ephemeral-storage": "100Gi",
    "hugepages-1Gi": "0",
    "hugepages-2Mi": "0",
    "pods": "110",
}
_CONDITIONS = (
    ("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
    ("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
    ("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
    ("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
)
_GO_ARCHES = {
    "x86_64": "amd64",
    "amd64": "amd64",
    "aarch64": "arm64",
    "arm64": "arm64",
    "armv6l": "arm",
    "armv7l": "arm",
    "i386": "386",
    "i686": "386",
    "x86": "386",
    "loongarch64": "loong64",
}


def go_arch() -> str:
    """This machine's architecture as Go's GOARCH names it; names Go shares with uname (ppc64le, s390x, riscv64)
    pass through lowercased."""
    machine = platform.machine().lower()
    return _GO_ARCHES.get(machine, machine)


def new_ids() -> tuple[str, str, str]:
    """Random GUID-form (bootID, machineID, systemUUID), drawn once when a fake node is created."""
    return str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())


def node_ids(node: dict[str, Any]) -> tuple[str, str, str]:
    """The (bootID, machineID, systemUUID) an existing fake node was created with, so a rewritten status keeps them."""
    info = (node.get("status") or {}).get("nodeInfo") or {}
    return info.get("bootID", ""), info.get("machineID", ""), info.get("systemUUID", "")


def fake_node(
    name: str, internal_ip: str | None, now: str, arch: str, ids: tuple[str, str, str], port: int = KUBELET_PORT
) -> dict[str, Any]:
    """The complete fake Node N as created at `now` (RFC 3339). The API server drops `status` on create, so the engine
    writes `fake_node_status` next and then sets `spec.taints: []`."""
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": _fake_labels(name, arch), "annotations": _fake_annotations()},
        "spec": {},
        "status": fake_node_status(name, internal_ip, now, arch, ids, created=now, port=port),
    }


def fake_node_status(
    name: str,
    internal_ip: str | None,
    now: str,
    arch: str,
    ids: tuple[str, str, str],
    created: str,
    port: int = KUBELET_PORT,
) -> dict[str, Any]:
    """The status of fake node N: condition transitions at `created`, heartbeats at `now`; its kubelet (vcsync's
    endpoint when enabled) at `internal_ip`:`port`."""
    boot_id, machine_id, system_uuid = ids
    return {
        "capacity": dict(_RESOURCES),
        "allocatable": dict(_RESOURCES),
        "conditions": [
            {
                "type": kind,
                "status": status,
                "lastHeartbeatTime": now,
                "lastTransitionTime": created,
                "reason": reason,
                "message": message,
            }
            for kind, status, reason, message in _CONDITIONS
        ],
        **kubelet_status(name, internal_ip, port),
        "nodeInfo": {
            "machineID": machine_id,
            "systemUUID": system_uuid,
            "bootID": boot_id,
            "kernelVersion": "4.19.76-fakelinux",
            "osImage": "Fake Kubernetes Image",
            "containerRuntimeVersion": "docker://19.3.12",
            "kubeletVersion": FAKE_NODE_VERSION,
            "kubeProxyVersion": FAKE_NODE_VERSION,
            "operatingSystem": "linux",
            "architecture": arch,
        },
        "images": [],
    }


def node_addresses(name: str, internal_ip: str | None) -> list[dict[str, str]]:
    """The only place fake node addresses are made, so the fake kubelet [W2] can swap in a node-service IP."""
    addresses = [{"type": "Hostname", "address": f"{name.replace('.', '-')}.nodes.vcluster.com"}]
    if internal_ip:
        addresses.append({"type": "InternalIP", "address": internal_ip})
    return addresses


def kubelet_status(name: str, internal_ip: str | None, port: int) -> dict[str, Any]:
    """The status fields that tell the API server where node N's kubelet is (the JSON key is "Port", capitalised)."""
    return {"addresses": node_addresses(name, internal_ip), "daemonEndpoints": {"kubeletEndpoint": {"Port": port}}}


def kubelet_status_patch(node: dict[str, Any], internal_ip: str, port: int) -> dict[str, Any] | None:
    """The status patch that points an existing fake node at vcsync's kubelet endpoint; None when it already does."""
    wanted = kubelet_status(node["metadata"]["name"], internal_ip, port)
    status = node.get("status") or {}
    return None if all(status.get(key) == value for key, value in wanted.items()) else wanted


def node_service_name(suffix: str, node: str) -> str:
    return safe_concat_name(suffix, "node", node.replace(".", "-"))


def node_service(suffix: str, node: str, selector: dict[str, str] | None, target_port: int) -> dict[str, Any]:
    """The host Service of fake node N (in the own namespace): port `kubelet` 10250 to vcsync's kubelet endpoint,
    selecting what the vcluster Service selects (the vcsync pod). Its ClusterIP becomes the node's InternalIP."""
    spec: dict[str, Any] = {"ports": [{"name": "kubelet", "port": KUBELET_PORT, "targetPort": target_port}]}
    if selector:
        spec["selector"] = dict(selector)
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": node_service_name(suffix, node), "labels": {BELONGS_TO: suffix, NODE_LABEL: node}},
        "spec": spec,
    }


def heartbeat_conditions(node: dict[str, Any], now: str) -> list[dict[str, Any]]:
    """The node's conditions with `lastHeartbeatTime` set to `now`; transition times and everything else kept."""
    conditions = (node.get("status") or {}).get("conditions") or []
    return [{**condition, "lastHeartbeatTime": now} for condition in conditions]


def node_lease(node_name: str, node_uid: str, duration_seconds: int, now: str) -> dict[str, Any]:
    """Lease kube-node-lease/N held by N and owned by the Node, so it goes away with the node. `now` is any RFC 3339
    time; the renewTime is written as a MicroTime."""
    return {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {
            "name": node_name,
            "namespace": NODE_LEASE_NAMESPACE,
            "ownerReferences": [{"apiVersion": "v1", "kind": "Node", "name": node_name, "uid": node_uid}],
        },
        "spec": {"holderIdentity": node_name, "leaseDurationSeconds": duration_seconds, "renewTime": _micro_time(now)},
    }


NODE_INDEX = "node"  # pods by the node they are assigned to, on both sides (node_of)


def node_of(pod: dict[str, Any]) -> list[str]:
    """The node a pod is assigned to, as an index value (none while unscheduled): the "node" index on pods."""
    node = (pod.get("spec") or {}).get("nodeName")
    return [node] if node else []


def internal_ips(node: dict[str, Any]) -> list[str]:
    """A node's InternalIP addresses, as an index value: which node the API server means when it dials one."""
    addresses = (node.get("status") or {}).get("addresses") or []
    return [a["address"] for a in addresses if a.get("type") == "InternalIP" and a.get("address")]


def node_needed(virtual_pods: Iterable[dict[str, Any]], host_pods: Iterable[dict[str, Any]]) -> bool:
    """Whether fake node N must stay, given the virtual pods and the managed host pods assigned to N. DaemonSet pods
    alone do not keep a node; pods being deleted count while they exist."""
    return any(not _owned_by_daemonset(pod) for pod in virtual_pods) or any(
        _annotations_of(pod).get(OWNER_SET_KIND) != "DaemonSet" for pod in host_pods
    )


def is_fake_node(node: dict[str, Any]) -> bool:
    """Only nodes with this label are ever changed or deleted by the fake node syncer."""
    return ((node.get("metadata") or {}).get("labels") or {}).get(FAKE_NODE_LABEL) == "true"


def _fake_labels(name: str, arch: str) -> dict[str, str]:
    return {
        FAKE_NODE_LABEL: "true",
        "kubernetes.io/arch": arch,
        "beta.kubernetes.io/arch": arch,
        "kubernetes.io/os": "linux",
        "beta.kubernetes.io/os": "linux",
        "kubernetes.io/hostname": safe_concat_name("fake", name),
    }


def _fake_annotations() -> dict[str, str]:
    return {"node.alpha.kubernetes.io/ttl": "0", "volumes.kubernetes.io/controller-managed-attach-detach": "false"}


def _owned_by_daemonset(pod: dict[str, Any]) -> bool:
    owners = (pod.get("metadata") or {}).get("ownerReferences") or []
    return any(owner.get("apiVersion") == "apps/v1" and owner.get("kind") == "DaemonSet" for owner in owners)


def _annotations_of(pod: dict[str, Any]) -> dict[str, str]:
    return (pod.get("metadata") or {}).get("annotations") or {}


def _micro_time(moment: str) -> str:
    parsed = datetime.fromisoformat(moment)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
