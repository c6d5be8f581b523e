"""Real node sync (SPEC §7.2): host Nodes mirrored into virtual under the same name. Host metadata and taints are merged
so that what the host drops disappears while what tenants added in virtual survives; the bookkeeping annotations use
vcluster's keys and encodings, so a node synced by either syncer is adopted without a write."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from translators.jsoncopy import clone
from translators.markers import MANAGED_ANNOTATIONS, MANAGED_LABELS
from translators.metadata import merge_managed

ORIGINAL_TAINTS = "vcluster.loft.sh/original-taints"
NOT_READY_TAINT = "node.kubernetes.io/not-ready"

_BOOKKEEPING = frozenset({ORIGINAL_TAINTS, MANAGED_ANNOTATIONS, MANAGED_LABELS})

Taint = dict[str, Any]


def selected(
    host_node: dict[str, Any],
    *,
    sync_all: bool,
    selector: Mapping[str, str],
    needed: bool,
    enforce_node_selector: bool,
) -> bool:
    """Whether the host node gets a virtual twin. `needed` says a pod is assigned to it (the §7.1 rule); with a
    selector, such nodes count only when the selector is not enforced on pods."""
    if sync_all:
        return True
    if not selector:
        return needed
    labels = (host_node.get("metadata") or {}).get("labels") or {}
    matches = all(labels.get(key) == value for key, value in selector.items())
    return matches or (needed and not enforce_node_selector)


def virtual_node(
    host_node: dict[str, Any],
    existing: dict[str, Any] | None,
    *,
    clear_images: bool,
    enforced_tolerations: Sequence[Mapping[str, Any]],
    kubelet: tuple[str | None, int] | None = None,
) -> dict[str, Any]:
    """The desired virtual Node for `host_node`, given the current virtual one (None on create). With `kubelet`
    (vcsync's kubelet endpoint: address, or None to keep the node's own, and port) the kubelet port points there, and
    with an address the node's IP addresses too."""
    host_meta = host_node.get("metadata") or {}
    virtual_meta = (existing or {}).get("metadata") or {}
    virtual_annotations = virtual_meta.get("annotations") or {}
    labels, managed_labels = merge_managed(
        host_meta.get("labels"), virtual_meta.get("labels"), _keys(virtual_annotations.get(MANAGED_LABELS))
    )
    annotations, managed_annotations = merge_managed(
        host_meta.get("annotations"),
        virtual_annotations,
        _keys(virtual_annotations.get(MANAGED_ANNOTATIONS)),
        exclude=_BOOKKEEPING,
    )
    host_taints = _taints(host_node)
    taints = merged_taints(host_taints, _taints(existing or {}), original_taints(virtual_annotations))
    bookkeeping = {
        MANAGED_LABELS: "\n".join(managed_labels),
        MANAGED_ANNOTATIONS: "\n".join(managed_annotations),
        ORIGINAL_TAINTS: encode_taints(host_taints) if host_taints else "",
    }
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": host_meta["name"],
            "labels": labels,
            "annotations": annotations | {key: value for key, value in bookkeeping.items() if value},
        },
        "spec": {"taints": [taint for taint in taints if not _tolerated(taint, enforced_tolerations)]},
        "status": _status(host_node, clear_images, kubelet),
    }


def removable(virtual_node: dict[str, Any]) -> bool:
    """Only virtual nodes this syncer made (they record managed labels) are deleted once their host node is not
    selected; nodes created by hand in virtual are left alone."""
    return bool(((virtual_node.get("metadata") or {}).get("annotations") or {}).get(MANAGED_LABELS))


def merged_taints(host: Sequence[Taint], virtual: Sequence[Taint], original: Sequence[Taint]) -> list[Taint]:
    """Host taints, then virtual ones the host has not got, minus those the host had (`original`) but dropped, and
    minus not-ready unless the host has it. Taints are told apart by key and effect, as the API requires them to be
    unique by that pair, so the host's value wins."""
    on_host = {_identity(taint) for taint in host}
    dropped = {_identity(taint) for taint in original} - on_host
    host_not_ready = any(taint.get("key") == NOT_READY_TAINT for taint in host)
    added = [
        taint
        for taint in virtual
        if _identity(taint) not in on_host | dropped and (host_not_ready or taint.get("key") != NOT_READY_TAINT)
    ]
    return [clone(taint) for taint in [*host, *added]]


def tolerates(toleration: Mapping[str, Any], taint: Mapping[str, Any]) -> bool:
    """Kubernetes' Toleration.ToleratesTaint: an empty effect or key matches any; Exists ignores the value, Equal (or
    no operator) needs the same value; unknown operators match nothing."""
    if toleration.get("effect") and toleration["effect"] != taint.get("effect"):
        return False
    if toleration.get("key") and toleration["key"] != taint.get("key"):
        return False
    operator = toleration.get("operator") or "Equal"
    if operator == "Exists":
        return True
    return operator == "Equal" and (toleration.get("value") or "") == (taint.get("value") or "")


def encode_taints(taints: Sequence[Taint]) -> str:
    """vcluster's original-taints value: a JSON list of strings, each a taint as Go encodes it."""
    return _compact([_compact(_go_taint(taint)) for taint in taints])


def original_taints(annotations: Mapping[str, str]) -> list[Taint]:
    """The host taints recorded at the last sync; an unreadable annotation records none."""
    try:
        entries = json.loads(annotations.get(ORIGINAL_TAINTS) or "[]")
        decoded = [json.loads(entry) for entry in entries if isinstance(entry, str)]
    except (ValueError, TypeError):
        return []
    return [taint for taint in decoded if isinstance(taint, dict)]


def _go_taint(taint: Taint) -> Taint:
    """Go's field order; value and timeAdded are omitted when empty, key and effect never are."""
    ordered = {field: taint.get(field) or "" for field in ("key", "value", "effect", "timeAdded")}
    return {field: value for field, value in ordered.items() if value or field in ("key", "effect")}


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def _tolerated(taint: Taint, tolerations: Sequence[Mapping[str, Any]]) -> bool:
    return any(tolerates(toleration, taint) for toleration in tolerations)


def _identity(taint: Taint) -> tuple[str, str]:
    return taint.get("key", ""), taint.get("effect", "")


def _taints(node: dict[str, Any]) -> list[Taint]:
    return (node.get("spec") or {}).get("taints") or []


def _status(host_node: dict[str, Any], clear_images: bool, kubelet: tuple[str | None, int] | None) -> dict[str, Any]:
    status = clone(host_node.get("status") or {})
    if clear_images:
        status["images"] = []
    if kubelet:
        address, port = kubelet
        if address:
            names = [a for a in status.get("addresses") or [] if a.get("type") == "Hostname"]
            status["addresses"] = [*names, {"type": "InternalIP", "address": address}]
        status["daemonEndpoints"] = {"kubeletEndpoint": {"Port": port}}
    return status


def _keys(listed: str | None) -> list[str]:
    return [key for key in (listed or "").split("\n") if key]
