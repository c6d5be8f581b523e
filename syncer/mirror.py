"""The engine side of mirror kinds: one worker per MirrorSpec keeps the virtual copies equal to the host
objects (create, patch the mirrored fields and metadata, recreate on immutable changes) and deletes virtual
objects the host does not have, so the tenant sees exactly the host's classes."""

from __future__ import annotations

import asyncio
from typing import Any

from syncer.log import get_logger
from syncer.worker import KeyedWorker
from translators.mirrors import MirrorSpec, mirrored
from vocab.diff import owned_patch, owned_view

log = get_logger("mirror")


class Mirror(KeyedWorker):
    def __init__(self, spec: MirrorSpec, engine: Any, workers: int) -> None:
        super().__init__(spec.name, engine, workers, direction="to_virtual")
        self.spec = spec
        self.host = engine.declare("host", spec.resource, selector="")
        self.virtual = engine.declare("virtual", spec.resource)
        self.owned = (*spec.fields, "metadata.labels", "metadata.annotations")

    def wire(self) -> None:
        for store in (self.host, self.virtual):
            store.add_handler(lambda old, new: self.enqueue((new or old)["metadata"]["name"]))

    def start(self) -> list[asyncio.Task[None]]:
        return self.start_workers({o["metadata"]["name"] for o in (*self.host.values(), *self.virtual.values())})

    def fields(self, key: str, action: str) -> dict[str, Any]:
        return {"kind": self.spec.name, "vname": key, "host_name": key, "action": action}

    async def reconcile(self, name: str) -> str:
        host, virtual = self.host.get(name), self.virtual.get(name)
        api, res = self.engine.virtual_api, self.spec.resource
        if host is None:
            if virtual is None:
                return "unchanged"
            return await self._delete(name, virtual, "not on the host")
        desired = mirrored(self.spec, host)
        if virtual is None:
            log.info("create mirror", **self.fields(name, "create"))
            await api.create(res, None, desired)
            return self.written()
        if owned_view(virtual, self.spec.immutable) != owned_view(desired, self.spec.immutable):
            return await self._delete(name, virtual, "immutable change")  # recreated on the next pass
        patch = owned_patch(virtual, desired, self.owned)
        if not patch:
            return "unchanged"
        log.info("update mirror", **self.fields(name, "update"))
        await api.patch(res, None, name, patch)
        return self.written()

    async def _delete(self, name: str, virtual: dict[str, Any], why: str) -> str:
        log.info("delete mirror", **self.fields(name, "delete"), reason=why)
        await self.engine.virtual_api.delete(self.spec.resource, None, name, uid=virtual["metadata"]["uid"])
        return self.written()
