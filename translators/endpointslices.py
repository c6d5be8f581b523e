"""EndpointSlices of selector-less Services (SPEC §6.3, §8.3): the tenant's own slices go down under the same address
policy as Endpoints, pointing at the host Service; slices the virtual controllers derive are left to the host's
controllers, and FQDN slices are refused because a host name could resolve to anything on the host network."""

from __future__ import annotations

from translators.endpoints import (
    ADDRESS_IP_INDEX,
    POD_IP_INDEX,
    canonical_ips,
    host_pod_ips,
    keep_allowed,
    selectorless_service,
    service_key,
    warn_on_change,
    with_host_target,
)
from translators.kind import KindSpec, Notice, Obj, Requeue, Step, SyncContext, Trigger
from translators.metadata import desired_host_metadata
from vocab.resources import ENDPOINTSLICES, PODS, SERVICES

SERVICE_NAME = "kubernetes.io/service-name"
MANAGED_BY = "endpointslice.kubernetes.io/managed-by"
VIRTUAL_CONTROLLERS = frozenset({"endpointslice-controller.k8s.io", "endpointslicemirroring-controller.k8s.io"})
SERVICE_INDEX = "service"  # virtual slices by "<ns>/<service>"
OWNED = ("addressType", "endpoints", "ports")
FQDN_WARNING = "EndpointSlices with addressType FQDN are not synced to the host cluster"
FQDN_RECHECK = 3600.0  # addressType is immutable; an edit requeues the slice anyway


def _labels(eps: Obj) -> dict[str, str]:
    return eps["metadata"].get("labels") or {}


def service_of(eps: Obj) -> list[str]:
    """Index function: the "<ns>/<name>" of the Service a slice belongs to, if it names one."""
    service = _labels(eps).get(SERVICE_NAME)
    return [f"{eps['metadata']['namespace']}/{service}"] if service else []


def should_sync(ctx: SyncContext, eps: Obj) -> bool:
    service = _labels(eps).get(SERVICE_NAME)
    if not service or _labels(eps).get(MANAGED_BY) in VIRTUAL_CONTROLLERS:
        return False
    return selectorless_service(ctx, eps["metadata"]["namespace"], service)


def translate(ctx: SyncContext, eps: Obj) -> tuple[Obj, list[str]]:
    """(host body, dropped IPs), behind both `desired` and the warning. An endpoint left without addresses is
    left out."""
    namespace = eps["metadata"]["namespace"]
    endpoints: list[Obj] = []
    dropped: list[str] = []
    for endpoint in eps.get("endpoints") or ():
        kept, lost = keep_allowed(ctx, endpoint.get("addresses") or (), ip_of=str)
        dropped += lost
        if kept:
            endpoints.append({**with_host_target(ctx, endpoint, namespace), "addresses": kept})
    body = {key: eps[key] for key in ("addressType", "ports") if key in eps}
    return {**body, "endpoints": endpoints}, dropped


def address_ips(eps: Obj) -> list[str]:
    """Index function: every IP a slice lists, so a host pod IP change finds the slices to requeue."""
    return canonical_ips(ip for endpoint in eps.get("endpoints") or () for ip in endpoint.get("addresses") or ())


def before_create(ctx: SyncContext, eps: Obj) -> list[Step]:
    if eps.get("addressType") == "FQDN":
        return [Notice(FQDN_WARNING), Requeue(FQDN_RECHECK)]
    return warn_on_change(translate(ctx, eps), None, OWNED)


def metadata(ctx: SyncContext, eps: Obj, host: Obj | None) -> Obj:
    """The generic metadata, with the service-name label pointing at the host Service."""
    _, service = ctx.names.to_host(eps["metadata"]["namespace"], _labels(eps)[SERVICE_NAME])
    return desired_host_metadata(
        eps,
        host,
        names=ctx.names,
        api_version=ENDPOINTSLICES.api_version,
        kind=ENDPOINTSLICES.kind,
        extra_labels={SERVICE_NAME: service},
    )


KIND = KindSpec(
    name="endpointslices",
    resource=ENDPOINTSLICES,
    owned=OWNED,
    desired=lambda ctx, eps: translate(ctx, eps)[0],
    should_sync=should_sync,
    metadata=metadata,
    before_create=before_create,
    existing=lambda ctx, eps, host: warn_on_change(translate(ctx, eps), host, OWNED),
    virtual_indexes={ENDPOINTSLICES: {SERVICE_INDEX: service_of, ADDRESS_IP_INDEX: address_ips}},
    host_indexes={PODS: {POD_IP_INDEX: host_pod_ips}},
    triggers=(
        Trigger("virtual", SERVICES, service_key, via_index=SERVICE_INDEX),
        Trigger("host", PODS, host_pod_ips, via_index=ADDRESS_IP_INDEX),
    ),
)
