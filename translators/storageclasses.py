"""StorageClasses down (SPEC §3, §6.7): cluster-scoped, so the host copy is `HC(name)`, and tenant PVCs name it
through `HC()`. The default-class annotations are never copied, so a tenant cannot change the host's default class;
the provisioning fields are immutable on the host, so a change there deletes and recreates the class."""

from __future__ import annotations

from translators.kind import KindSpec, Obj, SyncContext
from translators.metadata import desired_host_metadata
from vocab.diff import owned_view
from vocab.resources import STORAGECLASSES

COPIED = (
    "provisioner",
    "parameters",
    "reclaimPolicy",
    "mountOptions",
    "allowVolumeExpansion",
    "volumeBindingMode",
    "allowedTopologies",
)
IMMUTABLE = ("provisioner", "parameters", "reclaimPolicy", "volumeBindingMode")
DEFAULT_CLASS_ANNOTATIONS = frozenset(
    {"storageclass.kubernetes.io/is-default-class", "storageclass.beta.kubernetes.io/is-default-class"}
)


def desired(ctx: SyncContext, storage_class: Obj) -> Obj:
    return {key: storage_class[key] for key in COPIED if key in storage_class}


def must_recreate(host: Obj, want: Obj) -> bool:
    return owned_view(host, IMMUTABLE) != owned_view(want, IMMUTABLE)


def metadata(ctx: SyncContext, storage_class: Obj, host: Obj | None) -> Obj:
    """The generic host metadata of a copy without the default-class annotations."""
    meta = storage_class["metadata"]
    kept = {k: v for k, v in (meta.get("annotations") or {}).items() if k not in DEFAULT_CLASS_ANNOTATIONS}
    stripped = {**storage_class, "metadata": {**meta, "annotations": kept}}
    return desired_host_metadata(
        stripped, host, names=ctx.names, api_version=STORAGECLASSES.api_version, kind=STORAGECLASSES.kind
    )


KIND = KindSpec(
    name="storageclasses",
    resource=STORAGECLASSES,
    owned=COPIED,
    desired=desired,
    must_recreate=must_recreate,
    metadata=metadata,
)
