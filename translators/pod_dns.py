"""Name resolution of host pods (SPEC §6.1.3). A host pod lives in the host namespace under a host name, yet must
resolve virtual Service names through the virtual DNS, reach the virtual API server as `kubernetes`, and keep its own
hostname."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

Obj = dict[str, Any]

KUBERNETES_HOSTNAMES = ("kubernetes", "kubernetes.default", "kubernetes.default.svc")
NDOTS = {"name": "ndots", "value": "5"}
_MAX_HOSTNAME_LENGTH = 63
# the API server's limits on a pod's dnsConfig, which the virtual DNS entries count against
MAX_NAMESERVERS, MAX_SEARCHES, MAX_SEARCH_CHARS = 3, 32, 2048


def dns_fields(vspec: Obj, namespace: str, cluster_domain: str, dns_ip: str) -> Obj:
    """`dnsPolicy: None` plus a dnsConfig resolving through the virtual DNS, for pods that would use cluster DNS; {} for
    the others (`Default`, `None`, and `ClusterFirst` on the host network, which Kubernetes treats as `Default`)."""
    policy = vspec.get("dnsPolicy") or "ClusterFirst"
    host_network = bool(vspec.get("hostNetwork"))
    if not (policy == "ClusterFirstWithHostNet" or (policy == "ClusterFirst" and not host_network)):
        return {}
    config = vspec.get("dnsConfig") or {}
    searches = [f"{namespace}.svc.{cluster_domain}", f"svc.{cluster_domain}", cluster_domain]
    options = list(config.get("options") or [])
    if not any(option.get("name") == NDOTS["name"] for option in options):
        options.append(dict(NDOTS))
    return {
        "dnsPolicy": "None",
        "dnsConfig": {
            "nameservers": _unique([dns_ip, *(config.get("nameservers") or [])]),
            "searches": _unique([*searches, *(config.get("searches") or [])]),
            "options": options,
        },
    }


def over_dns_limits(host_spec: Obj) -> str | None:
    """Why the host would reject the translated pod's dnsConfig, in the tenant's terms; None when it fits. Checked
    before anything is written, so such a pod leaves nothing behind on the host."""
    config = host_spec.get("dnsConfig") or {}
    nameservers, searches = config.get("nameservers") or [], config.get("searches") or []
    added = "with the virtual cluster's DNS added, the pod's dnsConfig has"
    if len(nameservers) > MAX_NAMESERVERS:
        return f"{added} {len(nameservers)} nameservers; at most {MAX_NAMESERVERS} are allowed"
    if len(searches) > MAX_SEARCHES:
        return f"{added} {len(searches)} search paths; at most {MAX_SEARCHES} are allowed"
    if len(" ".join(searches)) > MAX_SEARCH_CHARS:
        return f"{added} search paths of {len(' '.join(searches))} characters; at most {MAX_SEARCH_CHARS} are allowed"
    return None


def host_aliases(vspec: Obj, vcluster_ip: str) -> list[Obj]:
    """The pod's hostAliases plus one resolving `kubernetes` to the vcluster host Service."""
    return [*(vspec.get("hostAliases") or []), {"ip": vcluster_ip, "hostnames": list(KUBERNETES_HOSTNAMES)}]


def hostname(vspec: Obj, pod_name: str) -> str:
    """The pod's own hostname, else the virtual pod name made a valid DNS label, so the host name never shows."""
    if vspec.get("hostname"):
        return vspec["hostname"]
    return pod_name[:_MAX_HOSTNAME_LENGTH].replace(".", "-").rstrip("-")


def _unique(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(values))
