"""The generic to-host controller: one per enabled kind, keyed `<virtual ns>/<name>`. It reads both caches, asks
the kind's KindSpec for the desired host object, and writes only the owned fields that differ (zero writes when in
sync, also after a restart). It never touches a host object that is not marked as ours, deletes our orphans, and
turns every failure into a requeue policy, a metric and, where the tenant should know, a Warning event."""

from __future__ import annotations

import asyncio
import time
import traceback
from typing import Any

from syncer import metrics
from syncer.cache import Store, key_of
from syncer.diff import changed_paths, owned_patch
from syncer.events import SYNC_ERROR, SYNC_WARNING, scrub
from syncer.kube.api import ApiError, NotLeader
from syncer.log import get_logger
from syncer.workqueue import FlapGuard, QueueShutDown, WorkQueue
from translators.kind import KindSpec, Obj
from translators.markers import OBJECT_UID, SKIP_BACKSYNC, is_managed
from translators.metadata import desired_host_metadata

log = get_logger("controller")
METADATA_OWNED = ("metadata.labels", "metadata.annotations")
OWNER_OWNED = ("metadata.ownerReferences",)


class SyncFailure(Exception):
    """A failure the tenant is told about: `reason` is the metric label, `message` goes into the event."""

    def __init__(self, reason: str | None, message: str, event: str = SYNC_ERROR) -> None:
        super().__init__(message)
        self.reason, self.message, self.event = reason, message, event


UNMANAGED = "conflict: host object with the desired name exists and is not managed by this virtual cluster"


class Controller:
    def __init__(self, spec: KindSpec, engine: Any, workers: int) -> None:
        self.spec = spec
        self.engine = engine
        self.ctx = engine.context
        self.names = engine.context.names
        self.workers = workers
        self.queue = WorkQueue(spec.name, metrics.QueueMetrics())
        self.flap = FlapGuard()
        self.vstore: Store = engine.store("virtual", spec.resource)
        self.hstore: Store = engine.store("host", spec.resource)
        self._observed: dict[str, float] = {}
        self._initial: set[str] = set()
        self.initial_done = asyncio.Event()

    # ---- wiring --------------------------------------------------------------------------------------------
    def wire(self) -> None:
        self.vstore.add_handler(lambda old, new: self._enqueue(key_of(new or old)))
        self.hstore.add_handler(lambda old, new: self._enqueue_host(new or old))
        for trigger in self.spec.triggers:
            store = self.engine.store(trigger.side, trigger.resource)
            store.add_handler(lambda old, new, keys=trigger.keys: self._enqueue_related(keys, old, new))

    def _enqueue(self, key: str) -> None:
        self._observed.setdefault(key, time.monotonic())
        self.queue.add(key)

    def _enqueue_host(self, host: Obj) -> None:
        target = self.names.to_virtual(host)
        if target and target[0]:
            self._enqueue(f"{target[0]}/{target[1]}")

    def _enqueue_related(self, keys: Any, old: Obj | None, new: Obj | None) -> None:
        for obj in (old, new):
            if obj is not None:
                for key in keys(obj):
                    self._enqueue(key)

    def start(self) -> list[asyncio.Task[None]]:
        """Queue every virtual key and every managed host object's key (orphans go through the normal path)."""
        self._initial = set(self.vstore.keys())
        for host in self.hstore.values():
            target = self.names.to_virtual(host)
            if target and target[0]:
                self._initial.add(f"{target[0]}/{target[1]}")
        for key in self._initial:
            self.queue.add(key)
        if not self._initial:
            self.initial_done.set()
        return [asyncio.create_task(self._worker(), name=f"{self.spec.name}-worker-{i}") for i in range(self.workers)]

    # ---- workers -------------------------------------------------------------------------------------------
    async def _worker(self) -> None:
        while True:
            try:
                key = await self.queue.get()
            except QueueShutDown:
                return
            try:
                await self._process(key)
            finally:
                self.queue.done(key)
                self._initial.discard(key)
                if not self._initial:
                    self.initial_done.set()

    async def _process(self, key: str) -> None:
        started = time.monotonic()
        result = "error"
        try:
            result = await self.reconcile(key)
            self.queue.forget(key)
            observed = self._observed.pop(key, None)
            if result == "changed" and observed is not None:
                metrics.SYNC_LATENCY.labels(self.spec.name, "to_host").observe(time.monotonic() - observed)
        except NotLeader:
            result = "error"
        except SyncFailure as e:
            result = "conflict" if e.reason == "unmanaged_conflict" else "error"
            await self._report(key, e)
            self.queue.add_rate_limited(key)
        except ApiError as e:
            result = await self._handle_api_error(key, e)
        except (OSError, TimeoutError) as e:
            log.warning("sync failed", **self._fields(key, "skip"), error=str(e) or type(e).__name__)
            self.queue.add_rate_limited(key)
        except Exception:  # a bug must not kill the worker: report it without details, back off
            log.error("internal error", **self._fields(key, "skip"), error=traceback.format_exc())
            await self._report(key, SyncFailure("internal", "internal error"))
            self.queue.add_rate_limited(key)
        finally:
            metrics.SYNC_TOTAL.labels(self.spec.name, "to_host", result).inc()
            metrics.RECONCILE_DURATION.labels(self.spec.name).observe(time.monotonic() - started)

    async def _handle_api_error(self, key: str, e: ApiError) -> str:
        if e.status == 409:
            self.queue.add_after(key, 1.0)
            return "conflict"
        if e.status == 429:
            self.queue.add_after(key, min(e.retry_after or 5.0, 60.0))
            return "error"
        reason = {422: "invalid", 403: "quota" if "exceeded quota" in e.message else "host_rejected"}.get(e.status)
        if reason:
            await self._report(key, SyncFailure(reason, e.message))
        else:
            log.warning("sync failed", **self._fields(key, "skip"), error=str(e))
        self.queue.add_rate_limited(key)
        return "error"

    async def _report(self, key: str, failure: SyncFailure) -> None:
        if failure.reason:
            metrics.SYNC_ERRORS.labels(self.spec.name, failure.reason).inc()
        vobj = self.vstore.get(key)
        log.warning("sync refused", **self._fields(key, "event"), reason=failure.reason, error=failure.message)
        if vobj is not None:
            ns, name = self.names.to_host(vobj["metadata"]["namespace"], vobj["metadata"]["name"])
            message = scrub(failure.message, name, vobj["metadata"]["name"], ns or "")
            await self.engine.recorder.warn(vobj, failure.event, message)

    def _fields(self, key: str, action: str) -> dict[str, Any]:
        """What every log line about an object carries: kind, virtual namespace/name, host name, action."""
        vns, _, vname = key.partition("/")
        return {
            "kind": self.spec.name,
            "vns": vns,
            "vname": vname,
            "host_name": self.names.to_host(vns, vname)[1],
            "action": action,
        }

    # ---- reconcile -----------------------------------------------------------------------------------------
    async def reconcile(self, key: str) -> str:
        vns, vname = key.split("/", 1)
        host_ns, host_name = self.names.to_host(vns, vname)
        host = self.hstore.get(f"{host_ns}/{host_name}")
        if host is not None and not self._ours(host):
            host = None  # never touched; a create will run into it and report the conflict
        vobj = self.vstore.get(key)
        if vobj is None or not self.spec.should_sync(self.ctx, vobj):
            return await self._delete_host(host, "orphan" if vobj is None else "unused")
        if host is not None and self._uid_mismatch(vobj, host):
            return await self._delete_host(host, "uid mismatch")
        desired = self._desired(vobj, host)
        if host is None:
            return await self._create(key, vobj, desired)
        if self.spec.must_recreate(host, desired):
            return await self._delete_host(host, "immutable change")
        return await self._update(key, host, desired)

    def _ours(self, host: Obj) -> bool:
        res = self.spec.resource
        annotations = host["metadata"].get("annotations") or {}
        managed = is_managed(host, names=self.names, api_version=res.api_version, kind=res.kind)
        return managed and annotations.get(SKIP_BACKSYNC) != "true"

    def _uid_mismatch(self, vobj: Obj, host: Obj) -> bool:
        recorded = (host["metadata"].get("annotations") or {}).get(OBJECT_UID)
        return bool(recorded) and recorded != vobj["metadata"].get("uid") and not self.spec.uid_exempt

    def _owned(self) -> tuple[str, ...]:
        owner = OWNER_OWNED if self.engine.owner_reference() is not None else ()
        return (*self.spec.owned, *METADATA_OWNED, *owner)

    def _desired(self, vobj: Obj, host: Obj | None) -> Obj:
        res = self.spec.resource
        body = self.spec.desired(self.ctx, vobj)
        meta = desired_host_metadata(vobj, host, names=self.names, api_version=res.api_version, kind=res.kind)
        owner = self.engine.owner_reference()
        if owner is not None:
            controlled = any(ref.get("controller") for ref in vobj["metadata"].get("ownerReferences") or ())
            meta["ownerReferences"] = [{**owner, "controller": controlled}]
        return {"apiVersion": res.api_version, "kind": res.kind, "metadata": meta, **body}

    async def _create(self, key: str, vobj: Obj, desired: Obj) -> str:
        meta = desired["metadata"]
        self._check_flapping(key)
        self._log_write("create", meta["name"], key, changed_paths(desired))
        try:
            await self.engine.host_api.create(self.spec.resource, meta["namespace"], desired)
        except ApiError as e:
            if not e.already_exists:
                raise
            live = await self.engine.host_api.get(self.spec.resource, meta["namespace"], meta["name"])
            if live is not None and not self._ours(live):
                raise SyncFailure("unmanaged_conflict", UNMANAGED) from e
            raise  # ours, and the cache is behind: the 409 requeues shortly
        return self._written()

    async def _update(self, key: str, host: Obj, desired: Obj) -> str:
        patch = owned_patch(host, desired, self._owned())
        if not patch:
            return "unchanged"
        self._check_flapping(key)
        meta = host["metadata"]
        self._log_write("update", meta["name"], key, changed_paths(patch))
        patch.setdefault("metadata", {})["resourceVersion"] = meta["resourceVersion"]
        await self.engine.host_api.patch(self.spec.resource, meta["namespace"], meta["name"], patch)
        return self._written()

    async def _delete_host(self, host: Obj | None, why: str) -> str:
        if host is None:
            return "unchanged"
        meta = host["metadata"]
        key = "/".join(self.names.to_virtual(host) or ("", meta["name"]))
        self._log_write("delete", meta["name"], key, [why])
        await self.engine.host_api.delete(self.spec.resource, meta["namespace"], meta["name"], uid=meta["uid"])
        return self._written()

    def _written(self) -> str:
        return "dry_run" if self.engine.host_api.dry_run else "changed"

    def _check_flapping(self, key: str) -> None:
        if self.flap.record_write(key):
            metrics.FLAPPING.labels(self.spec.name).inc()
            raise SyncFailure(None, "object is changing too often; pausing its sync", event=SYNC_WARNING)

    def _log_write(self, action: str, host_name: str, key: str, paths: list[str]) -> None:
        result = "dry_run" if self.engine.host_api.dry_run else "ok"
        fields = {**self._fields(key, action), "host_name": host_name}
        log.info(f"{action} host object", **fields, changed=paths[:20], result=result)
