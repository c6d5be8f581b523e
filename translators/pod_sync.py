"""Pods (SPEC §6.1): the life cycle around the pure translation in translators/pods.py, as Steps the engine
carries out — refuse what the Pod Security Standard forbids, wait for the vcluster and DNS Service IPs, issue
tokens, create; then deletion both ways, node binding, status up, tenant conditions and mutable fields down.
Each hook returns at most one group of writes: an upward write ends the pass and its watch event drives the next."""

from __future__ import annotations

import datetime as dt

from translators.fakenodes import NODE_INDEX, node_of
from translators.kind import EnsureTokens, KindSpec, Notice, Obj, Refuse, Requeue, Step, SyncContext, Trigger, Write
from translators.markers import OBJECT_NAME, OBJECT_NAMESPACE, SKIP_BACKSYNC
from translators.names import host_name, token_secret_name
from translators.pause import lost_to_pause, pause_changed, pause_state, pin_to_node, pod_ended
from translators.pod_dns import over_dns_limits
from translators.pods import (
    PodContext,
    conditions_down,
    mutable_patch,
    pod_metadata,
    status_up,
    token_sources,
    translate_pod,
)
from translators.podsecurity import check_pod, refusal_message
from vocab.diff import owned_patch
from vocab.flagvalues import parse_toleration
from vocab.resources import NAMESPACES, NODES, PODS, SECRETS, SERVICES

DNS_WARNING_AFTER = 60.0
ORPHAN_TOKEN_AGE = 300.0


def _namespace_of(obj: Obj) -> list[str]:
    return [obj["metadata"]["namespace"]]


def _token_secret_owner(secret: Obj) -> list[str]:
    """The pod a host token Secret belongs to, so a change to it (or its removal) requeues that pod."""
    annotations = secret["metadata"].get("annotations") or {}
    name = annotations.get(OBJECT_NAME, "")
    if annotations.get(SKIP_BACKSYNC) != "true" or not name.endswith("-sa-token"):
        return []
    return [f"{annotations.get(OBJECT_NAMESPACE, '')}/{name.removesuffix('-sa-token')}"]


def _cluster_ip(service: Obj | None) -> str:
    ip = ((service or {}).get("spec") or {}).get("clusterIP") or ""
    return "" if ip == "None" else ip


def pod_context(ctx: SyncContext, vpod: Obj) -> PodContext | str:
    """Everything the translation needs, or what is still missing (the vcluster or DNS Service IP)."""
    config, names = ctx.config, ctx.names
    namespace = vpod["metadata"]["namespace"]
    vcluster_ip = _cluster_ip(ctx.vcluster_service())
    if not vcluster_ip:
        return f"waiting for the ClusterIP of host Service {config.own_namespace}/{config.service_name}"
    dns_namespace, dns_name = config.dns_service.split("/", 1)
    dns = ctx.host(SERVICES).get(f"{config.target_namespace}/{host_name(dns_name, dns_namespace, names.suffix)}")
    if not _cluster_ip(dns):
        return f"waiting for DNS service IP (host copy of {config.dns_service})"
    ns_obj = ctx.virtual(NAMESPACES).get(namespace) or {}
    services = tuple(s for s in ctx.virtual(SERVICES).by_index("namespace", namespace) if _cluster_ip(s))
    return PodContext(
        names=names,
        cluster_domain=config.cluster_domain,
        service_account=config.service_account,
        sync_serviceaccounts="serviceaccounts" in config.sync,
        sync_priorityclasses="priorityclasses" in config.sync,
        translate_image=dict(rule.split("=", 1) for rule in config.translate_image),
        enforce_tolerations=tuple(parse_toleration(t) for t in config.enforce_toleration),
        node_selector=dict(kv.split("=", 1) for kv in config.node_selector.split(",") if kv),
        enforce_node_selector=config.enforce_node_selector,
        vcluster_ip=vcluster_ip,
        dns_ip=_cluster_ip(dns),
        namespace_labels=(ns_obj.get("metadata") or {}).get("labels") or {},
        services=services,
    )


def _age(obj: Obj) -> float:
    created = obj["metadata"].get("creationTimestamp")
    if not created:
        return 0.0
    return (dt.datetime.now(dt.UTC) - dt.datetime.fromisoformat(created.replace("Z", "+00:00"))).total_seconds()


def _delete_virtual(vpod: Obj, grace: int, why: str) -> Write:
    meta = vpod["metadata"]
    return Write("virtual", "delete", PODS, meta["namespace"], meta["name"], uid=meta["uid"], grace=grace, why=why)


def _tokens(ctx: SyncContext, vpod: Obj) -> list[Step]:
    sources = token_sources(vpod, ctx.config.cluster_domain)
    if not sources:
        return []
    meta = vpod["metadata"]
    return [EnsureTokens(token_secret_name(meta["name"], meta["namespace"], ctx.names.suffix), vpod, tuple(sources))]


# ---- hooks ---------------------------------------------------------------------------------------------------
def before_create(ctx: SyncContext, vpod: Obj) -> list[Step]:
    level = ctx.config.pod_security_standard
    violations = check_pod(vpod, level)
    if violations:
        return [Refuse("pod_security", refusal_message(level, violations))]
    spec = vpod["spec"]
    if spec.get("resourceClaims"):
        return [Refuse("unsupported", "pods with resourceClaims are not supported yet")]
    node = spec.get("nodeName")
    if node and ctx.config.node_selector and ctx.virtual(NODES).get(node) is None:
        return [Requeue(15.0, f"waiting for node {node} to exist in the virtual cluster")]
    pctx = pod_context(ctx, vpod)
    if isinstance(pctx, str):
        return [Requeue(2.0, pctx if _age(vpod) > DNS_WARNING_AFTER else None)]
    host, warnings = translate_pod(vpod, pctx)
    if problem := over_dns_limits(host["spec"]):
        return [Refuse("invalid", problem)]
    return [*(Notice(w) for w in warnings), *_tokens(ctx, vpod)]


def desired(ctx: SyncContext, vpod: Obj) -> Obj:
    pctx = pod_context(ctx, vpod)
    assert not isinstance(pctx, str), pctx  # before_create waited for it
    spec = translate_pod(vpod, pctx)[0]["spec"]
    return {"spec": pin_to_node(spec) if lost_to_pause(pause_state(ctx.vcluster_service()), vpod) else spec}


def metadata(ctx: SyncContext, vpod: Obj, hpod: Obj | None) -> Obj:
    pctx = pod_context(ctx, vpod)
    if isinstance(pctx, str):  # an existing pod whose Services vanished: keep what is there
        pctx = PodContext(names=ctx.names, cluster_domain=ctx.config.cluster_domain)
    return pod_metadata(vpod, hpod, pctx)


def host_gone(ctx: SyncContext, vpod: Obj) -> list[Step] | None:
    """A deleting pod has nothing left to wait for, and a started pod is never recreated (SPEC §6.1.1a) — unless
    it lost its host pod to a pause: then nothing happens while paused, and after the resume it is re-created
    (an ended one stays as it ended)."""
    if vpod["metadata"].get("deletionTimestamp"):
        return [_delete_virtual(vpod, 0, "host pod gone")]
    pause = pause_state(ctx.vcluster_service())
    if pause.paused:
        return []
    if lost_to_pause(pause, vpod):
        return [] if pod_ended(vpod) else None
    if (vpod.get("status") or {}).get("startTime"):
        return [_delete_virtual(vpod, 0, "started pod lost its host pod")]
    return None


def leftovers(ctx: SyncContext, key: str) -> list[Step]:
    """A token Secret without pod on either side (the pod create failed, or a crash in between) is deleted once
    older than 5 minutes (SPEC §12); younger ones may still be about to get their pod."""
    namespace, _, name = key.partition("/")
    secret_name = token_secret_name(name, namespace, ctx.names.suffix)
    secret = ctx.host(SECRETS).get(f"{ctx.config.target_namespace}/{secret_name}")
    if secret is None:
        return []
    age = _age(secret)
    if age < ORPHAN_TOKEN_AGE:
        return [Requeue(ORPHAN_TOKEN_AGE - age)]
    meta = secret["metadata"]
    return [Write("host", "delete", SECRETS, meta["namespace"], secret_name, uid=meta["uid"], why="pod-less token")]


def existing(ctx: SyncContext, vpod: Obj, hpod: Obj) -> list[Step]:
    if pause_state(ctx.vcluster_service()).paused:  # the pause is removing the host pod: mirror nothing of it
        return _deletion(vpod, hpod) if vpod["metadata"].get("deletionTimestamp") else []
    return _deletion(vpod, hpod) or _binding(ctx, vpod, hpod) or _status(ctx, vpod, hpod) or _tokens(ctx, vpod)


def _deletion(vpod: Obj, hpod: Obj) -> list[Step]:
    vmeta, hmeta = vpod["metadata"], hpod["metadata"]
    if vmeta.get("deletionTimestamp") and not hmeta.get("deletionTimestamp"):
        grace = vmeta.get("deletionGracePeriodSeconds")
        return [
            Write(
                "host",
                "delete",
                PODS,
                hmeta["namespace"],
                hmeta["name"],
                uid=hmeta["uid"],
                grace=grace,
                why="virtual pod deleted",
            )
        ]
    if hmeta.get("deletionTimestamp"):
        host_grace = hmeta.get("deletionGracePeriodSeconds")
        if not vmeta.get("deletionTimestamp"):
            grace = vpod["spec"].get("terminationGracePeriodSeconds", 30)
            return [_delete_virtual(vpod, grace, "host pod deleted")]
        if host_grace is not None and vmeta.get("deletionGracePeriodSeconds") != host_grace:
            return [_delete_virtual(vpod, host_grace, "host grace period")]
    return []


def _binding(ctx: SyncContext, vpod: Obj, hpod: Obj) -> list[Step]:
    host_node, virtual_node = hpod["spec"].get("nodeName"), vpod["spec"].get("nodeName")
    if not host_node or host_node == virtual_node:
        return []
    if virtual_node:
        return [_delete_virtual(vpod, 0, f"bound to {virtual_node} but runs on {host_node}")]
    if ctx.virtual(NODES).get(host_node) is None:
        return [Requeue(5.0)]  # the fake-node controller is creating it; its arrival requeues us at once
    meta = vpod["metadata"]
    binding = {
        "apiVersion": "v1",
        "kind": "Binding",
        "metadata": {"name": meta["name"], "namespace": meta["namespace"]},
        "target": {"apiVersion": "v1", "kind": "Node", "name": host_node},
    }
    return [
        Write("virtual", "create", PODS, meta["namespace"], meta["name"], binding, subresource="binding", why="bind")
    ]


def _status(ctx: SyncContext, vpod: Obj, hpod: Obj) -> list[Step]:
    meta, hmeta = vpod["metadata"], hpod["metadata"]
    up = owned_patch(vpod, {"status": status_up(vpod, hpod)}, ("status",))
    if up:
        return [
            Write("virtual", "patch", PODS, meta["namespace"], meta["name"], up, subresource="status", why="status")
        ]
    conditions = conditions_down(vpod, hpod)
    if conditions is not None:
        return [
            Write(
                "host",
                "patch",
                PODS,
                hmeta["namespace"],
                hmeta["name"],
                {"status": {"conditions": conditions}},
                subresource="status",
                why="conditions",
            )
        ]
    pctx = pod_context(ctx, vpod)
    patch = mutable_patch(vpod, hpod, pctx) if not isinstance(pctx, str) else None
    if patch:
        return [
            Write(
                "host",
                "patch",
                PODS,
                hmeta["namespace"],
                hmeta["name"],
                patch,
                patch_type="strategic",
                why="mutable fields",
            )
        ]
    return _reown_token_secret(ctx, vpod, hpod)


def _reown_token_secret(ctx: SyncContext, vpod: Obj, hpod: Obj) -> list[Step]:
    """The token Secret is created before its pod; once the pod exists it becomes the owner (SPEC §6.1.4h)."""
    meta, hmeta = vpod["metadata"], hpod["metadata"]
    name = token_secret_name(meta["name"], meta["namespace"], ctx.names.suffix)
    secret = ctx.host(SECRETS).get(f"{hmeta['namespace']}/{name}")
    owner = {"apiVersion": "v1", "kind": "Pod", "name": hmeta["name"], "uid": hmeta["uid"]}
    if secret is None or (secret["metadata"].get("ownerReferences") or []) == [owner]:
        return []
    return [
        Write(
            "host",
            "patch",
            SECRETS,
            hmeta["namespace"],
            name,
            {"metadata": {"ownerReferences": [owner]}},
            why="token secret owner",
        )
    ]


def _name(obj: Obj) -> list[str]:
    return [obj["metadata"]["name"]]


def _nothing(obj: Obj) -> list[str]:
    return []


_HOST_SPEC_READ = ("nodeName", "activeDeadlineSeconds", "schedulingGates", "tolerations")


def cached_host_pod(hpod: Obj) -> Obj:
    """The host pod as the caches keep it: metadata and status whole, and of the spec only what is read (the node,
    and what `mutable_patch` compares: container images, the deadline, gates and tolerations). The rest of the spec
    is vcsync's own translation, never read back: 9.6 -> 5.3 KB for the benchmark's cached host pod."""
    spec = hpod.get("spec") or {}
    kept = {key: spec[key] for key in _HOST_SPEC_READ if key in spec}
    for key in ("containers", "initContainers"):
        if key in spec:
            kept[key] = [{"name": c.get("name"), "image": c.get("image")} for c in spec[key] or ()]
    hpod["spec"] = kept
    return hpod


KIND = KindSpec(
    name="pods",
    resource=PODS,
    owned=(),  # spec changes go through `existing` (mutable fields only); metadata through the generic merge
    desired=desired,
    metadata=metadata,
    before_create=before_create,
    existing=existing,
    host_gone=host_gone,
    leftovers=leftovers,
    virtual_indexes={SERVICES: {"namespace": _namespace_of}, PODS: {"namespace": _namespace_of}},
    host_indexes={PODS: {NODE_INDEX: node_of}},
    host_projection=cached_host_pod,
    triggers=(
        Trigger("host", SECRETS, _token_secret_owner),
        Trigger("virtual", NAMESPACES, _name, via_index="namespace"),  # namespace labels go into the pod's
        # a new (fake) Node: bind at once the pods that were waiting for it (see `_binding`)
        Trigger("virtual", NODES, _name, via_index=NODE_INDEX, index_side="host", added_only=True),
        Trigger("own", SERVICES, _nothing, every_key=True, when=pause_changed),  # paused, resumed: look at all pods
    ),
    reads=(("virtual", NODES), ("virtual", NAMESPACES), ("virtual", SERVICES), ("host", SERVICES), ("host", SECRETS)),
)
