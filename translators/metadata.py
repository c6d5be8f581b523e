"""Host metadata for a virtual object (SPEC §4.2). Keys that came from virtual are recorded on the host, so a key
removed in virtual is removed on host, while keys added by host admins or controllers survive every update."""

from __future__ import annotations

from collections.abc import Set
from typing import Any

from translators.labels import translate_labels
from translators.markers import (
    MANAGED_ANNOTATIONS,
    MANAGED_LABELS,
    MARKER_ANNOTATION_KEYS,
    MARKER_LABEL_KEYS,
    marker_annotations,
    marker_labels,
)
from translators.names import NameTranslator

NEVER_COPIED = frozenset(
    {
        "uid",
        "resourceVersion",
        "generation",
        "creationTimestamp",
        "deletionTimestamp",
        "managedFields",
        "generateName",
        "selfLink",
        "finalizers",
        "ownerReferences",
    }
)


def merge_managed(
    virtual: dict[str, str] | None,
    host: dict[str, str] | None,
    previous_managed: list[str],
    *,
    exclude: Set[str] = frozenset(),
) -> tuple[dict[str, str], list[str]]:
    """(merged map, sorted managed keys). Virtual keys are copied and become managed; a host key survives unless it is
    managed now or was managed before. Excluded keys belong to the caller, who sets them fresh: they are neither copied
    from virtual nor kept from host."""
    copied = {key: value for key, value in (virtual or {}).items() if key not in exclude}
    dropped = copied.keys() | set(previous_managed) | exclude
    kept = {key: value for key, value in (host or {}).items() if key not in dropped}
    return {**copied, **kept}, sorted(copied)


def desired_host_metadata(
    virtual_obj: dict[str, Any],
    host_obj: dict[str, Any] | None,
    *,
    names: NameTranslator,
    api_version: str,
    kind: str,
    extra_labels: dict[str, str] | None = None,
    extra_annotations: dict[str, str] | None = None,
    skip_backsync: bool = False,
    virtual_old: dict[str, Any] | None = None,
    host_old: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The host `metadata` (name, namespace, labels, annotations) for `virtual_obj`, given the current host copy
    (None on create). Raises ValueError for a nameless object.

    Extras are syncer-computed keys (pod identity annotations, ns-labels); they override virtual values and are
    recorded as managed, so they disappear once no longer computed. Markers are set last and cannot be spoofed.
    `virtual_old`/`host_old` are accepted but unused: they are the slots for the three-way merge of bidirectional
    metadata [W2] (SPEC §14), so callers already pass them. Owner references are the engine's job.
    """
    virtual_meta = virtual_obj.get("metadata") or {}
    host_meta = (host_obj or {}).get("metadata") or {}
    host_annotations = host_meta.get("annotations") or {}
    namespace, name = names.to_host(virtual_meta.get("namespace"), virtual_meta.get("name", ""))
    label_scope = None if namespace else names.target_namespace
    labels, managed_labels = merge_managed(
        {**translate_labels(virtual_meta.get("labels"), names.suffix, label_scope), **(extra_labels or {})},
        host_meta.get("labels"),
        _listed(host_annotations.get(MANAGED_LABELS)),
        exclude=MARKER_LABEL_KEYS,
    )
    annotations, managed_annotations = merge_managed(
        {**(virtual_meta.get("annotations") or {}), **(extra_annotations or {})},
        host_annotations,
        _listed(host_annotations.get(MANAGED_ANNOTATIONS)),
        exclude=MARKER_ANNOTATION_KEYS,
    )
    labels |= marker_labels(virtual_obj, names=names)
    annotations |= marker_annotations(
        virtual_obj,
        names=names,
        api_version=api_version,
        kind=kind,
        managed_annotations=managed_annotations,
        managed_labels=managed_labels,
        skip_backsync=skip_backsync,
    )
    return {
        "name": name,
        **({"namespace": namespace} if namespace else {}),
        "labels": labels,
        "annotations": annotations,
    }


def _listed(value: str | None) -> list[str]:
    return [key for key in (value or "").split("\n") if key]
