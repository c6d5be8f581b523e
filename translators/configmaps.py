"""ConfigMaps (SPEC §6.4): synced only while used by a virtual pod, forced by annotation, or with
--sync-all-configmaps. Data goes down as is; an immutable host copy that differs is recreated."""

from __future__ import annotations

from translators.kind import KindSpec, Obj, SyncContext, Trigger
from translators.markers import FORCE_SYNC
from translators.references import referenced_keys
from vocab.diff import owned_view
from vocab.resources import CONFIGMAPS, PODS

CONTENT = ("data", "binaryData")


def pods_referencing(pod: Obj) -> tuple[str, ...]:
    return referenced_keys(pod, "configmaps")


def is_used(ctx: SyncContext, cm: Obj, *, sync_all: bool, index: str) -> bool:
    """Shared by ConfigMaps and Secrets: forced, sync-all, or referenced by some virtual pod."""
    meta = cm["metadata"]
    if (meta.get("annotations") or {}).get(FORCE_SYNC) == "true" or sync_all:
        return True
    return bool(ctx.virtual(PODS).keys_by_index(index, f"{meta['namespace']}/{meta['name']}"))


def immutable_and_changed(host: Obj, desired: Obj, content: tuple[str, ...] = CONTENT) -> bool:
    return bool(host.get("immutable")) and owned_view(host, content) != owned_view(desired, content)


def desired(ctx: SyncContext, cm: Obj) -> Obj:
    return {key: cm[key] for key in ("data", "binaryData", "immutable") if key in cm}


KIND = KindSpec(
    name="configmaps",
    resource=CONFIGMAPS,
    owned=("data", "binaryData", "immutable"),
    desired=desired,
    should_sync=lambda ctx, cm: is_used(ctx, cm, sync_all=ctx.config.sync_all_configmaps, index="configmaps"),
    must_recreate=immutable_and_changed,
    virtual_indexes={PODS: {"configmaps": pods_referencing}},
    triggers=(Trigger("virtual", PODS, pods_referencing),),
)
