"""The metadata merge (SPEC §4.2): virtual keys win and are recorded, host-only keys survive, removed virtual keys go
away on host, and markers are always the syncer's own. Also checks that the result passes the managed check."""

from __future__ import annotations

import copy
import hashlib

from translators.markers import is_managed
from translators.metadata import NEVER_COPIED, desired_host_metadata, merge_managed
from translators.names import NameTranslator

NAMES = NameTranslator("vc", "host-ns")
MANAGED_ANNOTATIONS = "vcluster.loft.sh/managed-annotations"
MANAGED_LABELS = "vcluster.loft.sh/managed-labels"


def ref_sha10(s: str) -> str:
    return hashlib.sha256(s.encode("utf-8")).hexdigest()[:10]


def virtual_pod(labels: dict | None = None, annotations: dict | None = None) -> dict:
    metadata = {"name": "web", "namespace": "default", "uid": "uid-1"}
    if labels is not None:
        metadata["labels"] = labels
    if annotations is not None:
        metadata["annotations"] = annotations
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata}


def desired_pod(virtual: dict, host: dict | None = None, **kwargs) -> dict:
    return desired_host_metadata(virtual, host, names=NAMES, api_version="v1", kind="Pod", **kwargs)


def synced(virtual: dict, host: dict | None = None, **kwargs) -> dict:
    """The host object after the syncer wrote the desired metadata."""
    return {"metadata": desired_pod(virtual, host, **kwargs)}


def test_virtual_keys_are_copied_and_recorded_as_managed():
    merged, managed = merge_managed({"b": "1", "a": "2"}, None, [])
    assert merged == {"b": "1", "a": "2"}
    assert managed == ["a", "b"]


def test_merge_keeps_host_only_keys_and_drops_previously_managed_ones():
    merged, managed = merge_managed({"a": "new"}, {"a": "old", "gone": "x", "host": "y"}, ["a", "gone"])
    assert merged == {"a": "new", "host": "y"}
    assert managed == ["a"]


def test_excluded_keys_are_neither_copied_nor_kept():
    merged, managed = merge_managed({"m": "tenant", "a": "1"}, {"m": "stale", "h": "2"}, [], exclude={"m"})
    assert merged == {"a": "1", "h": "2"}
    assert managed == ["a"]


def test_merge_of_nothing_is_empty():
    assert merge_managed(None, None, []) == ({}, [])


def test_new_host_pod_gets_name_namespace_labels_and_markers():
    virtual = virtual_pod(labels={"app": "web", "release": "r"}, annotations={"note": "hi"})
    assert desired_pod(virtual) == {
        "name": "web-x-default-x-vc",
        "namespace": "host-ns",
        "labels": {
            "app": "web",
            f"vcluster.loft.sh/label-vc-x-{ref_sha10('release')}": "r",
            "vcluster.loft.sh/managed-by": "vc",
            "vcluster.loft.sh/namespace": "default",
        },
        "annotations": {
            "note": "hi",
            "vcluster.loft.sh/object-name": "web",
            "vcluster.loft.sh/object-kind": "/v1, Kind=Pod",
            "vcluster.loft.sh/object-host-name": "web-x-default-x-vc",
            "vcluster.loft.sh/object-namespace": "default",
            "vcluster.loft.sh/object-uid": "uid-1",
            "vcluster.loft.sh/object-host-namespace": "host-ns",
            MANAGED_ANNOTATIONS: "note",
            MANAGED_LABELS: f"app\nvcluster.loft.sh/label-vc-x-{ref_sha10('release')}",
        },
    }


def test_host_only_annotation_survives_a_virtual_update():
    host = synced(virtual_pod(annotations={"a": "1"}))
    host["metadata"]["annotations"]["admin.example.com/cost-center"] = "42"
    updated = desired_pod(virtual_pod(annotations={"a": "2"}), host)
    assert updated["annotations"]["admin.example.com/cost-center"] == "42"
    assert updated["annotations"]["a"] == "2"
    assert updated["annotations"][MANAGED_ANNOTATIONS] == "a"


def test_host_only_label_survives_a_virtual_update():
    host = synced(virtual_pod(labels={"app": "web"}))
    host["metadata"]["labels"]["topology.example.com/zone"] = "z1"
    updated = desired_pod(virtual_pod(labels={"app": "api"}), host)
    assert updated["labels"]["topology.example.com/zone"] == "z1"
    assert updated["labels"]["app"] == "api"


def test_key_removed_in_virtual_is_removed_on_host():
    host = synced(virtual_pod(labels={"app": "web", "tier": "1"}, annotations={"a": "1", "b": "2"}))
    updated = desired_pod(virtual_pod(labels={"app": "web"}, annotations={"a": "1"}), host)
    assert "tier" not in updated["labels"]
    assert "b" not in updated["annotations"]
    assert updated["annotations"][MANAGED_ANNOTATIONS] == "a"
    assert updated["annotations"][MANAGED_LABELS] == "app"


def test_host_edit_of_a_managed_key_is_reverted_to_the_virtual_value():
    host = synced(virtual_pod(annotations={"a": "1"}))
    host["metadata"]["annotations"]["a"] = "edited"
    assert desired_pod(virtual_pod(annotations={"a": "1"}), host)["annotations"]["a"] == "1"


def test_managed_lists_disappear_once_virtual_has_no_keys():
    host = synced(virtual_pod(labels={"app": "web"}, annotations={"a": "1"}))
    updated = desired_pod(virtual_pod(), host)
    assert MANAGED_ANNOTATIONS not in updated["annotations"]
    assert MANAGED_LABELS not in updated["annotations"]
    assert "a" not in updated["annotations"]
    assert "app" not in updated["labels"]


def test_tenant_cannot_spoof_marker_annotations():
    forged = {
        "vcluster.loft.sh/object-name": "victim",
        "vcluster.loft.sh/object-host-name": "victim-x-kube-system-x-vc",
        "vcluster.loft.sh/skip-backsync": "true",
        MANAGED_ANNOTATIONS: "admin.example.com/cost-center",
    }
    result = desired_pod(virtual_pod(annotations=forged))
    assert result["annotations"]["vcluster.loft.sh/object-name"] == "web"
    assert result["annotations"]["vcluster.loft.sh/object-host-name"] == "web-x-default-x-vc"
    assert "vcluster.loft.sh/skip-backsync" not in result["annotations"]
    assert MANAGED_ANNOTATIONS not in result["annotations"]


def test_tenant_cannot_spoof_managed_by_label():
    result = desired_pod(virtual_pod(labels={"vcluster.loft.sh/managed-by": "other"}))
    assert result["labels"]["vcluster.loft.sh/managed-by"] == "vc"
    assert result["labels"][f"vcluster.loft.sh/label-vc-x-{ref_sha10('vcluster.loft.sh/managed-by')}"] == "other"


def test_stale_markers_on_host_are_replaced():
    host = synced(virtual_pod())
    host["metadata"]["annotations"]["vcluster.loft.sh/skip-backsync"] = "true"
    host["metadata"]["annotations"]["vcluster.loft.sh/object-uid"] = "old-uid"
    updated = desired_pod(virtual_pod(), host)
    assert "vcluster.loft.sh/skip-backsync" not in updated["annotations"]
    assert updated["annotations"]["vcluster.loft.sh/object-uid"] == "uid-1"


def test_never_copied_fields_do_not_reach_the_host():
    virtual = virtual_pod()
    virtual["metadata"] |= {
        "resourceVersion": "7",
        "generation": 2,
        "creationTimestamp": "2024-01-01T00:00:00Z",
        "deletionTimestamp": "2024-01-02T00:00:00Z",
        "managedFields": [{}],
        "generateName": "web-",
        "selfLink": "/api/v1/x",
        "finalizers": ["f"],
        "ownerReferences": [{"kind": "ReplicaSet", "name": "web", "uid": "rs"}],
    }
    assert NEVER_COPIED.isdisjoint(desired_pod(virtual))


def test_extras_override_virtual_values_and_are_managed():
    virtual = virtual_pod(annotations={"cluster-autoscaler.kubernetes.io/safe-to-evict": "maybe"})
    result = desired_pod(
        virtual,
        extra_labels={"vcluster.loft.sh/ns-label-vc-x-abc": "team-a"},
        extra_annotations={"cluster-autoscaler.kubernetes.io/safe-to-evict": "true"},
    )
    assert result["labels"]["vcluster.loft.sh/ns-label-vc-x-abc"] == "team-a"
    assert result["annotations"]["cluster-autoscaler.kubernetes.io/safe-to-evict"] == "true"
    assert result["annotations"][MANAGED_LABELS] == "vcluster.loft.sh/ns-label-vc-x-abc"


def test_namespace_label_removed_in_virtual_is_removed_from_host_pod():
    host = synced(virtual_pod(), extra_labels={"vcluster.loft.sh/ns-label-vc-x-abc": "team-a"})
    assert "vcluster.loft.sh/ns-label-vc-x-abc" not in desired_pod(virtual_pod(), host)["labels"]


def test_generated_objects_keep_skip_backsync():
    virtual = {"metadata": {"name": "web-sa-token", "namespace": "default", "uid": "u"}}
    result = desired_host_metadata(virtual, None, names=NAMES, api_version="v1", kind="Secret", skip_backsync=True)
    assert result["name"] == "web-sa-token-x-default-x-vc"
    assert result["annotations"]["vcluster.loft.sh/skip-backsync"] == "true"


def test_cluster_scoped_object_gets_cluster_scoped_names_and_label_keys():
    virtual = {"metadata": {"name": "high", "uid": "u", "labels": {"release": "r", "tier": "gold"}}}
    result = desired_host_metadata(virtual, None, names=NAMES, api_version="scheduling.k8s.io/v1", kind="PriorityClass")
    assert "namespace" not in result
    assert result["name"] == "vcluster-high-x-host-ns-x-vc"
    assert result["labels"] == {
        f"vcluster.loft.sh/label-host-ns-x-vc-x-{ref_sha10('release')}": "r",
        "tier": "gold",
        "vcluster.loft.sh/managed-by": "host-ns-x-vc",
    }
    assert "vcluster.loft.sh/object-namespace" not in result["annotations"]
    assert "vcluster.loft.sh/object-host-namespace" not in result["annotations"]


def test_synced_objects_pass_the_managed_check():
    pod = {"metadata": {"name": "p" * 63, "namespace": "n" * 63, "uid": "u"}}
    assert is_managed(synced(pod), names=NAMES, api_version="v1", kind="Pod")
    priority_class = {"metadata": {"name": "c" * 63, "uid": "u"}}
    host = {"metadata": desired_host_metadata(priority_class, None, names=NAMES, api_version="v1", kind="X")}
    assert is_managed(host, names=NAMES, api_version="v1", kind="X")


def test_recomputing_from_the_synced_host_changes_nothing():
    virtual = virtual_pod(labels={"app": "web", "release": "r"}, annotations={"a": "1"})
    host = synced(virtual, extra_labels={"x": "y"})
    host["metadata"]["annotations"]["admin"] = "kept"
    assert desired_pod(virtual, host, extra_labels={"x": "y"}) == host["metadata"]


def test_inputs_are_not_modified():
    virtual = virtual_pod(labels={"app": "web"}, annotations={"a": "1"})
    host = synced(virtual_pod(labels={"old": "1"}))
    before = copy.deepcopy((virtual, host))
    desired_pod(virtual, host)
    assert (virtual, host) == before
