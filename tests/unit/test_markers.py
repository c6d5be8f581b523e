"""Markers and the managed check (SPEC §4.1, §4.3): the exact keys and values vcluster writes, and the rule that
decides which host objects this syncer may touch. Each negative case is one way a foreign or forged object could
look managed."""

from __future__ import annotations

import copy

import pytest

from translators import markers
from translators.markers import is_managed, managed_by_selector, marker_annotations, marker_labels, object_kind_value
from translators.names import NameTranslator

NAMES = NameTranslator("vc", "host-ns")


def managed_pod() -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "web-x-default-x-vc",
            "namespace": "host-ns",
            "labels": {"vcluster.loft.sh/managed-by": "vc", "vcluster.loft.sh/namespace": "default"},
            "annotations": {
                "vcluster.loft.sh/object-name": "web",
                "vcluster.loft.sh/object-namespace": "default",
                "vcluster.loft.sh/object-uid": "uid-1",
                "vcluster.loft.sh/object-kind": "/v1, Kind=Pod",
                "vcluster.loft.sh/object-host-name": "web-x-default-x-vc",
                "vcluster.loft.sh/object-host-namespace": "host-ns",
            },
        },
    }


def managed_priority_class() -> dict:
    return {
        "metadata": {
            "name": "vcluster-high-x-host-ns-x-vc",
            "labels": {"vcluster.loft.sh/managed-by": "host-ns-x-vc"},
            "annotations": {"vcluster.loft.sh/object-name": "high"},
        }
    }


def pod_is_managed(obj: dict, names: NameTranslator = NAMES) -> bool:
    return is_managed(obj, names=names, api_version="v1", kind="Pod")


def priority_class_is_managed(obj: dict, names: NameTranslator = NAMES) -> bool:
    return is_managed(obj, names=names, api_version="scheduling.k8s.io/v1", kind="PriorityClass")


def test_marker_keys_are_vclusters():
    assert [
        markers.MANAGED_BY,
        markers.NAMESPACE_LABEL,
        markers.OBJECT_NAME,
        markers.OBJECT_NAMESPACE,
        markers.OBJECT_UID,
        markers.OBJECT_KIND,
        markers.OBJECT_HOST_NAME,
        markers.OBJECT_HOST_NAMESPACE,
        markers.MANAGED_ANNOTATIONS,
        markers.MANAGED_LABELS,
        markers.SKIP_BACKSYNC,
        markers.FORCE_SYNC,
    ] == [
        "vcluster.loft.sh/managed-by",
        "vcluster.loft.sh/namespace",
        "vcluster.loft.sh/object-name",
        "vcluster.loft.sh/object-namespace",
        "vcluster.loft.sh/object-uid",
        "vcluster.loft.sh/object-kind",
        "vcluster.loft.sh/object-host-name",
        "vcluster.loft.sh/object-host-namespace",
        "vcluster.loft.sh/managed-annotations",
        "vcluster.loft.sh/managed-labels",
        "vcluster.loft.sh/skip-backsync",
        "vcluster.loft.sh/force-sync",
    ]


@pytest.mark.parametrize(
    ("api_version", "kind", "expected"),
    [
        ("v1", "Pod", "/v1, Kind=Pod"),
        ("networking.k8s.io/v1", "Ingress", "networking.k8s.io/v1, Kind=Ingress"),
        ("scheduling.k8s.io/v1", "PriorityClass", "scheduling.k8s.io/v1, Kind=PriorityClass"),
    ],
)
def test_object_kind_is_the_go_group_version_kind_string(api_version, kind, expected):
    assert object_kind_value(api_version, kind) == expected


def test_namespaced_marker_labels_carry_suffix_and_virtual_namespace():
    virtual = {"metadata": {"name": "web", "namespace": "default"}}
    assert marker_labels(virtual, names=NAMES) == {
        "vcluster.loft.sh/managed-by": "vc",
        "vcluster.loft.sh/namespace": "default",
    }


def test_cluster_scoped_marker_labels_carry_target_namespace_and_suffix():
    assert marker_labels({"metadata": {"name": "high"}}, names=NAMES) == {"vcluster.loft.sh/managed-by": "host-ns-x-vc"}


def test_namespaced_marker_annotations_record_virtual_and_host_identity():
    virtual = {"metadata": {"name": "web", "namespace": "default", "uid": "uid-1"}}
    assert (
        marker_annotations(virtual, names=NAMES, api_version="v1", kind="Pod")
        == managed_pod()["metadata"]["annotations"]
    )


def test_cluster_scoped_marker_annotations_have_no_namespaces():
    virtual = {"metadata": {"name": "high", "uid": "uid-2"}}
    assert marker_annotations(virtual, names=NAMES, api_version="scheduling.k8s.io/v1", kind="PriorityClass") == {
        "vcluster.loft.sh/object-name": "high",
        "vcluster.loft.sh/object-uid": "uid-2",
        "vcluster.loft.sh/object-kind": "scheduling.k8s.io/v1, Kind=PriorityClass",
        "vcluster.loft.sh/object-host-name": "vcluster-high-x-host-ns-x-vc",
    }


def test_managed_key_lists_are_sorted_and_newline_joined():
    virtual = {"metadata": {"name": "web", "namespace": "default", "uid": "u"}}
    result = marker_annotations(
        virtual, names=NAMES, api_version="v1", kind="Pod", managed_annotations=["b", "a"], managed_labels=["z", "app"]
    )
    assert result["vcluster.loft.sh/managed-annotations"] == "a\nb"
    assert result["vcluster.loft.sh/managed-labels"] == "app\nz"


def test_managed_key_lists_are_absent_when_empty():
    virtual = {"metadata": {"name": "web", "namespace": "default", "uid": "u"}}
    result = marker_annotations(virtual, names=NAMES, api_version="v1", kind="Pod")
    assert "vcluster.loft.sh/managed-annotations" not in result
    assert "vcluster.loft.sh/managed-labels" not in result
    assert "vcluster.loft.sh/skip-backsync" not in result


def test_generated_objects_can_be_marked_skip_backsync():
    virtual = {"metadata": {"name": "web-sa-token", "namespace": "default", "uid": "u"}}
    result = marker_annotations(virtual, names=NAMES, api_version="v1", kind="Secret", skip_backsync=True)
    assert result["vcluster.loft.sh/skip-backsync"] == "true"


def test_managed_by_selector_for_host_watches():
    assert managed_by_selector(NAMES, cluster_scoped=False) == "vcluster.loft.sh/managed-by=vc"
    assert managed_by_selector(NAMES, cluster_scoped=True) == "vcluster.loft.sh/managed-by=host-ns-x-vc"


def test_object_with_all_markers_is_managed():
    assert pod_is_managed(managed_pod())


def test_optional_identity_annotations_may_be_absent():
    pod = managed_pod()
    for key in ("object-kind", "object-host-name", "object-host-namespace", "object-uid"):
        del pod["metadata"]["annotations"][f"vcluster.loft.sh/{key}"]
    assert pod_is_managed(pod)


def test_object_in_another_namespace_is_not_managed():
    pod = managed_pod()
    pod["metadata"]["namespace"] = "other-ns"
    pod["metadata"]["annotations"]["vcluster.loft.sh/object-host-namespace"] = "other-ns"
    assert not pod_is_managed(pod)


def test_object_of_another_vcluster_in_the_same_namespace_is_not_managed():
    other = NameTranslator("other", "host-ns")
    assert not pod_is_managed(managed_pod(), names=other)


def test_object_with_wrong_managed_by_is_not_managed():
    pod = managed_pod()
    pod["metadata"]["labels"]["vcluster.loft.sh/managed-by"] = "other"
    assert not pod_is_managed(pod)


def test_object_without_labels_is_not_managed():
    pod = managed_pod()
    del pod["metadata"]["labels"]
    assert not pod_is_managed(pod)


def test_object_whose_name_does_not_match_its_virtual_identity_is_not_managed():
    pod = managed_pod()
    pod["metadata"]["annotations"]["vcluster.loft.sh/object-name"] = "api"
    assert not pod_is_managed(pod)


def test_object_whose_virtual_namespace_does_not_match_its_name_is_not_managed():
    pod = managed_pod()
    pod["metadata"]["annotations"]["vcluster.loft.sh/object-namespace"] = "prod"
    assert not pod_is_managed(pod)


def test_object_without_virtual_namespace_is_not_managed():
    pod = managed_pod()
    del pod["metadata"]["annotations"]["vcluster.loft.sh/object-namespace"]
    assert not pod_is_managed(pod)


def test_object_without_object_name_is_not_managed():
    pod = managed_pod()
    del pod["metadata"]["annotations"]["vcluster.loft.sh/object-name"]
    assert not pod_is_managed(pod)


def test_object_with_empty_object_name_is_not_managed():
    pod = managed_pod()
    pod["metadata"]["annotations"]["vcluster.loft.sh/object-name"] = ""
    assert not pod_is_managed(pod)


def test_object_recorded_as_another_kind_is_not_managed():
    assert not is_managed(managed_pod(), names=NAMES, api_version="v1", kind="Secret")


@pytest.mark.parametrize(
    ("key", "value"),
    [("object-host-name", "api-x-default-x-vc"), ("object-host-namespace", "elsewhere")],
)
def test_object_recorded_at_another_host_location_is_not_managed(key, value):
    pod = managed_pod()
    pod["metadata"]["annotations"][f"vcluster.loft.sh/{key}"] = value
    assert not pod_is_managed(pod)


def test_managed_check_does_not_modify_the_object():
    pod = managed_pod()
    before = copy.deepcopy(pod)
    pod_is_managed(pod)
    assert pod == before


def test_cluster_scoped_object_with_markers_is_managed():
    assert priority_class_is_managed(managed_priority_class())


def test_cluster_scoped_object_labelled_with_the_bare_suffix_is_not_managed():
    pc = managed_priority_class()
    pc["metadata"]["labels"]["vcluster.loft.sh/managed-by"] = "vc"
    assert not priority_class_is_managed(pc)


def test_cluster_scoped_object_of_a_vcluster_in_another_target_namespace_is_not_managed():
    assert not priority_class_is_managed(managed_priority_class(), names=NameTranslator("vc", "other-ns"))


def test_cluster_scoped_object_whose_name_does_not_match_is_not_managed():
    pc = managed_priority_class()
    pc["metadata"]["annotations"]["vcluster.loft.sh/object-name"] = "low"
    assert not priority_class_is_managed(pc)


def test_cluster_scoped_object_without_object_name_is_not_managed():
    pc = managed_priority_class()
    del pc["metadata"]["annotations"]
    assert not priority_class_is_managed(pc)


def test_object_without_metadata_is_not_managed():
    assert not pod_is_managed({})
