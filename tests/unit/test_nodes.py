"""Real node sync (SPEC §7.2): which host nodes get a virtual twin, and how host metadata, taints and status are
merged into it. Annotation encodings are written out literally, as vcluster reads and writes the same ones."""

from __future__ import annotations

import copy
import json

import pytest

from translators.nodes import encode_taints, removable, selected, tolerates, virtual_node

MANAGED_LABELS = "vcluster.loft.sh/managed-labels"
MANAGED_ANNOTATIONS = "vcluster.loft.sh/managed-annotations"
ORIGINAL_TAINTS = "vcluster.loft.sh/original-taints"

GPU = {"key": "gpu", "value": "true", "effect": "NoSchedule"}
SPOT = {"key": "spot", "effect": "PreferNoSchedule"}
USER = {"key": "team", "value": "a", "effect": "NoSchedule"}
NOT_READY = {"key": "node.kubernetes.io/not-ready", "effect": "NoExecute", "timeAdded": "2024-05-01T10:00:00Z"}


def host_node(
    *,
    labels: dict | None = None,
    annotations: dict | None = None,
    taints: list | None = None,
    status: dict | None = None,
) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": "node-a", "uid": "host-uid", "labels": labels or {}, "annotations": annotations or {}},
        "spec": {"podCIDR": "10.244.0.0/24", **({"taints": taints} if taints is not None else {})},
        "status": status or {"nodeInfo": {"kubeletVersion": "v1.30.0"}, "images": [{"names": ["nginx:1"]}]},
    }


def sync(host: dict, existing: dict | None = None, *, clear_images: bool = False, tolerations: list | None = None):
    return virtual_node(host, existing, clear_images=clear_images, enforced_tolerations=tolerations or [])


def with_taints(node: dict, taints: list[dict]) -> dict:
    """The virtual node after a user edited its taints."""
    edited = copy.deepcopy(node)
    edited["spec"]["taints"] = taints
    return edited


def labelled(**labels: str) -> dict:
    return {"metadata": {"name": "node-a", "labels": labels}}


def test_every_node_is_selected_with_sync_all():
    assert selected(labelled(), sync_all=True, selector={"pool": "a"}, needed=False, enforce_node_selector=True)


def test_without_a_selector_only_needed_nodes_are_selected():
    assert selected(labelled(), sync_all=False, selector={}, needed=True, enforce_node_selector=True)
    assert not selected(labelled(), sync_all=False, selector={}, needed=False, enforce_node_selector=True)


def test_nodes_matching_every_selector_pair_are_selected():
    node = labelled(pool="a", zone="z1")
    assert selected(
        node, sync_all=False, selector={"pool": "a", "zone": "z1"}, needed=False, enforce_node_selector=True
    )
    assert not selected(
        node, sync_all=False, selector={"pool": "a", "zone": "z2"}, needed=False, enforce_node_selector=True
    )


def test_needed_nodes_outside_the_selector_are_selected_only_when_it_is_not_enforced():
    node = labelled(pool="b")
    assert selected(node, sync_all=False, selector={"pool": "a"}, needed=True, enforce_node_selector=False)
    assert not selected(node, sync_all=False, selector={"pool": "a"}, needed=True, enforce_node_selector=True)


def test_virtual_node_has_the_host_name_and_a_fresh_node_shape():
    node = sync(host_node())
    assert (node["apiVersion"], node["kind"], node["metadata"]["name"]) == ("v1", "Node", "node-a")
    assert set(node["metadata"]) == {"name", "labels", "annotations"}


def test_host_labels_are_copied_and_recorded_as_managed():
    node = sync(host_node(labels={"zone": "z1", "kubernetes.io/os": "linux"}))
    assert node["metadata"]["labels"] == {"zone": "z1", "kubernetes.io/os": "linux"}
    assert node["metadata"]["annotations"][MANAGED_LABELS] == "kubernetes.io/os\nzone"


def test_label_removed_on_host_is_removed_in_virtual_and_virtual_only_labels_stay():
    first = sync(host_node(labels={"zone": "z1", "old": "x"}))
    first["metadata"]["labels"]["tenant"] = "mine"
    node = sync(host_node(labels={"zone": "z2"}), first)
    assert node["metadata"]["labels"] == {"zone": "z2", "tenant": "mine"}
    assert node["metadata"]["annotations"][MANAGED_LABELS] == "zone"


def test_host_annotations_are_merged_like_labels():
    first = sync(host_node(annotations={"csi": "1", "gone": "x"}))
    first["metadata"]["annotations"]["tenant"] = "note"
    node = sync(host_node(annotations={"csi": "2"}), first)
    annotations = node["metadata"]["annotations"]
    assert {key: annotations[key] for key in ("csi", "tenant")} == {"csi": "2", "tenant": "note"}
    assert "gone" not in annotations
    assert annotations[MANAGED_ANNOTATIONS] == "csi"


def test_bookkeeping_annotations_on_the_host_node_are_not_copied():
    host = host_node(labels={"a": "1"}, annotations={ORIGINAL_TAINTS: "junk", MANAGED_LABELS: "x", "keep": "1"})
    annotations = sync(host)["metadata"]["annotations"]
    assert annotations == {"keep": "1", MANAGED_ANNOTATIONS: "keep", MANAGED_LABELS: "a"}


def test_empty_managed_lists_and_original_taints_are_absent():
    assert sync(host_node())["metadata"]["annotations"] == {}


def test_created_virtual_node_gets_the_host_taints_and_records_them_as_vcluster_does():
    node = sync(host_node(taints=[GPU, NOT_READY]))
    assert node["spec"] == {"taints": [GPU, NOT_READY]}
    assert node["metadata"]["annotations"][ORIGINAL_TAINTS] == (
        '["{\\"key\\":\\"gpu\\",\\"value\\":\\"true\\",\\"effect\\":\\"NoSchedule\\"}",'
        '"{\\"key\\":\\"node.kubernetes.io/not-ready\\",\\"effect\\":\\"NoExecute\\",'
        '\\"timeAdded\\":\\"2024-05-01T10:00:00Z\\"}"]'
    )


def test_taint_encoding_keeps_go_field_order_and_omits_only_empty_value_and_time():
    assert json.loads(encode_taints([{"effect": "NoSchedule", "key": "k", "value": ""}])) == [
        '{"key":"k","effect":"NoSchedule"}'
    ]


def test_taint_the_host_dropped_is_removed_from_virtual():
    first = sync(host_node(taints=[GPU, SPOT]))
    node = sync(host_node(taints=[SPOT]), first)
    assert node["spec"]["taints"] == [SPOT]
    assert json.loads(node["metadata"]["annotations"][ORIGINAL_TAINTS]) == [
        '{"key":"spot","effect":"PreferNoSchedule"}'
    ]


def test_taint_added_in_virtual_is_kept_after_the_host_ones():
    first = sync(host_node(taints=[GPU]))
    node = sync(host_node(taints=[GPU, SPOT]), with_taints(first, [USER, GPU]))
    assert node["spec"]["taints"] == [GPU, SPOT, USER]


def test_taint_added_in_virtual_survives_the_host_dropping_all_taints():
    first = sync(host_node(taints=[GPU]))
    node = sync(host_node(taints=[]), with_taints(first, [GPU, USER]))
    assert node["spec"]["taints"] == [USER]
    assert ORIGINAL_TAINTS not in node["metadata"]["annotations"]


def test_host_value_wins_over_a_virtual_taint_with_the_same_key_and_effect():
    first = sync(host_node(taints=[GPU]))
    node = sync(host_node(taints=[{**GPU, "value": "a100"}]), with_taints(first, [{**GPU, "value": "edited"}]))
    assert node["spec"]["taints"] == [{**GPU, "value": "a100"}]


def test_not_ready_taint_in_virtual_is_dropped_unless_the_host_has_it():
    first = sync(host_node(taints=[GPU]))
    not_ready_in_virtual = with_taints(first, [GPU, NOT_READY])
    assert sync(host_node(taints=[GPU]), not_ready_in_virtual)["spec"]["taints"] == [GPU]
    assert sync(host_node(taints=[GPU, NOT_READY]), not_ready_in_virtual)["spec"]["taints"] == [GPU, NOT_READY]


def test_enforced_toleration_removes_the_matching_taint_but_it_stays_recorded():
    node = sync(host_node(taints=[GPU, SPOT]), tolerations=[{"key": "gpu", "operator": "Exists"}])
    assert node["spec"]["taints"] == [SPOT]
    assert len(json.loads(node["metadata"]["annotations"][ORIGINAL_TAINTS])) == 2


def test_enforced_toleration_also_removes_matching_virtual_taints():
    first = sync(host_node(taints=[]))
    node = sync(host_node(taints=[]), with_taints(first, [USER]), tolerations=[{"key": "team", "value": "a"}])
    assert node["spec"]["taints"] == []


def test_enforced_tolerate_everything_removes_all_taints():
    assert sync(host_node(taints=[GPU, SPOT, NOT_READY]), tolerations=[{"operator": "Exists"}])["spec"]["taints"] == []


def test_unreadable_original_taints_annotation_records_nothing():
    first = sync(host_node(taints=[GPU]))
    first["metadata"]["annotations"][ORIGINAL_TAINTS] = "{not json"
    node = sync(host_node(taints=[]), first)
    assert node["spec"]["taints"] == [GPU]


@pytest.mark.parametrize(
    ("toleration", "taint", "expected"),
    [
        ({"operator": "Exists"}, GPU, True),
        ({"key": "gpu", "operator": "Exists"}, GPU, True),
        ({"key": "gpu", "operator": "Exists", "effect": "NoExecute"}, GPU, False),
        ({"key": "gpu", "operator": "Equal", "value": "true"}, GPU, True),
        ({"key": "gpu", "operator": "Equal", "value": "false"}, GPU, False),
        ({"key": "gpu", "value": "true", "effect": "NoSchedule"}, GPU, True),
        ({"key": "spot", "operator": "Equal"}, SPOT, True),
        ({"key": "other", "operator": "Exists"}, GPU, False),
        ({"key": "gpu", "operator": "Lt", "value": "true"}, GPU, False),
        ({"operator": "Exists", "effect": "PreferNoSchedule"}, SPOT, True),
    ],
)
def test_toleration_matches_taint_as_kubernetes_does(toleration, taint, expected):
    assert tolerates(toleration, taint) is expected


def test_status_is_copied_from_the_host_with_images():
    host = host_node()
    assert sync(host)["status"] == host["status"]


def test_clear_images_empties_the_image_list_without_touching_the_host():
    host = host_node()
    status = sync(host, clear_images=True)["status"]
    assert status == {"nodeInfo": {"kubeletVersion": "v1.30.0"}, "images": []}
    assert host["status"]["images"] == [{"names": ["nginx:1"]}]


def test_with_the_kubelet_endpoint_ip_addresses_and_port_point_at_vcsync():
    host = host_node()
    host["status"]["addresses"] = [
        {"type": "InternalIP", "address": "10.0.0.5"},
        {"type": "ExternalIP", "address": "203.0.113.5"},
        {"type": "Hostname", "address": "node-a"},
    ]
    host["status"]["daemonEndpoints"] = {"kubeletEndpoint": {"Port": 10250}}
    status = virtual_node(host, None, clear_images=False, enforced_tolerations=[], kubelet=("127.0.0.1", 31250))[
        "status"
    ]
    assert status["addresses"] == [
        {"type": "Hostname", "address": "node-a"},
        {"type": "InternalIP", "address": "127.0.0.1"},
    ]
    assert status["daemonEndpoints"] == {"kubeletEndpoint": {"Port": 31250}}
    assert host["status"]["addresses"][0]["address"] == "10.0.0.5"


def test_inputs_are_not_modified():
    host = host_node(labels={"a": "1"}, taints=[GPU])
    existing = with_taints(sync(host), [GPU, USER])
    before = copy.deepcopy((host, existing))
    node = sync(host, existing)
    node["spec"]["taints"][0]["value"] = "changed"
    node["status"]["nodeInfo"]["kubeletVersion"] = "changed"
    assert (host, existing) == before


def test_only_virtual_nodes_recording_managed_labels_are_removable():
    assert removable(sync(host_node(labels={"kubernetes.io/hostname": "node-a"})))
    assert not removable({"metadata": {"name": "handmade", "labels": {"x": "1"}}})
    assert not removable({})
