"""PersistentVolumeClaims and fake PersistentVolumes (SPEC §6.5): a claim goes down once with translated references,
later only its storage request; the host binder's results flow up; a bound claim whose host copy vanished is Lost
rather than re-provisioned; and the fake PV standing in for the host volume has vcluster's exact shape."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from translators import pvcs
from translators.fakepvs import fake_pv, is_fake_pv, pv_needed
from translators.kind import Refuse, Write
from translators.names import NameTranslator
from vocab.resources import PERSISTENTVOLUMECLAIMS

Obj = dict[str, Any]
T = "host-ns"
NAMES = NameTranslator("vc", T)
BIND_COMPLETED = "pv.kubernetes.io/bind-completed"
PROVISIONER = "volume.kubernetes.io/storage-provisioner"
BETA_CLASS = "volume.beta.kubernetes.io/storage-class"


def context(*kinds: str) -> SimpleNamespace:
    return SimpleNamespace(config=SimpleNamespace(sync=frozenset(kinds)), names=NAMES)


def pvc(spec: Obj | None = None, status: Obj | None = None, **metadata: Any) -> Obj:
    meta = {"name": "data", "namespace": "team-a", "uid": "pvc-uid", "resourceVersion": "7", **metadata}
    base = {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": "1Gi"}},
        "volumeMode": "Filesystem",
        "storageClassName": "fast",
    }
    obj = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": meta, "spec": {**base, **(spec or {})}}
    return obj | ({"status": status} if status is not None else {})


def host_pvc(spec: Obj | None = None, status: Obj | None = None, **metadata: Any) -> Obj:
    meta = {"name": "data-x-team-a-x-vc", "namespace": T, "uid": "host-uid", "resourceVersion": "3", **metadata}
    return pvc(spec, status) | {"metadata": meta}


# ---- down --------------------------------------------------------------------------------------------------------
def test_create_copies_access_modes_resources_volume_mode_and_class_as_is_without_storageclass_sync() -> None:
    claim = pvc({"resources": {"requests": {"storage": "1Gi"}, "limits": {"storage": "2Gi"}}})
    assert pvcs.KIND.desired(context(), claim) == {
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": "1Gi"}, "limits": {"storage": "2Gi"}},
            "volumeMode": "Filesystem",
            "storageClassName": "fast",
        }
    }


def test_storage_class_names_the_synced_host_class_when_storageclasses_is_on() -> None:
    spec = pvcs.KIND.desired(context("storageclasses"), pvc())["spec"]
    assert spec["storageClassName"] == "vcluster-fast-x-host-ns-x-vc"


def test_an_empty_storage_class_stays_empty_and_an_absent_one_absent() -> None:
    assert pvcs.KIND.desired(context("storageclasses"), pvc({"storageClassName": ""}))["spec"]["storageClassName"] == ""
    claim = pvc()
    del claim["spec"]["storageClassName"]
    assert "storageClassName" not in pvcs.KIND.desired(context("storageclasses"), claim)["spec"]


def test_a_claim_or_snapshot_data_source_points_at_its_host_copy() -> None:
    snapshot = {"apiGroup": "snapshot.storage.k8s.io", "kind": "VolumeSnapshot", "name": "snap"}
    claim_source = {"kind": "PersistentVolumeClaim", "name": "old"}
    spec = pvcs.KIND.desired(context(), pvc({"dataSource": claim_source, "dataSourceRef": snapshot}))["spec"]
    assert spec["dataSource"] == {"kind": "PersistentVolumeClaim", "name": "old-x-team-a-x-vc"}
    assert spec["dataSourceRef"] == {**snapshot, "name": "snap-x-team-a-x-vc"}


def test_a_cross_namespace_data_source_ref_is_translated_within_the_target_namespace() -> None:
    ref = {"kind": "PersistentVolumeClaim", "apiGroup": "", "name": "old", "namespace": "team-b"}
    spec = pvcs.KIND.desired(context(), pvc({"dataSourceRef": ref}))["spec"]
    assert spec["dataSourceRef"] == {"kind": "PersistentVolumeClaim", "apiGroup": "", "name": "old-x-team-b-x-vc"}


def test_a_populator_data_source_goes_down_unchanged() -> None:
    ref = {"apiGroup": "example.com", "kind": "Populator", "name": "seed"}
    assert pvcs.KIND.desired(context(), pvc({"dataSourceRef": ref}))["spec"]["dataSourceRef"] == ref


def test_only_the_storage_request_is_compared_after_create() -> None:
    assert pvcs.KIND.owned == ("spec.resources.requests",)


def test_host_owned_annotations_are_never_copied_down_and_the_beta_class_is_translated() -> None:
    annotations = {BIND_COMPLETED: "yes", PROVISIONER: "csi", BETA_CLASS: "fast", "team": "db"}
    meta = pvcs.KIND.metadata(context("storageclasses"), pvc(annotations=annotations), None)
    assert meta["annotations"][BETA_CLASS] == "vcluster-fast-x-host-ns-x-vc"
    assert meta["annotations"]["team"] == "db"
    assert BIND_COMPLETED not in meta["annotations"]
    assert PROVISIONER not in meta["annotations"]


def test_the_host_binders_annotations_survive_a_metadata_update() -> None:
    host = host_pvc(annotations={BIND_COMPLETED: "yes"})
    meta = pvcs.KIND.metadata(context(), pvc(annotations={BIND_COMPLETED: "yes", "team": "db"}), host)
    assert meta["annotations"][BIND_COMPLETED] == "yes"
    assert BIND_COMPLETED not in meta["annotations"]["vcluster.loft.sh/managed-annotations"].split("\n")


def test_a_claim_with_a_preset_volume_name_or_selector_is_refused() -> None:
    for spec in ({"volumeName": "pv-1"}, {"selector": {"matchLabels": {"disk": "ssd"}}}):
        steps = pvcs.KIND.before_create(context(), pvc(spec))
        assert len(steps) == 1 and isinstance(steps[0], Refuse), spec
        assert steps[0].reason == "unsupported"


def test_a_plain_claim_is_created_without_objection() -> None:
    assert pvcs.KIND.before_create(context(), pvc()) == []


def test_pvcs_are_exempt_from_uid_mismatch_recreation() -> None:
    assert pvcs.KIND.uid_exempt


# ---- up ----------------------------------------------------------------------------------------------------------
def test_the_host_volume_name_and_binder_annotations_flow_up_in_one_patch() -> None:
    host = host_pvc({"volumeName": "pvc-123"}, annotations={BIND_COMPLETED: "yes", PROVISIONER: "csi"})
    steps = pvcs.KIND.existing(context(), pvc(annotations={"pv.kubernetes.io/bound-by-controller": "yes"}), host)
    assert steps == [
        Write(
            "virtual",
            "patch",
            PERSISTENTVOLUMECLAIMS,
            "team-a",
            "data",
            {
                "spec": {"volumeName": "pvc-123"},
                "metadata": {
                    "annotations": {
                        BIND_COMPLETED: "yes",
                        PROVISIONER: "csi",
                        "pv.kubernetes.io/bound-by-controller": None,
                    },
                    "resourceVersion": "7",
                },
            },
            why="binding",
        )
    ]


def test_a_virtual_volume_name_already_set_is_not_overwritten() -> None:
    host = host_pvc({"volumeName": "pvc-123"})
    assert pvcs.KIND.existing(context(), pvc({"volumeName": "pvc-123"}), host) == []
    assert pvcs.KIND.existing(context(), pvc({"volumeName": "other"}), host) == []


def test_host_status_flows_up_through_the_status_subresource_after_the_binding() -> None:
    status = {"phase": "Bound", "capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"]}
    host = host_pvc({"volumeName": "pvc-123"}, status)
    steps = pvcs.KIND.existing(context(), pvc({"volumeName": "pvc-123"}, {"phase": "Pending"}), host)
    assert len(steps) == 1
    write = steps[0]
    assert (write.side, write.verb, write.subresource) == ("virtual", "patch", "status")
    assert write.body == {
        "status": {"phase": "Bound", "capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"]},
        "metadata": {"resourceVersion": "7"},
    }


def test_a_claim_in_sync_with_its_host_copy_needs_no_step() -> None:
    status = {"phase": "Bound"}
    host = host_pvc({"volumeName": "pvc-1"}, status, annotations={BIND_COMPLETED: "yes"})
    claim = pvc({"volumeName": "pvc-1"}, status, annotations={BIND_COMPLETED: "yes"})
    assert pvcs.KIND.existing(context(), claim, host) == []


# ---- deletion ----------------------------------------------------------------------------------------------------
def test_a_deleting_virtual_claim_deletes_the_host_claim_without_grace() -> None:
    steps = pvcs.KIND.existing(context(), pvc(deletionTimestamp="2024-01-01T00:00:00Z"), host_pvc())
    assert steps == [
        Write(
            "host",
            "delete",
            PERSISTENTVOLUMECLAIMS,
            T,
            "data-x-team-a-x-vc",
            uid="host-uid",
            why="virtual claim deleted",
        )
    ]


def test_a_deleting_host_claim_deletes_the_virtual_claim() -> None:
    steps = pvcs.KIND.existing(context(), pvc(), host_pvc(deletionTimestamp="2024-01-01T00:00:00Z"))
    assert steps == [
        Write("virtual", "delete", PERSISTENTVOLUMECLAIMS, "team-a", "data", uid="pvc-uid", why="host claim deleted")
    ]


def test_a_deleting_virtual_claim_whose_host_copy_is_gone_is_not_recreated() -> None:
    assert pvcs.KIND.host_gone(context(), pvc(deletionTimestamp="2024-01-01T00:00:00Z")) == []


def test_an_unbound_claim_whose_host_copy_is_gone_is_created_again() -> None:
    assert pvcs.KIND.host_gone(context(), pvc(status={"phase": "Pending"})) is None


def test_a_bound_claim_whose_host_copy_is_gone_becomes_lost_and_is_refused() -> None:
    steps = pvcs.KIND.host_gone(context(), pvc({"volumeName": "pvc-1"}, {"phase": "Bound"}))
    assert steps is not None
    lost, refusal = steps
    assert lost == Write(
        "virtual",
        "patch",
        PERSISTENTVOLUMECLAIMS,
        "team-a",
        "data",
        {"status": {"phase": "Lost"}, "metadata": {"resourceVersion": "7"}},
        subresource="status",
        why="host claim lost",
    )
    assert isinstance(refusal, Refuse) and refusal.message == pvcs.LOST


def test_a_lost_claim_stays_refused_without_writing_again() -> None:
    steps = pvcs.KIND.host_gone(context(), pvc({"volumeName": "pvc-1"}, {"phase": "Lost"}))
    assert steps == [Refuse("lost", pvcs.LOST)]


# ---- fake PVs ----------------------------------------------------------------------------------------------------
def test_fake_pv_has_the_exact_shape() -> None:
    claim = pvc({"volumeMode": "Block", "resources": {"requests": {"storage": "5Gi"}}})
    assert fake_pv(claim, "pvc-123", "2024-05-01T10:00:00Z") == {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {
            "name": "pvc-123",
            "labels": {"vcluster.loft.sh/fake-pv": "true"},
            "annotations": {
                "kubernetes.io/createdby": "fake-pv-provisioner",
                "pv.kubernetes.io/bound-by-controller": "true",
                "pv.kubernetes.io/provisioned-by": "fake-pv-provisioner",
            },
        },
        "spec": {
            "flexVolume": {"driver": "fake"},
            "capacity": {"storage": "5Gi"},
            "accessModes": ["ReadWriteOnce"],
            "claimRef": {"namespace": "team-a", "name": "data", "uid": "pvc-uid"},
            "persistentVolumeReclaimPolicy": "Delete",
            "volumeMode": "Block",
            "storageClassName": "fast",
        },
        "status": {"phase": "Bound", "lastPhaseTransitionTime": "2024-05-01T10:00:00Z"},
    }


def test_fake_pv_leaves_out_a_class_the_claim_does_not_have() -> None:
    claim = pvc()
    del claim["spec"]["storageClassName"]
    assert "storageClassName" not in fake_pv(claim, "pvc-1", "2024-05-01T10:00:00Z")["spec"]


def test_only_pvs_labelled_fake_are_fake() -> None:
    assert is_fake_pv(fake_pv(pvc(), "pvc-1", "2024-05-01T10:00:00Z"))
    assert not is_fake_pv({"metadata": {"name": "real", "labels": {"vcluster.loft.sh/fake-pv": "false"}}})
    assert not is_fake_pv({"metadata": {"name": "real"}})


def test_a_fake_pv_is_needed_while_some_virtual_claim_names_it() -> None:
    claims = [pvc({"volumeName": "pvc-1"}), pvc()]
    assert pv_needed("pvc-1", claims)
    assert not pv_needed("pvc-2", claims)
    assert not pv_needed("pvc-1", [])
