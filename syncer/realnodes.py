"""Real node sync (SPEC §7.2, `--sync=+nodes`): virtual Nodes mirror the selected host nodes — every node with
--sync-all-nodes, those matching --node-selector, or just those our pods run on — with labels, annotations,
taints and status merged by translators/nodes.py. A virtual node that is no longer selected is removed only if
this syncer made it."""

from __future__ import annotations

import asyncio
from typing import Any

from syncer.log import get_logger
from syncer.worker import KeyedWorker
from translators.fakenodes import NODE_INDEX, node_needed, node_of
from translators.kind import Obj
from translators.nodes import removable, selected, virtual_node
from vocab.diff import owned_patch
from vocab.flagvalues import parse_node_selector, parse_toleration
from vocab.resources import NODES, PODS

log = get_logger("realnodes")
METADATA = ("metadata.labels", "metadata.annotations", "spec.taints")


class RealNodes(KeyedWorker):
    def __init__(self, engine: Any, workers: int) -> None:
        super().__init__("nodes", engine, workers, direction="to_virtual")
        config = engine.config
        self.hnodes = engine.declare("host", NODES, selector="")
        self.vnodes = engine.declare("virtual", NODES)
        self.vpods = engine.declare("virtual", PODS)
        self.hpods = engine.declare("host", PODS)
        self.vpods.add_index(NODE_INDEX, node_of)
        self.hpods.add_index(NODE_INDEX, node_of)
        self.selector = parse_node_selector(config.node_selector) if config.node_selector else {}
        self.tolerations = [parse_toleration(t) for t in config.enforce_toleration]
        self.kubelet = config.kubelet_endpoint

    def wire(self) -> None:
        for store in (self.hnodes, self.vnodes):
            store.add_handler(lambda old, new: self.enqueue((new or old)["metadata"]["name"]))
        for store in (self.vpods, self.hpods):
            store.add_handler(lambda old, new: [self.enqueue(n) for o in (old, new) if o for n in node_of(o)])

    def start(self) -> list[asyncio.Task[None]]:
        initial = {n["metadata"]["name"] for n in self.hnodes.values()}
        initial |= {n["metadata"]["name"] for n in self.vnodes.values() if removable(n)}
        return self.start_workers(initial)

    def fields(self, key: str, action: str) -> dict[str, Any]:
        return {"kind": "nodes", "vname": key, "host_name": key, "action": action}

    async def reconcile(self, name: str) -> str:
        host, vnode = self.hnodes.get(name), self.vnodes.get(name)
        config = self.engine.config
        needed = node_needed(self.vpods.iter_by_index(NODE_INDEX, name), self.hpods.iter_by_index(NODE_INDEX, name))
        wanted = host is not None and selected(
            host,
            sync_all=config.sync_all_nodes,
            selector=self.selector,
            needed=needed,
            enforce_node_selector=config.enforce_node_selector,
        )
        api = self.engine.virtual_api
        if not wanted:
            if vnode is None or not removable(vnode):
                return "unchanged"
            self._log("delete", name)
            await api.delete(NODES, None, name, uid=vnode["metadata"]["uid"])
            return self.written()
        desired = virtual_node(
            host,
            vnode,
            clear_images=config.node_clear_image_status,
            enforced_tolerations=self.tolerations,
            kubelet=self.kubelet,
        )
        if vnode is None:
            self._log("create", name)
            await api.create(NODES, None, {key: value for key, value in desired.items() if key != "status"})
            await api.patch(NODES, None, name, {"status": desired["status"]}, subresource="status")
            return self.written()
        return await self._update(name, vnode, desired)

    async def _update(self, name: str, vnode: Obj, desired: Obj) -> str:
        api, wrote = self.engine.virtual_api, False
        patch = owned_patch(vnode, desired, METADATA)
        if patch:
            self._log("update", name)
            await api.patch(NODES, None, name, patch)
            wrote = True
        status = owned_patch(vnode, desired, ("status",))
        if status:
            await api.patch(NODES, None, name, status, subresource="status")
            wrote = True
        return self.written() if wrote else "unchanged"

    def _log(self, action: str, name: str) -> None:
        log.info(
            f"{action} virtual node",
            **self.fields(name, action),
            result="dry_run" if self.engine.virtual_api.dry_run else "ok",
        )
