"""PersistentVolumeClaims (SPEC §6.5): storage is provisioned and bound on the host, so a claim goes down once with
its request and class, later only a storage expansion follows, and the binding (volume name, binder annotations,
status) flows up. A bound claim whose host copy vanished is marked Lost, never silently provisioned anew."""

from __future__ import annotations

from translators.kind import KindSpec, Obj, Refuse, Step, SyncContext, Write
from translators.metadata import desired_host_metadata
from vocab.diff import owned_patch
from vocab.resources import PERSISTENTVOLUMECLAIMS

HOST_OWNED_ANNOTATIONS = (
    "pv.kubernetes.io/bind-completed",
    "pv.kubernetes.io/bound-by-controller",
    "volume.beta.kubernetes.io/storage-provisioner",
    "volume.kubernetes.io/storage-provisioner",
)
BETA_STORAGE_CLASS = "volume.beta.kubernetes.io/storage-class"
COPIED = ("accessModes", "resources", "volumeMode")
TRANSLATED_SOURCES = frozenset({("", "PersistentVolumeClaim"), ("snapshot.storage.k8s.io", "VolumeSnapshot")})
OWNED = ("spec.resources.requests",)  # everything else in the spec goes down at create only
STATIC_BINDING = (
    "PersistentVolumeClaims with a preset spec.volumeName or spec.selector are not supported: "
    "host PersistentVolumes cannot be claimed from a virtual cluster"
)
LOST = "the host copy of this bound PersistentVolumeClaim is gone; its data cannot be recovered by recreating it"


def storage_class(ctx: SyncContext, name: str) -> str:
    """The host name of a storage class: its synced copy with `storageclasses` on, else the host class itself."""
    if not name or "storageclasses" not in ctx.config.sync:
        return name
    return ctx.names.to_host(None, name)[1]


def _data_source(ctx: SyncContext, ref: Obj, namespace: str) -> Obj:
    """A claim or snapshot source points at its host copy in T; other kinds (volume populators) go down as is."""
    if (ref.get("apiGroup") or "", ref.get("kind")) not in TRANSLATED_SOURCES:
        return ref
    _, name = ctx.names.to_host(ref.get("namespace") or namespace, ref["name"])
    return {**{key: value for key, value in ref.items() if key != "namespace"}, "name": name}


def desired(ctx: SyncContext, pvc: Obj) -> Obj:
    spec, namespace = pvc.get("spec") or {}, pvc["metadata"]["namespace"]
    out = {key: spec[key] for key in COPIED if key in spec}
    for key in ("dataSource", "dataSourceRef"):
        if spec.get(key):
            out[key] = _data_source(ctx, spec[key], namespace)
    if spec.get("storageClassName") is not None:
        out["storageClassName"] = storage_class(ctx, spec["storageClassName"])
    return {"spec": out}


def metadata(ctx: SyncContext, pvc: Obj, host: Obj | None) -> Obj:
    """The generic metadata without the binder's annotations and with the beta class annotation translated."""
    meta = pvc["metadata"]
    annotations = {k: v for k, v in (meta.get("annotations") or {}).items() if k not in HOST_OWNED_ANNOTATIONS}
    beta = annotations.get(BETA_STORAGE_CLASS)
    extra = {BETA_STORAGE_CLASS: storage_class(ctx, beta)} if beta is not None else None
    vobj = {**pvc, "metadata": {**meta, "annotations": annotations}}
    return desired_host_metadata(
        vobj, host, names=ctx.names, api_version="v1", kind=PERSISTENTVOLUMECLAIMS.kind, extra_annotations=extra
    )


def before_create(ctx: SyncContext, pvc: Obj) -> list[Step]:
    spec = pvc.get("spec") or {}
    return [Refuse("unsupported", STATIC_BINDING)] if spec.get("volumeName") or spec.get("selector") else []


def host_gone(ctx: SyncContext, pvc: Obj) -> list[Step] | None:
    """A deleting claim needs nothing more; an unbound one is created (again); a bound one becomes Lost."""
    if pvc["metadata"].get("deletionTimestamp"):
        return []
    phase = (pvc.get("status") or {}).get("phase")
    if phase not in ("Bound", "Lost"):
        return None
    lost = [] if phase == "Lost" else [_virtual_write(pvc, {"status": {"phase": "Lost"}}, "status", "host claim lost")]
    return [*lost, Refuse("lost", LOST)]


def existing(ctx: SyncContext, pvc: Obj, host: Obj) -> list[Step]:
    return _deletion(pvc, host) or _binding_up(pvc, host) or _status_up(pvc, host)


def _virtual_write(pvc: Obj, patch: Obj, subresource: str | None, why: str) -> Write:
    meta = pvc["metadata"]
    body = {**patch, "metadata": {**patch.get("metadata", {}), "resourceVersion": meta.get("resourceVersion")}}
    namespace, name = meta["namespace"], meta["name"]
    return Write("virtual", "patch", PERSISTENTVOLUMECLAIMS, namespace, name, body, subresource=subresource, why=why)


def _deletion(pvc: Obj, host: Obj) -> list[Step]:
    """Like pods, without grace periods: a deletion on either side deletes the other side (UID precondition)."""
    vmeta, hmeta = pvc["metadata"], host["metadata"]
    if vmeta.get("deletionTimestamp") and not hmeta.get("deletionTimestamp"):
        side, meta, why = "host", hmeta, "virtual claim deleted"
    elif hmeta.get("deletionTimestamp") and not vmeta.get("deletionTimestamp"):
        side, meta, why = "virtual", vmeta, "host claim deleted"
    else:
        return []
    return [Write(side, "delete", PERSISTENTVOLUMECLAIMS, meta["namespace"], meta["name"], uid=meta["uid"], why=why)]


def _binding_up(pvc: Obj, host: Obj) -> list[Step]:
    """The host binder's volume name (only into an empty virtual one) and its annotations, mirrored exactly."""
    patch: Obj = {}
    volume = (host.get("spec") or {}).get("volumeName")
    if volume and not (pvc.get("spec") or {}).get("volumeName"):
        patch["spec"] = {"volumeName": volume}
    host_annotations = host["metadata"].get("annotations") or {}
    virtual_annotations = pvc["metadata"].get("annotations") or {}
    changed = {
        key: host_annotations.get(key)
        for key in HOST_OWNED_ANNOTATIONS
        if host_annotations.get(key) != virtual_annotations.get(key)
    }
    if changed:
        patch["metadata"] = {"annotations": changed}
    return [_virtual_write(pvc, patch, None, "binding")] if patch else []


def _status_up(pvc: Obj, host: Obj) -> list[Step]:
    patch = owned_patch(pvc, {"status": host.get("status") or {}}, ("status",))
    return [_virtual_write(pvc, patch, "status", "status")] if patch else []


KIND = KindSpec(
    name="persistentvolumeclaims",
    resource=PERSISTENTVOLUMECLAIMS,
    owned=OWNED,
    desired=desired,
    metadata=metadata,
    before_create=before_create,
    existing=existing,
    host_gone=host_gone,
    uid_exempt=True,
)
