"""Fake nodes' host Services (--kubelet-node-services): one per fake node in the own namespace, port `kubelet` to
vcsync's kubelet endpoint, its ClusterIP the node's InternalIP — so a tenant's pods (a metrics-server, Prometheus)
reach each node's kubelet at a distinct address, and the endpoint tells nodes apart by it. Removed with the node;
only Services labelled as this vcluster's node Services are ever written."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from syncer.log import get_logger
from translators.fakenodes import BELONGS_TO, NODE_LABEL, node_service, node_service_name
from vocab.resources import SERVICES

log = get_logger("fakenodes")


class NodeServices:
    def __init__(self, engine: Any, target_port: int) -> None:
        self.engine = engine
        self.namespace = engine.config.own_namespace
        self.suffix = engine.config.name
        self.target_port = target_port
        self.store = engine.declare_own(SERVICES, f"{BELONGS_TO}={self.suffix}")

    def wire(self, enqueue: Callable[[str], None]) -> None:
        self.store.add_handler(lambda old, new: [enqueue(n) for o in (old, new) if o for n in self._node_of(o)])

    def nodes(self) -> set[str]:
        return {n for service in self.store.values() for n in self._node_of(service)}

    def _node_of(self, service: dict[str, Any]) -> list[str]:
        node = ((service.get("metadata") or {}).get("labels") or {}).get(NODE_LABEL)
        return [node] if node else []

    def _get(self, node: str) -> dict[str, Any] | None:
        service = self.store.get(f"{self.namespace}/{node_service_name(self.suffix, node)}")
        return service if service is not None and self._node_of(service) == [node] else None

    async def ensure(self, node: str) -> tuple[bool, str | None]:
        """(whether it was created now, its ClusterIP)."""
        service = self._get(node)
        if service is not None:
            return False, (service.get("spec") or {}).get("clusterIP")
        selector = ((self.engine.vcluster_service() or {}).get("spec") or {}).get("selector")
        body = node_service(self.suffix, node, selector, self.target_port)
        log.info("create node service", kind="nodes", vname=node, host_name=body["metadata"]["name"], action="create")
        created = await self.engine.host_api.create(SERVICES, self.namespace, body)
        return True, (created.get("spec") or {}).get("clusterIP")

    async def remove(self, node: str) -> bool:
        service = self._get(node)
        if service is None:
            return False
        name = service["metadata"]["name"]
        log.info("delete node service", kind="nodes", vname=node, host_name=name, action="delete")
        await self.engine.host_api.delete(SERVICES, self.namespace, name, uid=service["metadata"]["uid"])
        return True
