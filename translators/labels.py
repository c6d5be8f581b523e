"""Label keys and selectors on host objects (SPEC §5). Special tenant keys are hashed so a tenant can neither spoof the
syncer's markers nor match the chart's `release` selector, and every selector is confined to this tenant's pods."""

from __future__ import annotations

from typing import Any

from translators.jsoncopy import clone
from translators.markers import MANAGED_BY, NAMESPACE_LABEL
from translators.names import safe_concat_name, sha10

RELEASE_LABEL = "release"
VCLUSTER_KEY_PREFIX = "vcluster.loft.sh/"
_HASHED_LABEL_PREFIX = "vcluster.loft.sh/label"
_NS_LABEL_PREFIX = "vcluster.loft.sh/ns-label"


def is_special_label_key(key: str) -> bool:
    return key == RELEASE_LABEL or key.startswith(VCLUSTER_KEY_PREFIX)


def translate_label_key(key: str, suffix: str, target_namespace: str | None = None) -> str:
    """Special keys become LK(key); pass `target_namespace` for labels of cluster-scoped objects. Others are kept."""
    if not is_special_label_key(key):
        return key
    if target_namespace is None:
        return safe_concat_name(_HASHED_LABEL_PREFIX, suffix, "x", sha10(key))
    return safe_concat_name(_HASHED_LABEL_PREFIX, target_namespace, "x", suffix, "x", sha10(key))


def translate_labels(labels: dict[str, str] | None, suffix: str, target_namespace: str | None = None) -> dict[str, str]:
    """Keys translated, values unchanged; None gives {}."""
    return {translate_label_key(key, suffix, target_namespace): value for key, value in (labels or {}).items()}


def ns_label_key(key: str, suffix: str) -> str:
    """Host pod label key carrying label `key` of the pod's virtual Namespace."""
    return safe_concat_name(_NS_LABEL_PREFIX, suffix, "x", sha10(key))


def translate_selector_map(selector: dict[str, str] | None, suffix: str, namespace: str) -> dict[str, str] | None:
    """A Service-style map selector. A missing or empty one means "endpoints managed elsewhere" and stays None, since
    adding the markers would make it select every pod of the namespace."""
    if not selector:
        return None
    return {**translate_labels(selector, suffix), **_tenant_pod_labels(suffix, namespace)}


def translate_label_selector(
    selector: dict[str, Any] | None, suffix: str, namespace: str | None
) -> dict[str, Any] | None:
    """A LabelSelector (matchLabels and matchExpressions keys translated, markers added to matchLabels).

    None stays None: in Kubernetes a null selector selects nothing (PDB, affinity terms, spread constraints), while an
    empty one selects every pod in scope, so {} becomes "every pod of this tenant in `namespace`". Pass namespace=None
    when the caller constrains the namespace itself (a namespaceSelector or a `namespaces` list); only managed-by is
    then added. The input is not modified.
    """
    if selector is None:
        return None
    match_labels = {**translate_labels(selector.get("matchLabels"), suffix), **_tenant_pod_labels(suffix, namespace)}
    expressions = [_translate_expression(expression, suffix) for expression in selector.get("matchExpressions") or []]
    return {"matchLabels": match_labels, **({"matchExpressions": expressions} if expressions else {})}


def _translate_expression(expression: dict[str, Any], suffix: str) -> dict[str, Any]:
    translated = clone(expression)
    translated["key"] = translate_label_key(expression["key"], suffix)
    return translated


def _tenant_pod_labels(suffix: str, namespace: str | None) -> dict[str, str]:
    if namespace is None:
        return {MANAGED_BY: suffix}
    return {MANAGED_BY: suffix, NAMESPACE_LABEL: namespace}
