"""Which host pod a kubelet request may reach: only the host copy, managed by *this* vcluster, of an existing virtual
pod (of the same incarnation when the request names a uid). Everything else is a 404 with a message in the tenant's
own names; host error messages are scrubbed of host names before a tenant sees them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from syncer.cache import Store
from syncer.kubelet.paths import PodRequest
from translators.markers import OBJECT_UID, is_managed
from translators.names import NameTranslator


class Refused(Exception):
    """A request answered with `status` and a one-line `message` instead of being forwarded."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


@dataclass(frozen=True)
class PodTarget:
    request: PodRequest
    node: str
    host_namespace: str
    host_name: str

    def scrub(self, text: str) -> str:
        """`text` with the host pod's name and namespace replaced by the virtual ones."""
        text = text.replace(self.host_name, self.request.pod)
        return re.sub(rf"(?<![-a-z0-9.]){re.escape(self.host_namespace)}(?![-a-z0-9.])", self.request.namespace, text)


def virtual_pod(vpods: Store, request: PodRequest) -> dict[str, Any]:
    pod = vpods.get(f"{request.namespace}/{request.pod}")
    if pod is None or (request.uid and pod["metadata"].get("uid") != request.uid):
        raise Refused(404, f'pod "{request.pod}" not found in namespace "{request.namespace}"')
    return pod


def pod_target(vpod: dict[str, Any], request: PodRequest, hpods: Store, names: NameTranslator) -> PodTarget:
    """The host pod `request` reaches, after checking the container and that the host copy is ours."""
    spec = vpod.get("spec") or {}
    if request.container:
        containers = (
            c["name"] for key in ("containers", "initContainers", "ephemeralContainers") for c in spec.get(key) or ()
        )
        if request.container not in set(containers):
            raise Refused(404, f'container "{request.container}" not found in pod "{request.pod}"')
    host_namespace, host_name = names.to_host(request.namespace, request.pod)
    assert host_namespace is not None
    host = hpods.get(f"{host_namespace}/{host_name}")
    ours = host is not None and is_managed(host, names=names, api_version="v1", kind="Pod")
    if not ours or _annotation(host, OBJECT_UID) not in ("", vpod["metadata"].get("uid")):
        raise Refused(404, f'pod "{request.pod}" in namespace "{request.namespace}" has no host pod of this cluster')
    return PodTarget(request, spec.get("nodeName", ""), host_namespace, host_name)


def _annotation(obj: dict[str, Any] | None, key: str) -> str:
    return (((obj or {}).get("metadata") or {}).get("annotations") or {}).get(key, "")
