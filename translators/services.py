"""Services (SPEC §6.2, §8.2): the host Service carries the tenant's ports and a selector translated to this
vcluster's pods, while the host allocates ClusterIPs, nodePorts and load balancers, and those are imposed on the
virtual Service, since both clusters share one service network. externalIPs go down only with --allow-external-ips.
The virtual default/kubernetes Service is never synced down: it points at the vcluster's own host Service."""

from __future__ import annotations

from translators.kind import KindSpec, Notice, Obj, Step, SyncContext, Write
from translators.labels import translate_selector_map
from vocab.diff import normalise
from vocab.resources import SERVICES

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
    if not _externally_accessible(out):  # defaulted for externalIPs we dropped: the host would reject the Service
        out.pop("externalTrafficPolicy", None)
    return out


def _externally_accessible(spec: Obj) -> bool:
    """The API server's rule for where externalTrafficPolicy may be set."""
    kind = spec.get("type") or "ClusterIP"
    return kind in ("NodePort", "LoadBalancer") or (kind == "ClusterIP" and bool(spec.get("externalIPs")))


def desired(ctx: SyncContext, service: Obj) -> Obj:
    host_ns, host_name = ctx.names.to_host(service["metadata"]["namespace"], service["metadata"]["name"])
    host = ctx.host(SERVICES).get(f"{host_ns}/{host_name}")
    return {"spec": desired_spec(ctx, service, host)}


def should_sync(ctx: SyncContext, service: Obj) -> bool:
    meta = service["metadata"]
    return not (meta["namespace"] == "default" and meta["name"] == "kubernetes")


# ---- up: host-allocated values imposed on the virtual Service -------------------------------------------------
_RESET_ON_CREATE = ("clusterIPs", "ipFamilies", "ipFamilyPolicy")
_SERVER_METADATA = ("resourceVersion", "uid", "creationTimestamp", "managedFields", "generation", "selfLink")


def _cluster_ip(service: Obj) -> str:
    ip = service["spec"].get("clusterIP") or ""
    return "" if ip == "None" else ip


def _fresh(service: Obj) -> Obj:
    """`service` as a create body: server-set metadata gone, IP families left to defaulting."""
    meta = {k: v for k, v in service["metadata"].items() if k not in _SERVER_METADATA}
    spec = {k: v for k, v in service["spec"].items() if k not in _RESET_ON_CREATE}
    return {"apiVersion": "v1", "kind": "Service", "metadata": meta, "spec": spec}


def _spec_up(vsvc: Obj, hsvc: Obj) -> Obj:
    """The host's nodePorts and healthCheckNodePort where the virtual Service lacks them or differs; nothing while
    the types differ, since the host copy has not caught up yet."""
    vspec, hspec = vsvc["spec"], hsvc["spec"]
    if vspec.get("type") != hspec.get("type"):
        return {}
    up: Obj = {}
    allocated = {_port_key(p): p["nodePort"] for p in hspec.get("ports") or () if p.get("nodePort")}
    ports = [
        port | {"nodePort": allocated[_port_key(port)]} if _port_key(port) in allocated else port
        for port in vspec.get("ports") or ()
    ]
    if ports != (vspec.get("ports") or []):
        up["ports"] = ports
    health = hspec.get("healthCheckNodePort")
    if health and health != vspec.get("healthCheckNodePort"):
        up["healthCheckNodePort"] = health
    return up


def recreated(vsvc: Obj, hsvc: Obj) -> Obj:
    """The virtual Service again, with the host ClusterIP (and host nodePorts), everything else kept."""
    body = _fresh(vsvc)
    body["spec"] |= {"clusterIP": _cluster_ip(hsvc), **_spec_up(vsvc, hsvc)}
    return body


def _recreate(vsvc: Obj, hsvc: Obj) -> list[Step]:
    host_ip, virtual_ip = _cluster_ip(hsvc), _cluster_ip(vsvc)
    meta = vsvc["metadata"]
    if not host_ip or not virtual_ip or host_ip == virtual_ip or meta.get("deletionTimestamp"):
        return []
    why = f"clusterIP {virtual_ip} -> host {host_ip}"
    ns, name = meta["namespace"], meta["name"]
    return [
        Write("virtual", "delete", SERVICES, ns, name, uid=meta["uid"], why=why),
        Write("virtual", "create", SERVICES, ns, name, recreated(vsvc, hsvc), why=why),
    ]


def _node_ports(vsvc: Obj, hsvc: Obj) -> list[Step]:
    up = _spec_up(vsvc, hsvc)
    if not up:
        return []
    meta = vsvc["metadata"]
    body: Obj = {"spec": up}
    if meta.get("resourceVersion"):  # the ports list is replaced whole: do not overwrite a newer tenant edit
        body["metadata"] = {"resourceVersion": meta["resourceVersion"]}
    return [Write("virtual", "patch", SERVICES, meta["namespace"], meta["name"], body, why="node ports")]


def _ingress(service: Obj) -> list[Obj] | None:
    return normalise(((service.get("status") or {}).get("loadBalancer") or {}).get("ingress")) or None


def _load_balancer(vsvc: Obj, hsvc: Obj) -> list[Step]:
    """status.loadBalancer.ingress only: a patch of the whole status would wipe the virtual conditions."""
    ingress = _ingress(hsvc)
    if ingress == _ingress(vsvc):
        return []
    meta = vsvc["metadata"]
    body = {"status": {"loadBalancer": {"ingress": ingress}}}
    return [Write("virtual", "patch", SERVICES, meta["namespace"], meta["name"], body, subresource="status")]


def _external_ips_notice(ctx: SyncContext, vsvc: Obj) -> list[Step]:
    ips = vsvc["spec"].get("externalIPs")
    if not ips or ctx.config.allow_external_ips:
        return []
    return [
        Notice(f"externalIPs {', '.join(ips)} not synced to the host: the syncer runs without --allow-external-ips")
    ]


def existing(ctx: SyncContext, vsvc: Obj, hsvc: Obj) -> list[Step]:
    """At most one upward write per pass; the down diff (and the externalIPs notice) only once virtual is current."""
    return (
        _recreate(vsvc, hsvc)
        or _node_ports(vsvc, hsvc)
        or _load_balancer(vsvc, hsvc)
        or _external_ips_notice(ctx, vsvc)
    )


# ---- default/kubernetes: the vcluster's own host Service, seen from inside ------------------------------------
KUBERNETES_LABELS = {"component": "apiserver", "provider": "kubernetes"}
SKIP_MIRROR = "endpointslice.kubernetes.io/skip-mirror"
SERVICE_NAME = "kubernetes.io/service-name"


def _kubernetes_meta(labels: dict[str, str]) -> Obj:
    return {"name": "kubernetes", "namespace": "default", "labels": labels}


def kubernetes_service(vsvc: Obj | None, host_vcluster_svc: Obj) -> Obj:
    """The desired virtual default/kubernetes Service: the host Service's IP and ports minus `kubelet`, without
    nodePorts, on top of what the virtual API server made. A clusterIP unlike vsvc's means delete and recreate."""
    base = _fresh(vsvc) if vsvc else {"metadata": _kubernetes_meta(dict(KUBERNETES_LABELS)), "spec": {}}
    ports = [
        {k: v for k, v in port.items() if k != "nodePort"}
        for port in host_vcluster_svc["spec"].get("ports") or ()
        if port.get("name") != "kubelet"
    ]
    spec = base["spec"] | {"type": "ClusterIP", "clusterIP": _cluster_ip(host_vcluster_svc), "ports": ports}
    return {"apiVersion": "v1", "kind": "Service", "metadata": base["metadata"], "spec": spec}


def _bare(address: Obj) -> Obj:
    return {k: v for k, v in address.items() if k not in ("hostname", "nodeName", "targetRef")}


def _https_subsets(host_endpoints: Obj) -> list[Obj]:
    """The host subsets reduced to port `https`, with addresses that name no host node or pod."""
    subsets = []
    for subset in host_endpoints.get("subsets") or ():
        ports = [port for port in subset.get("ports") or () if port.get("name") == "https"]
        addresses = {
            key: [_bare(address) for address in subset[key]]
            for key in ("addresses", "notReadyAddresses")
            if subset.get(key)
        }
        if ports and addresses:
            subsets.append({**addresses, "ports": ports})
    return subsets


def kubernetes_endpoints(host_vcluster_endpoints: Obj) -> Obj:
    """The desired virtual default/kubernetes Endpoints; skip-mirror keeps the mirroring controller off it."""
    return {
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": _kubernetes_meta({SKIP_MIRROR: "true"}),
        "subsets": _https_subsets(host_vcluster_endpoints),
    }


def kubernetes_endpointslice(host_vcluster_endpoints: Obj) -> Obj:
    """The desired virtual EndpointSlice `kubernetes` (with `endpointslices` on): the same addresses as
    kubernetes_endpoints, of the first address's family and the first subset's https port."""
    subsets = _https_subsets(host_vcluster_endpoints)
    port = subsets[0]["ports"][0] if subsets else None
    endpoints = [
        {"addresses": [address["ip"]], "conditions": {"ready": key == "addresses"}}
        for subset in subsets
        if subset["ports"][0] == port
        for key in ("addresses", "notReadyAddresses")
        for address in subset.get(key) or ()
    ]
    family = "IPv6" if endpoints and ":" in endpoints[0]["addresses"][0] else "IPv4"
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": _kubernetes_meta({SERVICE_NAME: "kubernetes", SKIP_MIRROR: "true"}),
        "addressType": family,
        "endpoints": [e for e in endpoints if (":" in e["addresses"][0]) == (family == "IPv6")],
        "ports": [port] if port else [],
    }


KIND = KindSpec(
    name="services",
    resource=SERVICES,
    owned=tuple(f"spec.{key}" for key in (*COPIED, "ports", "selector", "externalIPs")),
    desired=desired,
    should_sync=should_sync,
    uid_exempt=True,
    existing=existing,
)
