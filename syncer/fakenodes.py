"""Fake nodes (SPEC §7.1): the tenant sees one virtual Node per host node its pods run on, of the exact shape in
translators/fakenodes.py, kept Ready by heartbeats (a Lease in kube-node-lease renewed every quarter of its
duration, condition heartbeats every --fake-node-status-interval) and removed with its Lease once no
non-DaemonSet pod needs it. Only nodes labelled as fake are ever changed or deleted."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

from syncer import metrics
from syncer.log import get_logger
from syncer.nodeservices import NodeServices
from syncer.worker import KeyedWorker
from translators.fakenodes import (
    KUBELET_PORT,
    NODE_INDEX,
    NODE_LEASE_NAMESPACE,
    fake_node,
    fake_node_status,
    go_arch,
    heartbeat_conditions,
    is_fake_node,
    kubelet_status_patch,
    new_ids,
    node_lease,
    node_needed,
    node_of,
)
from translators.kind import Obj
from vocab.resources import LEASES, NODES, PODS

log = get_logger("fakenodes")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _age(timestamp: str | None, now: dt.datetime) -> float:
    if not timestamp:
        return float("inf")
    parsed = dt.datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    return (now - parsed).total_seconds()


class FakeNodes(KeyedWorker):
    def __init__(self, engine: Any, workers: int) -> None:
        super().__init__("fake-nodes", engine, workers, direction="to_virtual")
        self.vnodes = engine.declare("virtual", NODES)
        self.vpods = engine.declare("virtual", PODS)
        self.hpods = engine.declare("host", PODS)
        self.leases = engine.declare("virtual", LEASES, namespace=NODE_LEASE_NAMESPACE)
        self.vpods.add_index(NODE_INDEX, node_of)
        self.hpods.add_index(NODE_INDEX, node_of)
        self.lease_duration = engine.config.fake_node_lease_duration
        self.status_interval = engine.config.fake_node_status_interval
        self.arch = go_arch()
        self.kubelet = engine.config.kubelet_endpoint
        wanted = self.kubelet is not None and engine.config.kubelet_node_services
        self.services = NodeServices(engine, self.kubelet[1]) if self.kubelet and wanted else None

    def wire(self) -> None:
        for store in (self.vpods, self.hpods):
            store.add_handler(lambda old, new: [self.enqueue(n) for o in (old, new) if o for n in node_of(o)])
        self.vnodes.add_handler(lambda old, new: self.enqueue((new or old)["metadata"]["name"]))
        if self.services is not None:
            self.services.wire(self.enqueue)

    def start(self) -> list[asyncio.Task[None]]:
        initial = {n["metadata"]["name"] for n in self.vnodes.values() if is_fake_node(n)}
        for store in (self.vpods, self.hpods):
            initial |= {n for pod in store.values() for n in node_of(pod)}
        if self.services is not None:
            initial |= self.services.nodes()  # orphaned node Services go too
        return self.start_workers(initial)

    def fields(self, key: str, action: str) -> dict[str, Any]:
        return {"kind": "nodes", "vname": key, "host_name": key, "action": action}

    async def reconcile(self, node: str) -> str:
        vnode = self.vnodes.get(node)
        needed = node_needed(self.vpods.iter_by_index(NODE_INDEX, node), self.hpods.iter_by_index(NODE_INDEX, node))
        if not needed:
            removed = self.services is not None and await self.services.remove(node)
            result = await self._remove(vnode)
            return self.written() if removed else result
        if vnode is not None and not is_fake_node(vnode):
            return "unchanged"  # a real node mirrored by the nodes kind: not ours to keep alive
        created, service_ip = await self.services.ensure(node) if self.services is not None else (False, None)
        if vnode is None:
            return await self._create(node, service_ip)
        corrected = await self._point_at_kubelet(vnode, service_ip)
        beat = await self._heartbeat(vnode)
        return self.written() if corrected or created else beat

    async def _create(self, node: str, service_ip: str | None) -> str:
        api = self.engine.virtual_api
        now = _now().strftime("%Y-%m-%dT%H:%M:%SZ")
        ip, port = self._kubelet_at(node, service_ip)
        ids = new_ids()
        self._log("create", node)
        created = await api.create(NODES, None, fake_node(node, ip, now, self.arch, ids, port))
        created_at = created["metadata"].get("creationTimestamp", now)
        status = fake_node_status(node, ip, now, self.arch, ids, created=created_at, port=port)
        await api.patch(NODES, None, node, {"status": status}, subresource="status")
        await api.patch(NODES, None, node, {"spec": {"taints": []}})
        metrics.FAKE_NODES.set(sum(1 for n in self.vnodes.values() if is_fake_node(n)) + 1)
        self.queue.add_after(node, 1.0)  # the Lease follows once the node (its owner) is in the cache
        return self.written()

    def _host_ip(self, node: str) -> str | None:
        """Without vcsync's kubelet endpoint a fake node shows its host node's IP, as vcluster's do."""
        pods = self.hpods.iter_by_index(NODE_INDEX, node)
        return next((p["status"]["hostIP"] for p in pods if (p.get("status") or {}).get("hostIP")), None)

    def _kubelet_at(self, node: str, service_ip: str | None) -> tuple[str | None, int]:
        """Where fake node N's kubelet is: vcsync's endpoint, at the node's Service IP (--kubelet-node-services), else
        the host node's IP through the egress socket, else the fixed --kubelet-address; a real kubelet port at the host
        node's IP when vcsync's endpoint is off."""
        if self.kubelet is None:
            return self._host_ip(node), KUBELET_PORT
        address, port = self.kubelet
        return service_ip or address or self._host_ip(node) or self.engine.config.kubelet_address, port

    async def _point_at_kubelet(self, vnode: Obj, service_ip: str | None) -> bool:
        """Correct a node that does not (yet) advertise this vcsync's kubelet endpoint; False when it already does."""
        address, port = self._kubelet_at(vnode["metadata"]["name"], service_ip)
        patch = kubelet_status_patch(vnode, address, port) if self.kubelet and address else None
        if patch is None:
            return False
        self._log("update", vnode["metadata"]["name"])
        await self.engine.virtual_api.patch(
            NODES, None, vnode["metadata"]["name"], {"status": patch}, subresource="status"
        )
        return True

    async def _heartbeat(self, vnode: Obj) -> str:
        name = vnode["metadata"]["name"]
        api, now = self.engine.virtual_api, _now()
        stamp = now.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        wrote = False
        lease = self.leases.get(f"{NODE_LEASE_NAMESPACE}/{name}")
        renew_every = self.lease_duration / 4
        if lease is None:
            body = node_lease(name, vnode["metadata"]["uid"], int(self.lease_duration), stamp)
            await api.create(LEASES, NODE_LEASE_NAMESPACE, body)
            wrote = True
        elif _age(lease["spec"].get("renewTime"), now) >= renew_every:
            await api.patch(LEASES, NODE_LEASE_NAMESPACE, name, {"spec": {"renewTime": stamp}})
            wrote = True
        conditions = (vnode.get("status") or {}).get("conditions") or []
        last_beat = min((c.get("lastHeartbeatTime") or "" for c in conditions), default="")
        if _age(last_beat or None, now) >= self.status_interval:
            status = {"conditions": heartbeat_conditions(vnode, now.strftime("%Y-%m-%dT%H:%M:%SZ"))}
            await api.patch(NODES, None, name, {"status": status}, subresource="status")
            wrote = True
        self.queue.add_after(name, min(renew_every, self.status_interval))
        if wrote:
            log.debug("fake node heartbeat", **self.fields(name, "status"))
        return "unchanged"  # heartbeats are the allowed periodic writes (SPEC §9.5), not sync changes

    async def _remove(self, vnode: Obj | None) -> str:
        if vnode is None or not is_fake_node(vnode):
            return "unchanged"
        name = vnode["metadata"]["name"]
        self._log("delete", name)
        await self.engine.virtual_api.delete(NODES, None, name, uid=vnode["metadata"]["uid"])
        await self.engine.virtual_api.delete(LEASES, NODE_LEASE_NAMESPACE, name)
        metrics.FAKE_NODES.set(max(sum(1 for n in self.vnodes.values() if is_fake_node(n)) - 1, 0))
        return self.written()

    def _log(self, action: str, node: str) -> None:
        log.info(
            f"{action} fake node",
            **self.fields(node, action),
            result="dry_run" if self.engine.virtual_api.dry_run else "ok",
        )
