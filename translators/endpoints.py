"""Endpoints of selector-less Services (SPEC §6.3, §8.3): no host controller fills those in, so the tenant's
addresses go down — filtered so they can only point at this vcluster's pods or allowed CIDRs, with pod references
renamed to the host pods. The pieces shared with EndpointSlices (policy, targetRefs, warnings) live here too."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterable
from typing import Any

from translators.endpoint_policy import address_ip, canonical_ip, dropped_warning, filter_addresses
from translators.kind import KindSpec, Lookup, Notice, Obj, Step, SyncContext, Trigger
from translators.metadata import desired_host_metadata
from vocab.diff import owned_patch
from vocab.resources import ENDPOINTS, PODS, SERVICES

LEADER_ANNOTATION = "control-plane.alpha.kubernetes.io/leader"
POD_IP_INDEX = "pod-ip"  # host pods by canonical pod IP
ADDRESS_IP_INDEX = "address-ip"  # virtual Endpoints (and EndpointSlices) by the canonical IPs they list
ADDRESS_FIELDS = ("addresses", "notReadyAddresses")
OWNED = ("subsets",)
RESTORE_WINDOW = 30.0


# ---- shared with EndpointSlices -------------------------------------------------------------------------------
def canonical_ips(ips: Iterable[str]) -> list[str]:
    return [ip for ip in map(canonical_ip, ips) if ip]


def host_pod_ips(pod: Obj) -> list[str]:
    """Index function: a host pod's IPs (podIP and podIPs), so membership tests are one lookup."""
    status = pod.get("status") or {}
    return canonical_ips([status.get("podIP") or "", *(entry.get("ip") or "" for entry in status.get("podIPs") or ())])


class HostPodIPs:
    """The pod IPs of this vcluster's managed host pods, as the Container the address policy asks for."""

    def __init__(self, pods: Lookup) -> None:
        self._pods = pods

    def __contains__(self, ip: object) -> bool:
        return isinstance(ip, str) and bool(self._pods.keys_by_index(POD_IP_INDEX, ip))


def keep_allowed(
    ctx: SyncContext, addresses: Iterable[Any], ip_of: Callable[[Any], str] = address_ip
) -> tuple[list[Any], list[str]]:
    """§8.3 against this vcluster's host pods and --endpoints-allowed-cidrs: (kept, dropped IPs)."""
    return filter_addresses(
        addresses,
        pod_ips=HostPodIPs(ctx.host(PODS)),
        allowed_cidrs=ctx.config.endpoints_allowed_cidrs,
        ip_of=ip_of,
    )


def selectorless_service(ctx: SyncContext, namespace: str, name: str) -> bool:
    """Whether virtual Service `namespace/name` exists without a selector (default/kubernetes has its own sync)."""
    if (namespace, name) == ("default", "kubernetes"):
        return False
    service = ctx.virtual(SERVICES).get(f"{namespace}/{name}")
    return service is not None and not (service.get("spec") or {}).get("selector")


def restore_vanished(ctx: SyncContext, endpoints: Obj, now: float | None = None) -> Obj | None:
    """The Endpoints of a selector-less Service again, when they vanished because the Service was re-created after
    them (vcsync re-creates a virtual Service to give it the host ClusterIP, and the virtual endpoints controller
    deletes the Endpoints of any Service it sees deleted, selector or not). Only within RESTORE_WINDOW seconds of
    the Service's creation: a tenant deleting their Endpoints later means it."""
    meta = endpoints["metadata"]
    service = ctx.virtual(SERVICES).get(f"{meta['namespace']}/{meta['name']}")
    if service is None or not selectorless_service(ctx, meta["namespace"], meta["name"]):
        return None
    service_created = _timestamp(service["metadata"].get("creationTimestamp"))
    endpoints_created = _timestamp(meta.get("creationTimestamp"))
    current = time.time() if now is None else now
    if not (endpoints_created <= service_created and current - service_created <= RESTORE_WINDOW):
        return None
    kept = {key: meta[key] for key in ("name", "namespace", "labels", "annotations") if meta.get(key)}
    return {"apiVersion": "v1", "kind": "Endpoints", "metadata": kept, "subsets": endpoints.get("subsets") or []}


def _timestamp(value: str | None) -> float:
    if not value:
        return 0.0
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def _host_target_ref(ctx: SyncContext, ref: Obj, namespace: str) -> Obj | None:
    """A Pod reference renamed to its host pod, or None when there is none (other kinds, pods not synced)."""
    if ref.get("kind") != "Pod" or not ref.get("name"):
        return None
    host_ns, host_name = ctx.names.to_host(ref.get("namespace") or namespace, ref["name"])
    if ctx.host(PODS).get(f"{host_ns}/{host_name}") is None:
        return None
    kept = {key: value for key, value in ref.items() if key not in ("uid", "resourceVersion")}
    return {**kept, "namespace": host_ns, "name": host_name}


def with_host_target(ctx: SyncContext, item: Obj, namespace: str) -> Obj:
    """An Endpoints address or EndpointSlice endpoint with its targetRef translated, or dropped if unresolvable."""
    out = {key: value for key, value in item.items() if key != "targetRef"}
    ref = _host_target_ref(ctx, item["targetRef"], namespace) if item.get("targetRef") else None
    if ref is not None:
        out["targetRef"] = ref
    return out


def warn_on_change(translated: tuple[Obj, list[str]], host: Obj | None, owned: tuple[str, ...]) -> list[Step]:
    """One SyncWarning per change: only when dropping addresses goes with a write (a create, or owned content that
    differs), so passes with nothing to do stay silent, restarts included (SPEC §9.5)."""
    body, dropped = translated
    if not dropped or (host is not None and not owned_patch(host, body, owned)):
        return []
    return [Notice(dropped_warning(dropped), dropped_addresses=len(dropped))]


# ---- Endpoints ------------------------------------------------------------------------------------------------
def _subset(ctx: SyncContext, subset: Obj, namespace: str) -> tuple[Obj, list[str]]:
    out = {key: value for key, value in subset.items() if key not in ADDRESS_FIELDS}
    dropped: list[str] = []
    for field in ADDRESS_FIELDS:
        kept, lost = keep_allowed(ctx, subset.get(field) or ())
        dropped += lost
        if kept:
            out[field] = [with_host_target(ctx, address, namespace) for address in kept]
    return out, dropped


def translate(ctx: SyncContext, endpoints: Obj) -> tuple[Obj, list[str]]:
    """(host body, dropped IPs): the one computation behind both `desired` and the warning. A subset left without
    addresses is left out, since the API rejects one."""
    namespace = endpoints["metadata"]["namespace"]
    subsets: list[Obj] = []
    dropped: list[str] = []
    for subset in endpoints.get("subsets") or ():
        out, lost = _subset(ctx, subset, namespace)
        dropped += lost
        if any(field in out for field in ADDRESS_FIELDS):
            subsets.append(out)
    return {"subsets": subsets}, dropped


def address_ips(endpoints: Obj) -> list[str]:
    """Index function: every IP an Endpoints lists, so a host pod IP change finds the Endpoints to requeue."""
    subsets = endpoints.get("subsets") or ()
    return canonical_ips(address_ip(a) for s in subsets for field in ADDRESS_FIELDS for a in s.get(field) or ())


def service_key(service: Obj) -> list[str]:
    """An Endpoints object is named after its Service."""
    meta = service["metadata"]
    return [f"{meta['namespace']}/{meta['name']}"]


def should_sync(ctx: SyncContext, endpoints: Obj) -> bool:
    meta = endpoints["metadata"]
    return selectorless_service(ctx, meta["namespace"], meta["name"])


def metadata(ctx: SyncContext, endpoints: Obj, host: Obj | None) -> Obj:
    meta = endpoints["metadata"]
    annotations = {k: v for k, v in (meta.get("annotations") or {}).items() if k != LEADER_ANNOTATION}
    vobj = {**endpoints, "metadata": {**meta, "annotations": annotations}}
    return desired_host_metadata(vobj, host, names=ctx.names, api_version="v1", kind="Endpoints")


KIND = KindSpec(
    name="endpoints",
    resource=ENDPOINTS,
    owned=OWNED,
    desired=lambda ctx, endpoints: translate(ctx, endpoints)[0],
    should_sync=should_sync,
    metadata=metadata,
    before_create=lambda ctx, endpoints: warn_on_change(translate(ctx, endpoints), None, OWNED),
    existing=lambda ctx, endpoints, host: warn_on_change(translate(ctx, endpoints), host, OWNED),
    restore_vanished=restore_vanished,
    virtual_indexes={ENDPOINTS: {ADDRESS_IP_INDEX: address_ips}},
    host_indexes={PODS: {POD_IP_INDEX: host_pod_ips}},
    triggers=(
        Trigger("virtual", SERVICES, service_key),
        Trigger("host", PODS, host_pod_ips, via_index=ADDRESS_IP_INDEX),
    ),
)
