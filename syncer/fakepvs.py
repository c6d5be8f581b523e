"""Fake PersistentVolumes (SPEC §6.5): when a virtual PVC is bound (its volumeName came up from the host), the
tenant sees a PV of that name in the virtual cluster, of the exact shape in translators/fakepvs.py. It is
deleted, finalizers stripped, once no virtual PVC references it. Only PVs labelled as fake are ever touched."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

from syncer.log import get_logger
from syncer.worker import KeyedWorker
from translators.fakepvs import fake_pv, is_fake_pv, pv_needed
from translators.kind import Obj
from vocab.resources import PERSISTENTVOLUMECLAIMS, PERSISTENTVOLUMES

log = get_logger("fakepvs")


def _volume_of(pvc: Obj) -> list[str]:
    name = (pvc.get("spec") or {}).get("volumeName")
    return [name] if name else []


class FakePersistentVolumes(KeyedWorker):
    def __init__(self, engine: Any, workers: int) -> None:
        super().__init__("fake-persistentvolumes", engine, workers, direction="to_virtual")
        self.pvcs = engine.declare("virtual", PERSISTENTVOLUMECLAIMS)
        self.pvs = engine.declare("virtual", PERSISTENTVOLUMES)
        self.pvcs.add_index("volume", _volume_of)

    def wire(self) -> None:
        self.pvcs.add_handler(lambda old, new: [self.enqueue(v) for o in (old, new) if o for v in _volume_of(o)])
        self.pvs.add_handler(lambda old, new: self.enqueue((new or old)["metadata"]["name"]))

    def start(self) -> list[asyncio.Task[None]]:
        initial = {pv["metadata"]["name"] for pv in self.pvs.values() if is_fake_pv(pv)}
        initial |= {v for pvc in self.pvcs.values() for v in _volume_of(pvc)}
        return self.start_workers(initial)

    def fields(self, key: str, action: str) -> dict[str, Any]:
        return {"kind": "persistentvolumes", "vname": key, "host_name": key, "action": action}

    async def reconcile(self, name: str) -> str:
        claims = self.pvcs.by_index("volume", name)
        pv = self.pvs.get(name)
        api = self.engine.virtual_api
        if pv_needed(name, claims):
            if pv is not None:
                return "unchanged"
            now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            body = fake_pv(claims[0], name, now)
            log.info("create fake persistent volume", **self.fields(name, "create"))
            await api.create(PERSISTENTVOLUMES, None, {k: v for k, v in body.items() if k != "status"})
            await api.patch(PERSISTENTVOLUMES, None, name, {"status": body["status"]}, subresource="status")
            return self.written()
        if pv is None or not is_fake_pv(pv):
            return "unchanged"
        log.info("delete fake persistent volume", **self.fields(name, "delete"))
        if pv["metadata"].get("finalizers"):
            await api.patch(PERSISTENTVOLUMES, None, name, {"metadata": {"finalizers": None}})
        await api.delete(PERSISTENTVOLUMES, None, name, uid=pv["metadata"]["uid"])
        return self.written()
