"""Fake PersistentVolumes (SPEC §6.5): a virtual claim bound on the host names a volume the virtual cluster has never
seen, so a stand-in PV of a fixed shape is put there for tools that follow claim -> volume. These helpers decide the
shape and the lifetime; only PVs carrying the fake-pv label are ever ours to touch."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

Obj = dict[str, Any]
FAKE_PV_LABEL = "vcluster.loft.sh/fake-pv"
PROVISIONER = "fake-pv-provisioner"


def fake_pv(pvc: Obj, volume_name: str, now: str) -> Obj:
    """The fake PV for virtual claim `pvc` bound to `volume_name`; `now` stamps the Bound phase transition."""
    meta, spec = pvc["metadata"], pvc.get("spec") or {}
    pv_spec: Obj = {
        "flexVolume": {"driver": "fake"},
        "capacity": dict((spec.get("resources") or {}).get("requests") or {}),
        "accessModes": list(spec.get("accessModes") or ()),
        "claimRef": {"namespace": meta["namespace"], "name": meta["name"], "uid": meta.get("uid", "")},
        "persistentVolumeReclaimPolicy": "Delete",
    }
    for key in ("volumeMode", "storageClassName"):
        if spec.get(key):
            pv_spec[key] = spec[key]
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {
            "name": volume_name,
            "labels": {FAKE_PV_LABEL: "true"},
            "annotations": {
                "kubernetes.io/createdby": PROVISIONER,
                "pv.kubernetes.io/bound-by-controller": "true",
                "pv.kubernetes.io/provisioned-by": PROVISIONER,
            },
        },
        "spec": pv_spec,
        "status": {"phase": "Bound", "lastPhaseTransitionTime": now},
    }


def is_fake_pv(pv: Obj) -> bool:
    return ((pv.get("metadata") or {}).get("labels") or {}).get(FAKE_PV_LABEL) == "true"


def pv_needed(pv_name: str, virtual_pvcs: Iterable[Obj]) -> bool:
    """Whether some virtual claim still names the PV; once none does, the fake PV is deleted."""
    return any((pvc.get("spec") or {}).get("volumeName") == pv_name for pvc in virtual_pvcs)
