"""Virtual pod -> host pod, and host status -> virtual (SPEC §6.1). A host pod must run the tenant's workload as if it
were in the virtual cluster while only ever naming this tenant's host objects, so every reference, selector and identity
is rewritten here, in pure functions the pod syncer calls for create, status up and in-place updates."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from translators.jsoncopy import clone
from translators.labels import ns_label_key, translate_label_key, translate_label_selector
from translators.markers import NAMESPACE_LABEL
from translators.metadata import desired_host_metadata
from translators.names import NameTranslator, token_secret_name
from translators.pod_dns import dns_fields, host_aliases, hostname
from translators.pod_env import (
    POD_LABELS,
    POD_NAME,
    POD_NAMESPACE,
    POD_SERVICE_ACCOUNT,
    POD_UID,
    Rename,
    host_container,
    injected_env,
    translate_downward_items,
)
from translators.references import PLUGIN_SECRET_REFS

Obj = dict[str, Any]

OWNER_REFERENCES = "vcluster.loft.sh/owner-references"
OWNER_SET_KIND = "vcluster.loft.sh/owner-set-kind"
SAFE_TO_EVICT = "cluster-autoscaler.kubernetes.io/safe-to-evict"
DAEMONSET_POD = "cluster-autoscaler.kubernetes.io/daemonset-pod"
# Always computed by the syncer: a tenant can neither set nor spoof them (owner-set-kind drives fake-node GC).
IDENTITY_ANNOTATIONS = frozenset(
    {POD_NAME, POD_NAMESPACE, POD_UID, POD_SERVICE_ACCOUNT, POD_LABELS, OWNER_REFERENCES, OWNER_SET_KIND}
)
OWNER_SET_KINDS = ("DaemonSet", "Job", "ReplicaSet", "StatefulSet")

DEFAULT_TOKEN_EXPIRATION_SECONDS = 3607
HOST_OWNED_CONDITIONS = frozenset(
    {
        "Ready",
        "ContainersReady",
        "Initialized",
        "PodScheduled",
        "PodReadyToStartContainers",
        "DisruptionTarget",
        "PodResizePending",
        "PodResizeInProgress",
    }
)

# Every PodSpec field of Kubernetes v1.36. Fields not listed are dropped with a warning.
KNOWN_SPEC_FIELDS = frozenset(
    {
        "activeDeadlineSeconds", "affinity", "automountServiceAccountToken", "containers", "dnsConfig", "dnsPolicy",
        "enableServiceLinks", "ephemeralContainers", "hostAliases", "hostIPC", "hostNetwork", "hostPID", "hostUsers",
        "hostname", "hostnameOverride", "imagePullSecrets", "initContainers", "nodeName", "nodeSelector", "os",
        "overhead", "preemptionPolicy", "priority", "priorityClassName", "readinessGates", "resourceClaims",
        "resources", "restartPolicy", "runtimeClassName", "schedulerName", "schedulingGates", "schedulingGroup",
        "securityContext", "serviceAccount", "serviceAccountName", "setHostnameAsFQDN", "shareProcessNamespace",
        "subdomain", "terminationGracePeriodSeconds", "tolerations", "topologySpreadConstraints", "volumes",
    }
)  # fmt: skip
# Known fields never copied: recomputed by host admission, set fresh below, or not synced (ephemeral containers, [W2]).
_NOT_COPIED = frozenset(
    {
        "serviceAccount",
        "serviceAccountName",
        "priorityClassName",
        "priority",
        "preemptionPolicy",
        "overhead",
        "subdomain",
        "ephemeralContainers",
    }
)
_CONTAINER_STATUSES = (
    ("containerStatuses", "containers"),
    ("initContainerStatuses", "initContainers"),
    ("ephemeralContainerStatuses", "ephemeralContainers"),
)


@dataclass(frozen=True)
class PodContext:
    """Everything outside the pod that its translation depends on, gathered by the caller from flags and caches."""

    names: NameTranslator
    cluster_domain: str = "cluster.local"
    service_account: str = ""  # --service-account; "" leaves the host default
    sync_serviceaccounts: bool = False
    sync_priorityclasses: bool = False
    translate_image: Mapping[str, str] = field(default_factory=dict)
    enforce_tolerations: tuple[Obj, ...] = ()
    node_selector: Mapping[str, str] = field(default_factory=dict)
    enforce_node_selector: bool = True
    vcluster_ip: str = ""  # ClusterIP of the vcluster host Service
    dns_ip: str = ""  # ClusterIP of the host copy of the virtual DNS Service
    namespace_labels: Mapping[str, str] = field(default_factory=dict)  # labels of the pod's virtual Namespace
    services: tuple[Obj, ...] = ()  # virtual Services in the pod's namespace, for service links


@dataclass(frozen=True)
class TokenSource:
    """One projected serviceAccountToken source; `key` is its data key in the pod's token Secret."""

    key: str
    volume: str
    index: int
    audiences: list[str]
    expiration_seconds: int
    path: str


def translate_pod(vpod: Obj, ctx: PodContext) -> tuple[Obj, list[str]]:
    """The host Pod to create for `vpod`, and the SyncWarning messages about what could not be carried over."""
    warnings: list[str] = []
    spec = _host_spec(vpod, ctx, warnings)
    return {"apiVersion": "v1", "kind": "Pod", "metadata": pod_metadata(vpod, None, ctx), "spec": spec}, warnings


def pod_metadata(vpod: Obj, hpod: Obj | None, ctx: PodContext) -> Obj:
    """Host metadata per SPEC §4.2 with the §6.1.2 annotations and the ns-labels, on create (hpod None) and update."""
    metadata = vpod["metadata"]
    tenant_annotations = {
        key: value for key, value in (metadata.get("annotations") or {}).items() if key not in IDENTITY_ANNOTATIONS
    }
    return desired_host_metadata(
        {**vpod, "metadata": {**metadata, "annotations": tenant_annotations}},
        hpod,
        names=ctx.names,
        api_version="v1",
        kind="Pod",
        extra_labels={ns_label_key(key, ctx.names.suffix): value for key, value in ctx.namespace_labels.items()},
        extra_annotations=pod_annotations(vpod),
    )


def pod_annotations(vpod: Obj) -> dict[str, str]:
    """The syncer-computed pod annotations of SPEC §6.1.2."""
    metadata, spec = vpod["metadata"], vpod.get("spec") or {}
    owners = metadata.get("ownerReferences") or []
    annotations = {
        POD_NAME: metadata["name"],
        POD_NAMESPACE: metadata["namespace"],
        POD_UID: metadata.get("uid", ""),
        POD_SERVICE_ACCOUNT: spec.get("serviceAccountName") or spec.get("serviceAccount") or "",
        POD_LABELS: labels_annotation(metadata.get("labels")),
    }
    if owners:
        annotations[OWNER_REFERENCES] = json.dumps(owners, separators=(",", ":"), ensure_ascii=False)
    set_kind = next((owner["kind"] for owner in _apps_owners(owners) if owner.get("kind") in OWNER_SET_KINDS), None)
    if set_kind:
        annotations[OWNER_SET_KIND] = set_kind
    if SAFE_TO_EVICT not in (metadata.get("annotations") or {}):
        annotations[SAFE_TO_EVICT] = "true" if any(owner.get("controller") for owner in owners) else "false"
    if any(owner.get("kind") == "DaemonSet" for owner in _apps_owners(owners)):
        annotations[DAEMONSET_POD] = "true"
    return annotations


def labels_annotation(labels: Mapping[str, str] | None) -> str:
    """The virtual labels as sorted `key="<JSON-escaped value>"` lines, the kubelet's downward API labels format."""
    return "\n".join(sorted(f"{key}={json.dumps(value, ensure_ascii=False)}" for key, value in (labels or {}).items()))


def token_sources(vpod: Obj, cluster_domain: str = "cluster.local") -> list[TokenSource]:
    """The projected serviceAccountToken sources of `vpod`, with audience and expiration defaults applied."""
    default_audiences = [
        f"https://kubernetes.default.svc.{cluster_domain}",
        "https://kubernetes.default.svc",
        "https://kubernetes.default",
    ]
    return [
        TokenSource(
            key=_token_key(volume["name"], index),
            volume=volume["name"],
            index=index,
            audiences=[token["audience"]] if token.get("audience") else list(default_audiences),
            expiration_seconds=token.get("expirationSeconds") or DEFAULT_TOKEN_EXPIRATION_SECONDS,
            path=token["path"],
        )
        for volume in (vpod.get("spec") or {}).get("volumes") or ()
        for index, source in enumerate((volume.get("projected") or {}).get("sources") or ())
        if (token := source.get("serviceAccountToken")) is not None
    ]


def status_up(vpod: Obj, hpod: Obj) -> Obj:
    """The virtual `status`: the host status without injected containers, with virtual-owned conditions kept. It
    shares parts with both pods (no copy: it runs on every event of either), so it is only read, never changed."""
    status = dict(hpod.get("status") or {})
    vspec = vpod.get("spec") or {}
    for status_key, spec_key in _CONTAINER_STATUSES:
        if status_key in status:
            names = {container["name"] for container in vspec.get(spec_key) or ()}
            status[status_key] = [entry for entry in status[status_key] or () if entry.get("name") in names]
    host_owned = [c for c in status.pop("conditions", None) or () if c.get("type") in HOST_OWNED_CONDITIONS]
    conditions = host_owned + _virtual_owned_conditions(vpod)
    return status | {"conditions": conditions} if conditions else status


def conditions_down(vpod: Obj, hpod: Obj) -> list[Obj] | None:
    """The host `status.conditions` carrying the virtual-owned conditions (readiness gates, custom types), or None
    when host already has them. Host conditions of other types are kept, never removed."""
    host = (hpod.get("status") or {}).get("conditions") or []
    host_by_type = {condition.get("type"): condition for condition in host}
    stale = {
        condition["type"]: clone(condition)
        for condition in _virtual_owned_conditions(vpod)
        if _significant(host_by_type.get(condition["type"])) != _significant(condition)
    }
    if not stale:
        return None
    replaced = [stale.get(condition.get("type"), clone(condition)) for condition in host]
    return replaced + [condition for kind, condition in stale.items() if kind not in host_by_type]


def mutable_patch(vpod: Obj, hpod: Obj, ctx: PodContext) -> Obj | None:
    """A strategic merge patch for the host pod's mutable spec fields that differ, or None when in sync. Containers
    merge by name; schedulingGates carries a `$patch: replace` marker so removed gates go; tolerations are replaced
    whole, since the list has no merge key."""
    vspec, hspec = vpod.get("spec") or {}, hpod.get("spec") or {}
    patch: Obj = {}
    for kind in ("containers", "initContainers"):
        images = _image_changes(vspec.get(kind) or [], hspec.get(kind) or [], ctx.translate_image)
        if images:
            patch[kind] = images
    deadline = vspec.get("activeDeadlineSeconds")
    if deadline is not None and deadline != hspec.get("activeDeadlineSeconds"):
        patch["activeDeadlineSeconds"] = deadline
    gates = _remaining_gates(vspec.get("schedulingGates") or [], hspec.get("schedulingGates") or [])
    if gates is not None:
        patch["schedulingGates"] = [{"$patch": "replace"}, *gates]
    host_tolerations = hspec.get("tolerations") or []
    tolerations = _union(host_tolerations, vspec.get("tolerations") or [], ctx.enforce_tolerations)
    if len(tolerations) != len(host_tolerations):
        patch["tolerations"] = tolerations
    return {"spec": patch} if patch else None


# ---- spec ------------------------------------------------------------------------------------------------------------
def _host_spec(vpod: Obj, ctx: PodContext, warnings: list[str]) -> Obj:
    metadata, vspec = vpod["metadata"], vpod.get("spec") or {}
    name, namespace = metadata["name"], metadata["namespace"]
    unknown = sorted(vspec.keys() - KNOWN_SPEC_FIELDS)
    if unknown:
        warnings.append(f"dropped unknown pod spec fields: {', '.join(unknown)}")
    if vspec.get("ephemeralContainers"):
        warnings.append("ephemeral containers are not synced")

    def rename(virtual_name: str) -> str:
        return ctx.names.to_host(namespace, virtual_name)[1]

    spec = {key: clone(value) for key, value in vspec.items() if key in KNOWN_SPEC_FIELDS - _NOT_COPIED}
    spec |= _identity_fields(vspec, ctx, rename)
    spec |= dns_fields(vspec, namespace, ctx.cluster_domain, ctx.dns_ip)
    spec |= {"hostAliases": host_aliases(vspec, ctx.vcluster_ip), "hostname": hostname(vspec, name)}
    _translate_containers(spec, vspec, ctx, rename)
    if "imagePullSecrets" in spec:
        spec["imagePullSecrets"] = [{**secret, "name": rename(secret["name"])} for secret in spec["imagePullSecrets"]]
    if "volumes" in spec:
        spec["volumes"] = [_host_volume(volume, name, namespace, ctx, rename) for volume in spec["volumes"]]
    _translate_scheduling(spec, vspec, ctx, namespace, warnings)
    return spec


def _identity_fields(vspec: Obj, ctx: PodContext, rename: Rename) -> Obj:
    fields: Obj = {"automountServiceAccountToken": False, "enableServiceLinks": False}
    if ctx.sync_serviceaccounts:
        service_account = vspec.get("serviceAccountName") or vspec.get("serviceAccount") or "default"
        fields["serviceAccountName"] = rename(service_account)
    elif ctx.service_account:
        fields["serviceAccountName"] = ctx.service_account
    priority_class = vspec.get("priorityClassName")
    if priority_class and ctx.sync_priorityclasses:
        fields["priorityClassName"] = ctx.names.to_host(None, priority_class)[1]
    return fields


def _translate_containers(spec: Obj, vspec: Obj, ctx: PodContext, rename: Rename) -> None:
    links_enabled = vspec.get("enableServiceLinks") is not False
    injected = injected_env(ctx.vcluster_ip, ctx.services if links_enabled else ())
    for kind in ("initContainers", "containers"):
        if kind in spec:
            spec[kind] = [_with_image(host_container(c, injected, rename, ctx.names.suffix), ctx) for c in spec[kind]]


def _with_image(container: Obj, ctx: PodContext) -> Obj:
    if "image" in container:
        container["image"] = ctx.translate_image.get(container["image"], container["image"])
    return container


# ---- volumes ---------------------------------------------------------------------------------------------------------
_VOLUME_REFS = (
    ("configMap", "name"),
    ("secret", "secretName"),
    ("persistentVolumeClaim", "claimName"),
    ("azureFile", "secretName"),
    ("glusterfs", "endpointsName"),
)


def _host_volume(volume: Obj, pod: str, namespace: str, ctx: PodContext, rename: Rename) -> Obj:
    if "ephemeral" in volume:
        return {"name": volume["name"], "persistentVolumeClaim": {"claimName": rename(f"{pod}-{volume['name']}")}}
    for plugin, ref in _VOLUME_REFS:
        _rename_at(volume.get(plugin), ref, rename)
    for plugin, ref in PLUGIN_SECRET_REFS:
        _rename_at((volume.get(plugin) or {}).get(ref), "name", rename)
    if volume.get("downwardAPI"):
        _translate_items(volume["downwardAPI"], ctx.names.suffix)
    projected = volume.get("projected") or {}
    if projected.get("sources"):
        token_secret = token_secret_name(pod, namespace, ctx.names.suffix)
        projected["sources"] = [
            _host_projection(source, _token_key(volume["name"], index), token_secret, rename, ctx.names.suffix)
            for index, source in enumerate(projected["sources"])
        ]
    return volume


def _host_projection(source: Obj, token_key: str, token_secret: str, rename: Rename, suffix: str) -> Obj:
    """Token sources read the syncer's token Secret (SPEC §6.1.4); other sources get their references translated."""
    if "serviceAccountToken" in source:
        item = {"key": token_key, "path": source["serviceAccountToken"]["path"]}
        return {"secret": {"name": token_secret, "items": [item]}}
    _rename_at(source.get("configMap"), "name", rename)
    _rename_at(source.get("secret"), "name", rename)
    if source.get("downwardAPI"):
        _translate_items(source["downwardAPI"], suffix)
    return source


def _translate_items(downward_api: Obj, suffix: str) -> None:
    downward_api["items"] = translate_downward_items(downward_api.get("items") or [], suffix)


def _rename_at(holder: Obj | None, key: str, rename: Rename) -> None:
    if holder and holder.get(key):
        holder[key] = rename(holder[key])


def _token_key(volume: str, index: int) -> str:
    return f"{volume}.{index}"


# ---- scheduling ------------------------------------------------------------------------------------------------------
def _translate_scheduling(spec: Obj, vspec: Obj, ctx: PodContext, namespace: str, warnings: list[str]) -> None:
    suffix = ctx.names.suffix
    for kind in ("podAffinity", "podAntiAffinity"):
        affinity = (spec.get("affinity") or {}).get(kind)
        if affinity:
            _translate_affinity(affinity, suffix, namespace, warnings)
    if "topologySpreadConstraints" in spec:
        spec["topologySpreadConstraints"] = [
            _with_selector(constraint, translate_label_selector(constraint.get("labelSelector"), suffix, namespace))
            | _translated_keys(constraint, suffix)
            for constraint in spec["topologySpreadConstraints"]
        ]
    if ctx.enforce_node_selector and ctx.node_selector and not vspec.get("nodeName"):
        spec["nodeSelector"] = {**(spec.get("nodeSelector") or {}), **ctx.node_selector}
    if ctx.enforce_tolerations:
        spec["tolerations"] = _union(spec.get("tolerations") or [], ctx.enforce_tolerations)


def _translate_affinity(affinity: Obj, suffix: str, namespace: str, warnings: list[str]) -> None:
    required = "requiredDuringSchedulingIgnoredDuringExecution"
    preferred = "preferredDuringSchedulingIgnoredDuringExecution"
    if affinity.get(required):
        affinity[required] = [_host_affinity_term(term, suffix, namespace, warnings) for term in affinity[required]]
    for weighted in affinity.get(preferred) or ():
        weighted["podAffinityTerm"] = _host_affinity_term(weighted["podAffinityTerm"], suffix, namespace, warnings)


def _host_affinity_term(term: Obj, suffix: str, namespace: str, warnings: list[str]) -> Obj:
    """SPEC §5: the host term has no namespaces; which virtual namespaces it covers moves into its label selector."""
    namespaces, namespace_selector = term.get("namespaces") or [], term.get("namespaceSelector")
    host = {key: value for key, value in term.items() if key not in ("namespaces", "namespaceSelector")}
    host |= _translated_keys(term, suffix)
    selector = term.get("labelSelector")
    if namespaces and namespace_selector is not None:
        warnings.append("pod affinity term with both namespaces and namespaceSelector: namespaceSelector ignored")
    if selector is None:
        return host
    if namespaces:
        scope = {"matchExpressions": [{"key": NAMESPACE_LABEL, "operator": "In", "values": list(namespaces)}]}
        return _with_selector(host, _merged(translate_label_selector(selector, suffix, None), scope))
    if namespace_selector is not None:
        scope = _ns_label_selector(namespace_selector, suffix)
        return _with_selector(host, _merged(translate_label_selector(selector, suffix, None), scope))
    return _with_selector(host, translate_label_selector(selector, suffix, namespace))


def _ns_label_selector(namespace_selector: Obj, suffix: str) -> Obj:
    labels = {ns_label_key(key, suffix): value for key, value in (namespace_selector.get("matchLabels") or {}).items()}
    expressions = [
        {**expression, "key": ns_label_key(expression["key"], suffix)}
        for expression in namespace_selector.get("matchExpressions") or ()
    ]
    return {"matchLabels": labels, "matchExpressions": expressions}


def _merged(selector: Obj, extra: Obj) -> Obj:
    labels = {**selector.get("matchLabels", {}), **extra.get("matchLabels", {})}
    expressions = [*selector.get("matchExpressions", []), *extra.get("matchExpressions", [])]
    return {"matchLabels": labels, **({"matchExpressions": expressions} if expressions else {})}


def _with_selector(holder: Obj, selector: Obj | None) -> Obj:
    return {**holder, "labelSelector": selector} if selector is not None else holder


def _translated_keys(holder: Obj, suffix: str) -> Obj:
    """matchLabelKeys / mismatchLabelKeys name the pod's own labels, whose host keys may be hashed."""
    return {
        field_name: [translate_label_key(key, suffix) for key in holder[field_name]]
        for field_name in ("matchLabelKeys", "mismatchLabelKeys")
        if holder.get(field_name)
    }


# ---- update helpers --------------------------------------------------------------------------------------------------
def _apps_owners(owners: list[Obj]) -> list[Obj]:
    return [owner for owner in owners if owner.get("apiVersion") == "apps/v1"]


def _virtual_owned_conditions(vpod: Obj) -> list[Obj]:
    conditions = (vpod.get("status") or {}).get("conditions") or []
    return [condition for condition in conditions if condition.get("type") not in HOST_OWNED_CONDITIONS]


def _significant(obj: Obj | None) -> Obj | None:
    """Null-valued keys dropped: the API server omits them, so they never count as a difference."""
    return None if obj is None else {key: value for key, value in obj.items() if value is not None}


def _image_changes(virtual: list[Obj], host: list[Obj], image_map: Mapping[str, str]) -> list[Obj]:
    host_images = {container["name"]: container.get("image") for container in host}
    changes = []
    for container in virtual:
        image = image_map.get(container.get("image", ""), container.get("image"))
        if container["name"] in host_images and host_images[container["name"]] != image:
            changes.append({"name": container["name"], "image": image})
    return changes


def _remaining_gates(virtual: list[Obj], host: list[Obj]) -> list[Obj] | None:
    """The host gates still present in virtual, or None when none was removed (gates can only be removed)."""
    kept = {gate.get("name") for gate in virtual}
    remaining = [clone(gate) for gate in host if gate.get("name") in kept]
    return remaining if len(remaining) != len(host) else None


def _union(*groups: Iterable[Obj]) -> list[Obj]:
    """Tolerations of all groups in order, each once; null-valued keys do not make two tolerations differ."""
    result: list[Obj] = []
    for toleration in (toleration for group in groups for toleration in group):
        if _significant(toleration) not in (_significant(existing) for existing in result):
            result.append(clone(toleration))
    return result
