"""Services down (SPEC §6.2, §8.2): the host Service carries the tenant's ports and a selector translated to
this vcluster's pods; ClusterIPs and nodePorts are left to the host to allocate (and kept once allocated, so
they never show as a difference). externalIPs go down only with --allow-external-ips. The upward half
(imposing host ClusterIPs on virtual Services) is not built yet."""

from __future__ import annotations

from syncer.kube.resources import SERVICES
from translators.kind import KindSpec, Obj, SyncContext
from translators.labels import translate_selector_map

COPIED = (
    "type",
    "publishNotReadyAddresses",
    "externalName",
    "externalTrafficPolicy",
    "internalTrafficPolicy",
    "sessionAffinity",
    "sessionAffinityConfig",
    "loadBalancerSourceRanges",
    "loadBalancerClass",
    "loadBalancerIP",
    "allocateLoadBalancerNodePorts",
)


def _port_key(port: Obj) -> tuple[str, int, str]:
    return port.get("name", ""), port.get("port", 0), port.get("protocol", "TCP")


def _ports(service: Obj, host: Obj | None) -> list[Obj]:
    """Virtual ports, with nodePort taken from the host copy (the host allocates it) or dropped."""
    allocated = {_port_key(p): p.get("nodePort") for p in ((host or {}).get("spec") or {}).get("ports") or ()}
    ports = []
    for port in service["spec"].get("ports") or ():
        port = {k: v for k, v in port.items() if k != "nodePort"}
        if allocated.get(_port_key(port)):
            port["nodePort"] = allocated[_port_key(port)]
        ports.append(port)
    return ports


def desired_spec(ctx: SyncContext, service: Obj, host: Obj | None) -> Obj:
    spec = service["spec"]
    meta = service["metadata"]
    out = {key: spec[key] for key in COPIED if key in spec}
    out["ports"] = _ports(service, host)
    out["selector"] = translate_selector_map(spec.get("selector"), ctx.names.suffix, meta["namespace"])
    if spec.get("clusterIP") == "None":
        out["clusterIP"] = "None"
    if ctx.config.allow_external_ips and spec.get("externalIPs"):
        out["externalIPs"] = spec["externalIPs"]
    return out


def desired(ctx: SyncContext, service: Obj) -> Obj:
    host_ns, host_name = ctx.names.to_host(service["metadata"]["namespace"], service["metadata"]["name"])
    host = ctx.host(SERVICES).get(f"{host_ns}/{host_name}")
    return {"spec": desired_spec(ctx, service, host)}


def should_sync(ctx: SyncContext, service: Obj) -> bool:
    meta = service["metadata"]
    return not (meta["namespace"] == "default" and meta["name"] == "kubernetes")


KIND = KindSpec(
    name="services",
    resource=SERVICES,
    owned=tuple(f"spec.{key}" for key in (*COPIED, "ports", "selector", "externalIPs")),
    desired=desired,
    should_sync=should_sync,
    uid_exempt=True,
)
