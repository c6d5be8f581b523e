"""Keeps the virtual cluster's CoreDNS (--coredns) as declared: each of its objects is watched by name, and one that
is missing or no longer holds what vcsync declared is server-side applied as field manager `vcsync`. Fields others
set (a tenant's labels, the Service's host ClusterIP) stay theirs, and nothing is written while all is as declared."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from syncer.kube.api import ApiError
from syncer.log import get_logger
from syncer.worker import KeyedWorker
from translators.coredns import coredns_objects, holds
from translators.kind import Obj
from vocab.flagvalues import parse_dns_service
from vocab.resources import (
    CLUSTERROLEBINDINGS,
    CLUSTERROLES,
    CONFIGMAPS,
    DEPLOYMENTS,
    SERVICEACCOUNTS,
    SERVICES,
)

log = get_logger("coredns")
KEY = "coredns"
FIELD_MANAGER = "vcsync"
RESOURCES = {r.kind: r for r in (SERVICEACCOUNTS, CLUSTERROLES, CLUSTERROLEBINDINGS, CONFIGMAPS, DEPLOYMENTS, SERVICES)}
# The Services controller deletes and re-creates the DNS Service to give it the host ClusterIP (SPEC §6.2): an object
# deleted this recently is left to whoever deleted it, so that an apply in between cannot re-create it with another IP.
DELETION_GRACE = 2.0


class CoreDns(KeyedWorker):
    def __init__(self, engine: Any, workers: int) -> None:
        super().__init__("coredns", engine, 1, direction="to_virtual")
        config = engine.config
        namespace, service = parse_dns_service(config.dns_service)
        self.desired = coredns_objects(
            namespace, service, config.cluster_domain, config.coredns_image, config.coredns_replicas
        )
        self.stores = [
            engine.declare_named(
                "virtual", RESOURCES[obj["kind"]], obj["metadata"].get("namespace"), obj["metadata"]["name"]
            )
            for obj in self.desired
        ]
        # What an apply answered, standing for the object until its store reports the next change of it (usually
        # the echo of that apply), so that a reconcile in between does not apply it again.
        self._applied: dict[int, Obj] = {}
        self._deleted_at: dict[int, float] = {}

    def wire(self) -> None:
        for index, store in enumerate(self.stores):
            store.add_handler(lambda old, new, index=index: self._changed(index, new))

    def _changed(self, index: int, new: Obj | None) -> None:
        self._applied.pop(index, None)
        if new is None:
            self._deleted_at[index] = time.monotonic()
        self.enqueue(KEY)

    def _current(self, index: int) -> Obj | None:
        meta = self.desired[index]["metadata"]
        key = f"{meta['namespace']}/{meta['name']}" if "namespace" in meta else meta["name"]
        return self._applied.get(index) or self.stores[index].get(key)

    def _grace_left(self, index: int) -> float:
        """Seconds until a deletion of object `index` is ours to repair (none left when it was not deleted lately)."""
        deleted = self._deleted_at.get(index)
        return 0.0 if deleted is None else deleted + DELETION_GRACE - time.monotonic()

    def start(self) -> list[asyncio.Task[None]]:
        return self.start_workers([KEY])

    def fields(self, key: str, action: str) -> dict[str, Any]:
        return {"kind": "coredns", "action": action}

    async def reconcile(self, key: str) -> str:
        """Applies each object that needs it; one the API server refuses does not hold back the others, and the
        first refusal is raised at the end for the worker's backoff."""
        wrote = False
        refused: list[ApiError] = []
        for index, desired in enumerate(self.desired):
            current = self._current(index)
            if current is not None and holds(current, desired):
                continue
            if current is None and (grace := self._grace_left(index)) > 0:
                self.queue.add_after(key, grace)
                continue
            meta, res = desired["metadata"], RESOURCES[desired["kind"]]
            namespace = meta.get("namespace")
            log.info(
                "apply coredns object",
                kind=res.plural,
                vns=namespace or "",
                vname=meta["name"],
                action="create" if current is None else "update",
            )
            try:
                self._applied[index] = await self.engine.virtual_api.apply(
                    res, namespace, desired, field_manager=FIELD_MANAGER
                )
            except ApiError as e:
                refused.append(e)
                continue
            wrote = True
        if refused:
            raise refused[0]
        return self.written() if wrote else "unchanged"
