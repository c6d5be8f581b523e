"""The virtual `default/kubernetes` Service and Endpoints (SPEC §6.2): in-cluster clients of the tenant reach the
virtual API server through the vcluster's host Service, so the virtual Service takes that Service's ClusterIP
(delete and recreate when it differs) and ports minus `kubelet`, and its Endpoints mirror the host Service's
`https` endpoints. Ports are compared by name, port and protocol only: the virtual API server owns targetPort."""

from __future__ import annotations

import asyncio
from typing import Any

from syncer.kube.api import ApiError
from syncer.log import get_logger
from syncer.worker import KeyedWorker
from translators.kind import Obj
from translators.services import kubernetes_endpoints, kubernetes_endpointslice, kubernetes_service
from vocab.diff import owned_patch
from vocab.resources import ENDPOINTS, ENDPOINTSLICES, SERVICES, Resource

log = get_logger("kubernetes-service")
KEY = "default/kubernetes"


def _port_keys(service: Obj | None) -> list[tuple[Any, ...]]:
    ports = ((service or {}).get("spec") or {}).get("ports") or []
    return sorted((p.get("name", ""), p.get("port"), p.get("protocol", "TCP")) for p in ports)


class KubernetesService(KeyedWorker):
    def __init__(self, engine: Any, workers: int) -> None:
        super().__init__("kubernetes-service", engine, 1, direction="to_virtual")
        self.host_service = engine.declare_own(SERVICES)
        self.host_endpoints = engine.declare_own(ENDPOINTS)
        self.services = engine.declare("virtual", SERVICES)
        self.endpoints = engine.declare("virtual", ENDPOINTS)
        with_slices = "endpointslices" in engine.config.sync
        self.slices = engine.declare("virtual", ENDPOINTSLICES) if with_slices else None

    def wire(self) -> None:
        for store in (self.host_service, self.host_endpoints):
            store.add_handler(lambda old, new: self.enqueue(KEY))
        for store in (self.services, self.endpoints, *([self.slices] if self.slices else [])):
            store.add_handler(
                lambda old, new: (
                    self.enqueue(KEY)
                    if (new or old)["metadata"].get("namespace") == "default"
                    and (new or old)["metadata"]["name"] == "kubernetes"
                    else None
                )
            )

    def start(self) -> list[asyncio.Task[None]]:
        return self.start_workers([KEY])

    def fields(self, key: str, action: str) -> dict[str, Any]:
        return {"kind": "services", "vns": "default", "vname": "kubernetes", "action": action}

    async def reconcile(self, key: str) -> str:
        host = self.engine.vcluster_service()
        if host is None:
            return "unchanged"
        wrote = await self._service(host)
        wrote = await self._endpoints() or wrote
        return self.written() if wrote else "unchanged"

    async def _service(self, host: Obj) -> bool:
        api = self.engine.virtual_api
        current = self.services.get(KEY)
        desired = kubernetes_service(current, host)
        if current is not None and current["spec"].get("clusterIP") == desired["spec"].get("clusterIP"):
            if _port_keys(current) == _port_keys(desired):
                return False
            log.info("update default/kubernetes ports", **self.fields(KEY, "update"))
            patch = {
                "spec": {"ports": desired["spec"]["ports"]},
                "metadata": {"resourceVersion": current["metadata"]["resourceVersion"]},
            }
            await api.patch(SERVICES, "default", "kubernetes", patch)
            return True
        log.info(
            "recreate default/kubernetes with the vcluster Service IP",
            **self.fields(KEY, "create"),
            cluster_ip=desired["spec"].get("clusterIP"),
        )
        if current is not None:
            await api.delete(SERVICES, "default", "kubernetes", uid=current["metadata"]["uid"])
        try:
            await api.create(SERVICES, "default", desired)
        except ApiError as e:
            if not e.already_exists:
                raise
            self.queue.add_after(KEY, 1.0)  # the API server re-created its own in between: look again
        return True

    async def _endpoints(self) -> bool:
        """The Endpoints (and, with `endpointslices`, the EndpointSlice) `kubernetes` from the host's endpoints."""
        host = self.host_endpoints.get(f"{self.engine.config.own_namespace}/{self.engine.config.service_name}")
        if host is None:
            return False
        wrote = await self._mirror(self.endpoints, ENDPOINTS, kubernetes_endpoints(host), ("subsets",))
        if self.slices is not None:
            owned = ("addressType", "endpoints", "ports")
            wrote = await self._mirror(self.slices, ENDPOINTSLICES, kubernetes_endpointslice(host), owned) or wrote
        return wrote

    async def _mirror(self, store: Any, res: Resource, desired: Obj, owned: tuple[str, ...]) -> bool:
        api, current = self.engine.virtual_api, store.get(KEY)
        if current is None:
            await api.create(res, "default", desired)
            return True
        patch = owned_patch(current, desired, (*owned, "metadata.labels"))
        if not patch:
            return False
        await api.patch(res, "default", "kubernetes", patch)
        return True
