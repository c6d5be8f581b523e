"""The `vcluster.loft.sh/` markers on host objects and the managed check (SPEC §4.1, §4.3). They decide which host
objects this syncer may ever write or delete, so keys and values are byte-for-byte vcluster's."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from translators.names import NameTranslator

MANAGED_BY = "vcluster.loft.sh/managed-by"
NAMESPACE_LABEL = "vcluster.loft.sh/namespace"
OBJECT_NAME = "vcluster.loft.sh/object-name"
OBJECT_NAMESPACE = "vcluster.loft.sh/object-namespace"
OBJECT_UID = "vcluster.loft.sh/object-uid"
OBJECT_KIND = "vcluster.loft.sh/object-kind"
OBJECT_HOST_NAME = "vcluster.loft.sh/object-host-name"
OBJECT_HOST_NAMESPACE = "vcluster.loft.sh/object-host-namespace"
MANAGED_ANNOTATIONS = "vcluster.loft.sh/managed-annotations"
MANAGED_LABELS = "vcluster.loft.sh/managed-labels"
SKIP_BACKSYNC = "vcluster.loft.sh/skip-backsync"
FORCE_SYNC = "vcluster.loft.sh/force-sync"

MARKER_LABEL_KEYS = frozenset({MANAGED_BY, NAMESPACE_LABEL})
MARKER_ANNOTATION_KEYS = frozenset(
    {
        OBJECT_NAME,
        OBJECT_NAMESPACE,
        OBJECT_UID,
        OBJECT_KIND,
        OBJECT_HOST_NAME,
        OBJECT_HOST_NAMESPACE,
        MANAGED_ANNOTATIONS,
        MANAGED_LABELS,
        SKIP_BACKSYNC,
    }
)


def object_kind_value(api_version: str, kind: str) -> str:
    """Go's GroupVersionKind string: "/v1, Kind=Pod" for the core group, "networking.k8s.io/v1, Kind=Ingress" else."""
    group_version = api_version if "/" in api_version else f"/{api_version}"
    return f"{group_version}, Kind={kind}"


def marker_labels(virtual_obj: dict[str, Any], *, names: NameTranslator) -> dict[str, str]:
    """managed-by, plus the virtual namespace for namespaced objects."""
    namespace = _metadata(virtual_obj).get("namespace")
    if not namespace:
        return {MANAGED_BY: names.managed_by_value(cluster_scoped=True)}
    return {MANAGED_BY: names.managed_by_value(cluster_scoped=False), NAMESPACE_LABEL: namespace}


def marker_annotations(
    virtual_obj: dict[str, Any],
    *,
    names: NameTranslator,
    api_version: str,
    kind: str,
    managed_annotations: Iterable[str] = (),
    managed_labels: Iterable[str] = (),
    skip_backsync: bool = False,
) -> dict[str, str]:
    """The identity annotations of the host copy of `virtual_obj`. Namespace keys are left out for cluster-scoped
    objects, the managed lists when empty, object-uid when the virtual object has none (not yet created)."""
    metadata = _metadata(virtual_obj)
    virtual_namespace, virtual_name = metadata.get("namespace"), metadata.get("name", "")
    host_namespace, host_name = names.to_host(virtual_namespace, virtual_name)
    optional = {
        OBJECT_NAMESPACE: virtual_namespace,
        OBJECT_UID: metadata.get("uid"),
        OBJECT_HOST_NAMESPACE: host_namespace,
        MANAGED_ANNOTATIONS: "\n".join(sorted(managed_annotations)),
        MANAGED_LABELS: "\n".join(sorted(managed_labels)),
        SKIP_BACKSYNC: "true" if skip_backsync else None,
    }
    return {
        OBJECT_NAME: virtual_name,
        OBJECT_KIND: object_kind_value(api_version, kind),
        OBJECT_HOST_NAME: host_name,
        **{key: value for key, value in optional.items() if value},
    }


def is_managed(host_obj: dict[str, Any], *, names: NameTranslator, api_version: str, kind: str) -> bool:
    """SPEC §4.3. An object with a namespace is checked as namespaced, one without as cluster-scoped. Only objects for
    which this holds may be written or deleted."""
    metadata = _metadata(host_obj)
    if metadata.get("namespace"):
        return _is_managed_namespaced(metadata, names, object_kind_value(api_version, kind))
    return _is_managed_cluster_scoped(metadata, names)


def managed_by_selector(names: NameTranslator, cluster_scoped: bool) -> str:
    """Label selector for host watches of toHost kinds."""
    return f"{MANAGED_BY}={names.managed_by_value(cluster_scoped)}"


def _is_managed_namespaced(metadata: dict[str, Any], names: NameTranslator, object_kind: str) -> bool:
    labels, annotations = metadata.get("labels") or {}, metadata.get("annotations") or {}
    virtual_name = annotations.get(OBJECT_NAME)
    actual = (metadata.get("namespace"), metadata.get("name"))
    recorded = {OBJECT_KIND: object_kind, OBJECT_HOST_NAMESPACE: actual[0], OBJECT_HOST_NAME: actual[1]}
    return (
        labels.get(MANAGED_BY) == names.managed_by_value(cluster_scoped=False)
        and bool(virtual_name)
        and names.to_host(annotations.get(OBJECT_NAMESPACE), virtual_name) == actual
        and all(annotations.get(key, value) == value for key, value in recorded.items())
    )


def _is_managed_cluster_scoped(metadata: dict[str, Any], names: NameTranslator) -> bool:
    labels, annotations = metadata.get("labels") or {}, metadata.get("annotations") or {}
    virtual_name = annotations.get(OBJECT_NAME)
    return (
        labels.get(MANAGED_BY) == names.managed_by_value(cluster_scoped=True)
        and bool(virtual_name)
        and names.to_host(None, virtual_name) == (None, metadata.get("name"))
    )


def _metadata(obj: dict[str, Any]) -> dict[str, Any]:
    return obj.get("metadata") or {}
