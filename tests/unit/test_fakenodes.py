"""Fake nodes (SPEC §7.1): the shape is checked field by field against the spec's literal values, because tooling
compares it with vcluster's; then heartbeats, the node Lease and the rule deciding when a fake node may go."""

from __future__ import annotations

import copy
import hashlib
import uuid

import pytest

from translators import fakenodes
from translators.fakenodes import (
    FAKE_NODE_LABEL,
    fake_node,
    fake_node_status,
    go_arch,
    heartbeat_conditions,
    is_fake_node,
    new_ids,
    node_addresses,
    node_ids,
    node_lease,
    node_needed,
)

CREATED = "2024-05-01T10:00:00Z"
LATER = "2024-05-01T10:05:00Z"
IDS = ("boot-id", "machine-id", "system-uuid")


def make_node(name: str = "worker-1", internal_ip: str | None = "10.0.0.7", arch: str = "arm64") -> dict:
    return fake_node(name, internal_ip, CREATED, arch, IDS)


def pod(*, owners: list[dict] | None = None, annotations: dict | None = None, deleting: bool = False) -> dict:
    metadata: dict = {"name": "p", "namespace": "default"}
    if owners is not None:
        metadata["ownerReferences"] = owners
    if annotations is not None:
        metadata["annotations"] = annotations
    if deleting:
        metadata["deletionTimestamp"] = CREATED
    return {"metadata": metadata}


DAEMONSET_OWNER = {"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "ds", "uid": "u1", "controller": True}
REPLICASET_OWNER = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs", "uid": "u2", "controller": True}
DAEMONSET_HOST_POD = {"vcluster.loft.sh/owner-set-kind": "DaemonSet"}


def test_fake_node_is_a_v1_node_named_after_the_host_node_with_an_empty_spec():
    node = make_node()
    assert (node["apiVersion"], node["kind"], node["metadata"]["name"]) == ("v1", "Node", "worker-1")
    assert node["spec"] == {}


def test_fake_node_labels_are_exact():
    assert make_node()["metadata"]["labels"] == {
        "vcluster.loft.sh/fake-node": "true",
        "kubernetes.io/arch": "arm64",
        "beta.kubernetes.io/arch": "arm64",
        "kubernetes.io/os": "linux",
        "beta.kubernetes.io/os": "linux",
        "kubernetes.io/hostname": "fake-worker-1",
    }


def test_fake_node_annotations_are_exact():
    assert make_node()["metadata"]["annotations"] == {
        "node.alpha.kubernetes.io/ttl": "0",
        "volumes.kubernetes.io/controller-managed-attach-detach": "false",
    }


def test_fake_node_capacity_and_allocatable_are_the_fixed_quantities():
    expected = {
        "cpu": "16",
        "memory": "32Gi",
        "ephemeral-storage": "100Gi",
        "hugepages-1Gi": "0",
        "hugepages-2Mi": "0",
        "pods": "110",
    }
    status = make_node()["status"]
    assert status["capacity"] == expected
    assert status["allocatable"] == expected


def test_fake_node_capacity_and_allocatable_are_independent_copies():
    status = make_node()["status"]
    status["capacity"]["cpu"] = "1"
    assert status["allocatable"]["cpu"] == "16"
    assert make_node()["status"]["capacity"]["cpu"] == "16"


def test_fake_node_addresses_are_the_dashed_hostname_then_the_internal_ip():
    assert make_node("ip-10-0-0-7.ec2.internal")["status"]["addresses"] == [
        {"type": "Hostname", "address": "ip-10-0-0-7-ec2-internal.nodes.vcluster.com"},
        {"type": "InternalIP", "address": "10.0.0.7"},
    ]


def test_fake_node_without_a_known_ip_has_only_the_hostname_address():
    assert make_node(internal_ip=None)["status"]["addresses"] == [
        {"type": "Hostname", "address": "worker-1.nodes.vcluster.com"}
    ]


def test_fake_node_addresses_come_from_node_addresses():
    assert make_node("a.b", "10.1.2.3")["status"]["addresses"] == node_addresses("a.b", "10.1.2.3")


def test_fake_node_kubelet_endpoint_is_port_10250_under_the_capitalised_api_key():
    assert make_node()["status"]["daemonEndpoints"] == {"kubeletEndpoint": {"Port": 10250}}


def test_fake_node_advertises_the_kubelet_endpoint_it_is_given():
    node = fake_node("worker-1", "127.0.0.1", CREATED, "amd64", IDS, port=31250)
    assert node["status"]["daemonEndpoints"] == {"kubeletEndpoint": {"Port": 31250}}
    assert {"type": "InternalIP", "address": "127.0.0.1"} in node["status"]["addresses"]


def test_kubelet_status_patch_corrects_an_old_node_and_is_none_when_already_right():
    old = make_node("worker-1", "198.51.100.10")
    patch = fakenodes.kubelet_status_patch(old, "127.0.0.1", 31250)
    assert patch == {
        "addresses": node_addresses("worker-1", "127.0.0.1"),
        "daemonEndpoints": {"kubeletEndpoint": {"Port": 31250}},
    }
    old["status"].update(patch)
    assert fakenodes.kubelet_status_patch(old, "127.0.0.1", 31250) is None


def test_fake_node_info_is_exact_and_takes_ids_in_boot_machine_system_order():
    assert make_node(arch="amd64")["status"]["nodeInfo"] == {
        "architecture": "amd64",
        "operatingSystem": "linux",
        "osImage": "Fake Kubernetes Image",
        "kernelVersion": "4.19.76-fakelinux",
        "containerRuntimeVersion": "docker://19.3.12",
        "kubeletVersion": "v1.19.1",
        "kubeProxyVersion": "v1.19.1",
        "bootID": "boot-id",
        "machineID": "machine-id",
        "systemUUID": "system-uuid",
    }


def test_fake_node_has_no_images():
    assert make_node()["status"]["images"] == []


def test_fake_node_conditions_are_exact_with_all_times_at_creation():
    def condition(kind: str, status: str, reason: str, message: str) -> dict:
        return {
            "type": kind,
            "status": status,
            "reason": reason,
            "message": message,
            "lastHeartbeatTime": CREATED,
            "lastTransitionTime": CREATED,
        }

    assert make_node()["status"]["conditions"] == [
        condition("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
        condition("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
        condition("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
        condition("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
    ]


def test_hostname_label_of_a_long_node_name_is_the_truncated_hashed_scn():
    name = "a" * 46 + "." + "b" * 30  # "fake-" + name cut at 52 ends in ".", so ".-" collapses to "-"
    full = f"fake-{name}"
    expected = "fake-" + "a" * 46 + "-" + hashlib.sha256(full.encode()).hexdigest()[:10]
    hostname = make_node(name)["metadata"]["labels"]["kubernetes.io/hostname"]
    assert hostname == expected
    assert len(hostname) == 62


def test_fake_node_status_keeps_transitions_at_creation_and_heartbeats_at_now():
    status = fake_node_status("worker-1", None, LATER, "amd64", IDS, created=CREATED)
    assert {condition["lastTransitionTime"] for condition in status["conditions"]} == {CREATED}
    assert {condition["lastHeartbeatTime"] for condition in status["conditions"]} == {LATER}


def test_fake_node_carries_the_same_status_as_fake_node_status():
    assert make_node()["status"] == fake_node_status("worker-1", "10.0.0.7", CREATED, "arm64", IDS, created=CREATED)


def test_new_ids_are_three_distinct_random_guids():
    ids = new_ids()
    assert len(set(ids)) == 3
    assert all(str(uuid.UUID(value)) == value for value in ids)
    assert new_ids() != ids


def test_node_ids_reads_back_the_ids_a_fake_node_was_created_with():
    assert node_ids(make_node()) == IDS


@pytest.mark.parametrize(
    ("machine", "expected"),
    [
        ("x86_64", "amd64"),
        ("AMD64", "amd64"),
        ("aarch64", "arm64"),
        ("arm64", "arm64"),
        ("armv7l", "arm"),
        ("i686", "386"),
        ("ppc64le", "ppc64le"),
        ("s390x", "s390x"),
    ],
)
def test_go_arch_names_the_machine_as_go_does(monkeypatch, machine, expected):
    monkeypatch.setattr(fakenodes.platform, "machine", lambda: machine)
    assert go_arch() == expected


def test_heartbeat_refreshes_heartbeat_times_and_keeps_transition_times():
    node = make_node()
    before = copy.deepcopy(node)
    conditions = heartbeat_conditions(node, LATER)
    assert [condition["lastHeartbeatTime"] for condition in conditions] == [LATER] * 4
    assert [condition["lastTransitionTime"] for condition in conditions] == [CREATED] * 4
    assert [{**c, "lastHeartbeatTime": CREATED} for c in conditions] == before["status"]["conditions"]
    assert node == before


def test_heartbeat_of_a_node_without_status_has_no_conditions():
    assert heartbeat_conditions({"metadata": {"name": "n"}}, LATER) == []


def test_node_lease_is_held_by_the_node_and_owned_by_it():
    assert node_lease("worker-1", "node-uid", 40, "2024-05-01T10:00:00Z") == {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {
            "name": "worker-1",
            "namespace": "kube-node-lease",
            "ownerReferences": [{"apiVersion": "v1", "kind": "Node", "name": "worker-1", "uid": "node-uid"}],
        },
        "spec": {
            "holderIdentity": "worker-1",
            "leaseDurationSeconds": 40,
            "renewTime": "2024-05-01T10:00:00.000000Z",
        },
    }


@pytest.mark.parametrize(
    ("now", "renew_time"),
    [
        ("2024-05-01T10:00:00.123456Z", "2024-05-01T10:00:00.123456Z"),
        ("2024-05-01T12:00:00.5+02:00", "2024-05-01T10:00:00.500000Z"),
        ("2024-05-01T10:00:00", "2024-05-01T10:00:00.000000Z"),
    ],
)
def test_node_lease_renew_time_is_a_utc_microtime(now, renew_time):
    assert node_lease("n", "u", 40, now)["spec"]["renewTime"] == renew_time


def test_node_with_only_daemonset_pods_is_not_needed():
    assert not node_needed([pod(owners=[DAEMONSET_OWNER])], [pod(annotations=DAEMONSET_HOST_POD)])


def test_node_without_pods_is_not_needed():
    assert not node_needed([], [])


def test_regular_virtual_pod_keeps_the_node():
    assert node_needed([pod(owners=[DAEMONSET_OWNER]), pod(owners=[REPLICASET_OWNER])], [])


def test_bare_virtual_pod_keeps_the_node():
    assert node_needed([pod()], [])


def test_deleting_virtual_pod_still_keeps_the_node():
    assert node_needed([pod(owners=[REPLICASET_OWNER], deleting=True)], [])


def test_virtual_pod_owned_by_a_non_apps_v1_daemonset_keeps_the_node():
    assert node_needed([pod(owners=[{**DAEMONSET_OWNER, "apiVersion": "extensions/v1beta1"}])], [])


def test_any_apps_v1_daemonset_owner_marks_a_virtual_pod_as_daemonset():
    assert not node_needed([pod(owners=[{"apiVersion": "v1", "kind": "ConfigMap", "name": "c"}, DAEMONSET_OWNER])], [])


def test_managed_host_pod_without_daemonset_owner_set_kind_keeps_the_node():
    assert node_needed([], [pod(annotations={"vcluster.loft.sh/owner-set-kind": "ReplicaSet"})])
    assert node_needed([], [pod()])


def test_fake_node_is_recognised_by_its_label():
    assert is_fake_node(make_node())
    assert FAKE_NODE_LABEL == "vcluster.loft.sh/fake-node"


@pytest.mark.parametrize(
    "node",
    [
        {"metadata": {"name": "real", "labels": {"kubernetes.io/os": "linux"}}},
        {"metadata": {"name": "odd", "labels": {"vcluster.loft.sh/fake-node": "yes"}}},
        {"metadata": {"name": "bare"}},
        {},
    ],
)
def test_nodes_without_the_fake_node_label_set_to_true_are_not_fake(node):
    assert not is_fake_node(node)


def test_node_service_reaches_the_kubelet_endpoint_and_selects_the_vcsync_pod():
    service = fakenodes.node_service("vc", "ip-10-0-0-1.ec2.internal", {"app": "vcsync"}, 31250)
    assert service["metadata"] == {
        "name": "vc-node-ip-10-0-0-1-ec2-internal",
        "labels": {"vcluster.loft.sh/belongs-to": "vc", "vcluster.loft.sh/node": "ip-10-0-0-1.ec2.internal"},
    }
    assert service["spec"] == {
        "ports": [{"name": "kubelet", "port": 10250, "targetPort": 31250}],
        "selector": {"app": "vcsync"},
    }
    assert "selector" not in fakenodes.node_service("vc", "n", None, 10250)["spec"]
