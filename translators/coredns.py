"""The CoreDNS vcsync keeps in the virtual cluster (--coredns), so a tenant's pods resolve Service names without
anyone installing DNS by hand. It runs as an ordinary synced pod: non-root, without capabilities (it listens on
1053, the Service maps 53 there), restricted-PSS clean, reading the virtual API server through its ServiceAccount.
Values are written in the form the API server stores them (ints, canonical quantities), so that `holds` can tell
"as declared" from "changed" without a round trip."""

from __future__ import annotations

from typing import Any

Obj = dict[str, Any]

NAME = "coredns"
ROLE_NAME = "system:coredns"
MANAGED_BY = {"app.kubernetes.io/managed-by": "vcsync"}
APP = {"k8s-app": "kube-dns"}
DNS_PORT = 1053  # unprivileged, so the container needs no NET_BIND_SERVICE
METRICS_PORT = 9153
HEALTH_PORT = 8080
READY_PORT = 8181
CONFIG_DIR = "/etc/coredns"


def corefile(cluster_domain: str) -> str:
    return f"""\
.:{DNS_PORT} {{
    errors
    health
    ready
    kubernetes {cluster_domain} in-addr.arpa ip6.arpa {{
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
    }}
    prometheus :{METRICS_PORT}
    forward . /etc/resolv.conf
    cache 30
    loop
    reload
    loadbalance
}}
"""


def coredns_objects(namespace: str, service: str, cluster_domain: str, image: str, replicas: int) -> list[Obj]:
    """Every object vcsync declares, in apply order (identity and permissions before the pods that use them, the
    Service last): the Deployment, ConfigMap and ServiceAccount live in the DNS Service's namespace."""
    return [
        _object("v1", "ServiceAccount", NAME, namespace),
        _cluster_role(),
        _cluster_role_binding(namespace),
        _object("v1", "ConfigMap", NAME, namespace, data={"Corefile": corefile(cluster_domain)}),
        _deployment(namespace, image, replicas),
        _service(namespace, service),
    ]


def holds(current: Any, desired: Any) -> bool:
    """Whether `current` still holds everything `desired` declares. Dicts are compared key by key (others may add
    keys); lists of dicts that all have a `name` by name (others may add entries, as server-side apply keeps
    them); other lists element by element with equal length; anything else by type and value."""
    if isinstance(desired, dict):
        return isinstance(current, dict) and all(k in current and holds(current[k], v) for k, v in desired.items())
    if isinstance(desired, list):
        if not isinstance(current, list):
            return False
        if desired and all(isinstance(item, dict) and "name" in item for item in desired):
            by_name = {item.get("name"): item for item in current if isinstance(item, dict)}
            return all(item["name"] in by_name and holds(by_name[item["name"]], item) for item in desired)
        return len(current) == len(desired) and all(holds(c, d) for c, d in zip(current, desired, strict=True))
    return type(current) is type(desired) and current == desired


def _object(api_version: str, kind: str, name: str, namespace: str | None = None, **fields: Any) -> Obj:
    metadata: Obj = {"name": name, "labels": dict(MANAGED_BY)}
    if namespace is not None:
        metadata["namespace"] = namespace
    return {"apiVersion": api_version, "kind": kind, "metadata": metadata, **fields}


def _cluster_role() -> Obj:
    rules = [
        {"apiGroups": [""], "resources": ["endpoints", "services", "pods", "namespaces"], "verbs": ["list", "watch"]},
        {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": ["list", "watch"]},
    ]
    return _object("rbac.authorization.k8s.io/v1", "ClusterRole", ROLE_NAME, rules=rules)


def _cluster_role_binding(namespace: str) -> Obj:
    return _object(
        "rbac.authorization.k8s.io/v1",
        "ClusterRoleBinding",
        ROLE_NAME,
        roleRef={"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": ROLE_NAME},
        subjects=[{"kind": "ServiceAccount", "name": NAME, "namespace": namespace}],
    )


def _deployment(namespace: str, image: str, replicas: int) -> Obj:
    deployment = _object("apps/v1", "Deployment", NAME, namespace)
    deployment["metadata"]["labels"].update(APP)
    deployment["spec"] = {
        "replicas": replicas,
        "selector": {"matchLabels": dict(APP)},
        "template": {"metadata": {"labels": {**APP, **MANAGED_BY}}, "spec": _pod_spec(image)},
    }
    return deployment


def _pod_spec(image: str) -> Obj:
    return {
        "serviceAccountName": NAME,
        "dnsPolicy": "Default",  # CoreDNS forwards to the node's resolver, never to itself
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": 65532,
            "runAsGroup": 65532,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [
            {
                "name": NAME,
                "image": image,
                "args": ["-conf", f"{CONFIG_DIR}/Corefile"],
                "ports": [
                    {"name": "dns", "containerPort": DNS_PORT, "protocol": "UDP"},
                    {"name": "dns-tcp", "containerPort": DNS_PORT, "protocol": "TCP"},
                    {"name": "metrics", "containerPort": METRICS_PORT, "protocol": "TCP"},
                ],
                "resources": {"requests": {"cpu": "100m", "memory": "70Mi"}, "limits": {"memory": "170Mi"}},
                "securityContext": {
                    "allowPrivilegeEscalation": False,
                    "readOnlyRootFilesystem": True,
                    "capabilities": {"drop": ["ALL"]},
                },
                "livenessProbe": {
                    "httpGet": {"path": "/health", "port": HEALTH_PORT},
                    "initialDelaySeconds": 60,
                    "timeoutSeconds": 5,
                    "failureThreshold": 5,
                },
                "readinessProbe": {"httpGet": {"path": "/ready", "port": READY_PORT}},
                "volumeMounts": [{"name": "config", "mountPath": CONFIG_DIR, "readOnly": True}],
            }
        ],
        "volumes": [
            {"name": "config", "configMap": {"name": NAME, "items": [{"key": "Corefile", "path": "Corefile"}]}}
        ],
    }


def _service(namespace: str, name: str) -> Obj:
    service = _object("v1", "Service", name, namespace)
    service["metadata"]["labels"].update(APP)
    service["spec"] = {
        "selector": dict(APP),
        "ports": [
            {"name": "dns", "port": 53, "protocol": "UDP", "targetPort": DNS_PORT},
            {"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": DNS_PORT},
            {"name": "metrics", "port": METRICS_PORT, "protocol": "TCP", "targetPort": METRICS_PORT},
        ],
    }
    return service
