"""Container environment and downward API of host pods (SPEC §6.1.3). Host pods run with service links off, in the host
namespace, under host names; so the variables a tenant expects are computed from virtual objects and prepended (where
`$(VAR)` in the container's own env can see them), and downward API paths are pointed at the virtual identity."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from translators.jsoncopy import clone
from translators.labels import translate_label_key

Obj = dict[str, Any]
Rename = Callable[[str], str]

# The pod identity annotations of SPEC §6.1.2; downward API paths to the pod's own identity read these instead.
POD_NAME = "vcluster.loft.sh/name"
POD_NAMESPACE = "vcluster.loft.sh/namespace"
POD_UID = "vcluster.loft.sh/uid"
POD_SERVICE_ACCOUNT = "vcluster.loft.sh/service-account-name"
POD_LABELS = "vcluster.loft.sh/labels"

_IDENTITY_PATHS = {
    "metadata.name": POD_NAME,
    "metadata.namespace": POD_NAMESPACE,
    "metadata.uid": POD_UID,
    "spec.serviceAccountName": POD_SERVICE_ACCOUNT,
    "metadata.labels": POD_LABELS,
}
_LABEL_PATH = re.compile(r"metadata\.labels\['(?P<key>.*)'\]")
_API_SERVER_PORT = 443


def kubernetes_env(vcluster_ip: str) -> dict[str, str]:
    """The KUBERNETES_* variables pointing at the virtual API server behind the vcluster host Service."""
    url = f"tcp://{_host_port(vcluster_ip, _API_SERVER_PORT)}"
    port = str(_API_SERVER_PORT)
    return {
        "KUBERNETES_SERVICE_HOST": vcluster_ip,
        "KUBERNETES_SERVICE_PORT": port,
        "KUBERNETES_SERVICE_PORT_HTTPS": port,
        "KUBERNETES_PORT": url,
        f"KUBERNETES_PORT_{port}_TCP": url,
        f"KUBERNETES_PORT_{port}_TCP_PROTO": "tcp",
        f"KUBERNETES_PORT_{port}_TCP_PORT": port,
        f"KUBERNETES_PORT_{port}_TCP_ADDR": vcluster_ip,
    }


def service_link_env(services: Iterable[Obj]) -> dict[str, str]:
    """Kubelet-format service-link variables of every Service with a ClusterIP (headless, ExternalName have none)."""
    env: dict[str, str] = {}
    for service in services:
        spec = service.get("spec") or {}
        cluster_ip, ports = spec.get("clusterIP"), spec.get("ports") or []
        if cluster_ip and cluster_ip != "None" and ports:
            env |= _service_variables(service["metadata"]["name"], cluster_ip, ports)
    return env


def injected_env(vcluster_ip: str, services: Iterable[Obj]) -> list[Obj]:
    """The env entries to prepend: service links sorted by name, then the KUBERNETES_* block sorted by name. The
    KUBERNETES_* values win over the links of a virtual `kubernetes` Service."""
    kubernetes = kubernetes_env(vcluster_ip)
    links = {name: value for name, value in service_link_env(services).items() if name not in kubernetes}
    return [{"name": name, "value": block[name]} for block in (links, kubernetes) for name in sorted(block)]


def host_container(container: Obj, injected: list[Obj], rename: Rename, suffix: str) -> Obj:
    """A copy of `container` whose env and envFrom references are renamed with `rename`, whose field paths are
    rewritten, and whose env starts with the `injected` entries the container does not define itself."""
    host = clone(container)
    env = [_host_env_var(var, rename, suffix) for var in container.get("env") or ()]
    defined = {var.get("name") for var in env}
    host["env"] = [clone(var) for var in injected if var["name"] not in defined] + env
    if "envFrom" in container:
        host["envFrom"] = [_host_env_from(source, rename) for source in container["envFrom"] or ()]
    return host


def translate_field_path(path: str, suffix: str) -> str:
    """A downward API field path on the host pod that yields the virtual value."""
    if path in _IDENTITY_PATHS:
        return f"metadata.annotations['{_IDENTITY_PATHS[path]}']"
    label = _LABEL_PATH.fullmatch(path)
    if label:
        return f"metadata.labels['{translate_label_key(label['key'], suffix)}']"
    return path


def translate_downward_items(items: list[Obj], suffix: str) -> list[Obj]:
    """downwardAPI volume (or projection) items with their fieldRef paths rewritten."""
    return [_with_field_path(item, suffix) for item in items]


def _service_variables(name: str, cluster_ip: str, ports: list[Obj]) -> dict[str, str]:
    prefix = _env_name(name)
    first = ports[0]
    env = {
        f"{prefix}_SERVICE_HOST": cluster_ip,
        f"{prefix}_SERVICE_PORT": str(first["port"]),
        f"{prefix}_PORT": _link_url(cluster_ip, first),
    }
    for port in ports:
        if port.get("name"):
            env[f"{prefix}_SERVICE_PORT_{_env_name(port['name'])}"] = str(port["port"])
        protocol = _protocol(port)
        link = f"{prefix}_PORT_{port['port']}_{protocol.upper()}"
        env |= {
            link: _link_url(cluster_ip, port),
            f"{link}_PROTO": protocol,
            f"{link}_PORT": str(port["port"]),
            f"{link}_ADDR": cluster_ip,
        }
    return env


def _env_name(name: str) -> str:
    return name.upper().replace("-", "_")


def _protocol(port: Obj) -> str:
    return (port.get("protocol") or "TCP").lower()


def _link_url(cluster_ip: str, port: Obj) -> str:
    return f"{_protocol(port)}://{_host_port(cluster_ip, port['port'])}"


def _host_port(ip: str, port: int) -> str:
    """Go's net.JoinHostPort: IPv6 addresses are bracketed."""
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def _host_env_var(var: Obj, rename: Rename, suffix: str) -> Obj:
    host = clone(var)
    source = host.get("valueFrom") or {}
    for ref in ("configMapKeyRef", "secretKeyRef"):
        _rename_ref(source.get(ref), rename)
    _rewrite_field_ref(source, suffix)
    return host


def _host_env_from(source: Obj, rename: Rename) -> Obj:
    host = clone(source)
    for ref in ("configMapRef", "secretRef"):
        _rename_ref(host.get(ref), rename)
    return host


def _rename_ref(ref: Obj | None, rename: Rename) -> None:
    if ref and ref.get("name"):
        ref["name"] = rename(ref["name"])


def _with_field_path(item: Obj, suffix: str) -> Obj:
    host = clone(item)
    _rewrite_field_ref(host, suffix)
    return host


def _rewrite_field_ref(holder: Obj, suffix: str) -> None:
    field_ref = holder.get("fieldRef")
    if field_ref and field_ref.get("fieldPath"):
        field_ref["fieldPath"] = translate_field_path(field_ref["fieldPath"], suffix)
