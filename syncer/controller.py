"""The generic to-host controller: one per enabled kind, keyed `<virtual ns>/<name>`. It reads both caches, asks
the kind's KindSpec for the desired host object, and writes only the owned fields that differ (zero writes when in
sync, also after a restart). It never touches a host object that is not marked as ours, deletes our orphans, and
turns every failure into a requeue policy, a metric and, where the tenant should know, a Warning event."""

from __future__ import annotations

import asyncio
import functools
import time
from collections import OrderedDict
from typing import Any

from syncer import metrics
from syncer.cache import Store, key_of, split_key
from syncer.events import SYNC_WARNING
from syncer.kube.api import ApiError
from syncer.log import get_logger
from syncer.worker import KeyedWorker, SyncFailure
from translators.kind import (
    EnsureTokens,
    KindSpec,
    Notice,
    Obj,
    Refuse,
    Requeue,
    Step,
    Trigger,
    Write,
    never_recreate,
)
from translators.markers import OBJECT_UID, SKIP_BACKSYNC, is_managed
from translators.metadata import desired_host_metadata
from vocab.diff import changed_paths, owned_patch
from vocab.resources import SERVICES

log = get_logger("controller")
METADATA_OWNED = ("metadata.labels", "metadata.annotations")
OWNER_OWNED = ("metadata.ownerReferences",)


HOST_NAME_INDEX = "host-name"
TOMBSTONE_TTL = 60.0
OWNER_GONE_RETRY = 10.0  # seconds between looks at a create held while the owning vcluster Service is gone


def _key(namespace: str | None, name: str) -> str:
    """Cache key: `ns/name` for namespaced objects, `name` for cluster-scoped ones."""
    return f"{namespace}/{name}" if namespace else name


UNMANAGED = "conflict: host object with the desired name exists and is not managed by this virtual cluster"


class Controller(KeyedWorker):
    def __init__(self, spec: KindSpec, engine: Any, workers: int) -> None:
        super().__init__(spec.name, engine, workers)
        self.spec = spec
        self.ctx = engine.context
        self.names = engine.context.names
        self.vstore: Store = engine.store("virtual", spec.resource)
        self.hstore: Store = engine.store("host", spec.resource)
        # key -> the create that must follow our delete (Service IP change); None once created, until cached
        self._recreating: dict[str, Write | None] = {}
        # orphans whose virtual object vanished unseen (a re-list, or before start-up), and those the valve holds
        self._unseen: set[str] = set()
        self._held: set[str] = set()
        # deleted virtual objects, for a short while, for kinds that may restore what vcsync's writes deleted
        self._tombstones: OrderedDict[str, tuple[float, Obj]] = OrderedDict()

    # ---- wiring --------------------------------------------------------------------------------------------
    def wire(self) -> None:
        self.vstore.add_index(HOST_NAME_INDEX, self._host_name_of)
        self.vstore.add_handler(lambda old, new: self.enqueue(key_of(new or old)))
        self.hstore.add_handler(lambda old, new: self._enqueue_host(new or old))
        self.vstore.add_unseen_removal_handler(self._note_unseen)
        if self.spec.restore_vanished:
            self.vstore.add_handler(lambda old, new: self._bury(old) if old is not None and new is None else None)
        self.engine.store("own", SERVICES).add_handler(lambda old, new: self._release_held())  # allow-until
        for trigger in self.spec.triggers:
            store = self.engine.store(trigger.side, trigger.resource)
            store.add_handler(lambda old, new, t=trigger: self._enqueue_related(t, old, new))

    def stores_read(self) -> list[Store]:
        """Every store this controller or its translator reads: its own two, the vcluster Service, its triggers',
        its indexes' and the KindSpec's declared `reads`. It starts as soon as these are filled (Engine)."""
        spec, store = self.spec, self.engine.store
        pairs = {("own", SERVICES), *((t.side, t.resource) for t in spec.triggers), *spec.reads}
        pairs.update(("virtual", res) for res in spec.virtual_indexes)
        pairs.update(("host", res) for res in spec.host_indexes)
        return [self.vstore, self.hstore, *(store(side, res) for side, res in pairs)]

    def virtual_keys_of(self, host_name: str) -> set[str]:
        """Virtual keys whose host copy is named `host_name` (event message rewriting, reverse lookups)."""
        return self.vstore.keys_by_index(HOST_NAME_INDEX, host_name)

    def _host_name_of(self, vobj: Obj) -> list[str]:
        meta = vobj["metadata"]
        return [self.names.to_host(meta.get("namespace"), meta["name"])[1]]

    def _enqueue_host(self, host: Obj) -> None:
        """Reverse lookup (SPEC §4.4): the host object's annotations, else the virtual index by host name."""
        target = self.names.to_virtual(host)
        if target:
            self.enqueue(_key(*target))
            return
        for key in self.vstore.keys_by_index(HOST_NAME_INDEX, host["metadata"]["name"]):
            self.enqueue(key)

    def _enqueue_related(self, trigger: Trigger, old: Obj | None, new: Obj | None) -> None:
        if trigger.added_only and (old is not None or new is None):
            return
        if trigger.when is not None and not trigger.when(old, new):
            return
        if trigger.every_key:
            keys = self.vstore.keys()  # a copy: enqueueing never changes the store
            for key in keys:
                self.enqueue(key)
            return
        for obj in (old, new):
            if obj is None:
                continue
            for value in trigger.keys(obj):
                if not trigger.via_index:
                    self.enqueue(value)
                elif trigger.index_side == "host":
                    for host in self.hstore.by_index(trigger.via_index, value):
                        self._enqueue_host(host)
                else:
                    for key in self.vstore.keys_by_index(trigger.via_index, value):
                        self.enqueue(key)

    def start(self) -> list[asyncio.Task[None]]:
        """Queue every virtual key and every managed host object's key (orphans go through the normal path)."""
        initial = set(self.vstore.keys())
        for trigger in self.spec.triggers:  # e.g. a pod-less token Secret left by a crash: its pod key is swept
            if not trigger.via_index and not trigger.every_key:
                store = self.engine.store(trigger.side, trigger.resource)
                initial.update(key for obj in store.values() for key in trigger.keys(obj))
        for host in self.hstore.values():
            target = self.names.to_virtual(host)
            if target:
                initial.add(_key(*target))
                if self.vstore.get(_key(*target)) is None:
                    self._unseen.add(_key(*target))
        return self.start_workers(initial)

    def event_object(self, key: str) -> Obj | None:
        return self.vstore.get(key)

    def fields(self, key: str, action: str) -> dict[str, Any]:
        """What every log line about an object carries: kind, virtual namespace/name, host name, action."""
        vns, vname = split_key(key)
        return {
            "kind": self.spec.name,
            "vns": vns,
            "vname": vname,
            "host_name": self.names.to_host(vns, vname)[1],
            "action": action,
        }

    # ---- reconcile -----------------------------------------------------------------------------------------
    async def reconcile(self, key: str) -> str:
        host_ns, host_name = self.names.to_host(*split_key(key))
        host = self.hstore.get(_key(host_ns, host_name))
        if host is not None and not self._ours(host):
            host = None  # never touched; a create will run into it and report the conflict
        vobj = self.vstore.get(key)
        spec = self.spec
        if vobj is not None or host is None:
            self._forget_unseen(key)
        if key in self._recreating:  # our own delete-and-recreate, not the tenant's delete
            if vobj is not None:
                del self._recreating[key]  # the cache shows the new object: done
            elif self._recreating[key] is None:
                if await self._still_there(key):
                    return "unchanged"  # created; the cache will see it and requeue the key
                del self._recreating[key]  # the tenant deleted what we created: an ordinary deletion now
            else:
                return (await self._run(key, None, [self._recreating[key]]))[0]
        if vobj is None and host is None and spec.leftovers:
            return (await self._run(key, None, spec.leftovers(self.ctx, key)))[0]
        if vobj is None and (body := self._restorable(key)) is not None:
            namespace, name = split_key(key)
            restore = Write("virtual", "create", spec.resource, namespace, name, body, why="restore")
            return (await self._run(key, None, [restore]))[0]
        if vobj is None:
            if host is not None and spec.virtual_gone:
                return (await self._run(key, None, spec.virtual_gone(self.ctx, host)))[0]
            if key in self._unseen and await self._hold(key):
                return "held"
            self._forget_unseen(key)
            return await self._delete_host(host, "orphan")
        if not spec.should_sync(self.ctx, vobj):
            return await self._delete_host(host, "unused")
        if host is not None and self._uid_mismatch(vobj, host):
            return await self._delete_host(host, "uid mismatch")
        if host is None:
            return await self._create_path(key, vobj)
        if spec.existing:
            result, stopped = await self._run(key, vobj, spec.existing(self.ctx, vobj, host))
            if stopped or result != "unchanged":
                return result
        desired = self._desired(vobj, host, with_body=self._body_compared)
        if spec.must_recreate(host, desired):
            return await self._delete_host(host, "immutable change")
        return await self._update(key, host, desired)

    # ---- restoring what our own writes made others delete ----------------------------------------------------
    def _bury(self, old: Obj) -> None:
        """Keep a deleted object for TOMBSTONE_TTL seconds (oldest first, so expired ones leave from the front)."""
        now = time.monotonic()
        while self._tombstones and now - next(iter(self._tombstones.values()))[0] >= TOMBSTONE_TTL:
            self._tombstones.popitem(last=False)
        key = key_of(old)
        self._tombstones.pop(key, None)
        self._tombstones[key] = (now, old)

    def _restorable(self, key: str) -> Obj | None:
        """The body to create a just-deleted virtual object again, if its kind says the deletion was collateral."""
        buried = self._tombstones.get(key)
        if buried is None or self.spec.restore_vanished is None:
            return None
        body = self.spec.restore_vanished(self.ctx, buried[1])
        if body is not None:
            del self._tombstones[key]
        return body

    # ---- the mass-deletion valve (syncer/deletionvalve.py) ---------------------------------------------------------
    def _note_unseen(self, key: str) -> None:
        """Only objects with a host copy count: the valve weighs host objects about to be deleted."""
        if self.hstore.get(_key(*self.names.to_host(*split_key(key)))) is not None:
            self._unseen.add(key)

    async def _hold(self, key: str) -> bool:
        valve = self.engine.valve
        if not valve.holds(len(self._unseen), len(self.hstore)):
            return False
        first = not self._held
        self._held.add(key)
        if first:
            await valve.report(self.name, len(self._unseen), len(self.hstore))
        return True

    def _forget_unseen(self, key: str) -> None:
        self._unseen.discard(key)
        if key in self._held:
            self._held.discard(key)
            self._release_held()

    def _release_held(self) -> None:
        """Let the held deletions go once the valve no longer holds them (the objects came back, or an operator
        allowed it): each key is looked at again."""
        if not self._held or self.engine.valve.holds(len(self._unseen), len(self.hstore)):
            return
        self.engine.valve.released(self.name)
        held, self._held = self._held, set()
        for key in held:
            self.enqueue(key)

    async def _create_path(self, key: str, vobj: Obj) -> str:
        spec = self.spec
        steps = spec.host_gone(self.ctx, vobj) if spec.host_gone else None
        if steps is not None:
            return (await self._run(key, vobj, steps))[0]
        result = "unchanged"
        if spec.before_create:
            result, stopped = await self._run(key, vobj, spec.before_create(self.ctx, vobj))
            if stopped:
                return result
        return await self._create(key, vobj, self._desired(vobj, None))

    # ---- steps -----------------------------------------------------------------------------------------------
    async def _run(self, key: str, vobj: Obj | None, steps: list[Step]) -> tuple[str, bool]:
        """Carry out a kind's steps in order: (result, stopped early by a Requeue)."""
        result = "unchanged"
        for i, step in enumerate(steps):
            if isinstance(step, Write):
                self._remember_recreate(key, step, steps[i + 1 : i + 2])
                if not await self._write(key, step) and self._recreating.pop(key, None):
                    return result, True  # the tenant deleted it first: not ours to bring back
                if step.verb == "create" and step.side == "virtual" and key in self._recreating:
                    self._recreating[key] = None
                result = self.written()
            elif isinstance(step, Requeue):
                if step.warning and vobj is not None:
                    await self.engine.recorder.warn(vobj, SYNC_WARNING, step.warning)
                self.queue.add_after(key, step.after)
                return result, True
            elif isinstance(step, Refuse):
                raise SyncFailure(step.reason, step.message)
            elif isinstance(step, Notice):
                if step.dropped_addresses:
                    metrics.ENDPOINT_ADDRESSES_DROPPED.labels(self.name).inc(step.dropped_addresses)
                if vobj is not None:
                    await self.engine.recorder.warn(vobj, SYNC_WARNING, step.message)
            elif isinstance(step, EnsureTokens):
                wrote, refresh_in = await self.engine.tokens.ensure(step)
                self.queue.add_after(key, refresh_in)
                result = self.written() if wrote else result
        return result, False

    def _remember_recreate(self, key: str, step: Write, following: list[Step]) -> None:
        """A virtual delete followed by a create of the same object is a recreate: if the create fails, the
        next pass must retry it rather than take the missing virtual object for a deletion."""
        after = following[0] if following else None
        if (
            (step.side, step.verb) == ("virtual", "delete")
            and isinstance(after, Write)
            and after.verb == "create"
            and after.side == "virtual"
            and after.name == step.name
        ):
            self._recreating[key] = after

    async def _still_there(self, key: str) -> bool:
        """Whether the virtual object exists, asked of the API server: the cache may not have seen it yet."""
        return await self.engine.virtual_api.get(self.spec.resource, *split_key(key)) is not None

    async def _write(self, key: str, w: Write) -> bool:
        """Carry out one write; False only for a delete of what was already gone."""
        api = self.engine.host_api if w.side == "host" else self.engine.virtual_api
        what = w.subresource or w.why or w.side
        with self.flap_guarded(key, f"{w.side}:{w.verb}:{w.subresource or w.resource.plural}"):
            self._log_write(w.verb if w.side == "host" else f"{w.verb} {what}", w.name, key, [what])
            if w.verb == "create":
                await api.create(w.resource, w.namespace, w.body or {}, subresource=w.subresource)
            elif w.verb == "patch":
                await api.patch(
                    w.resource, w.namespace, w.name, w.body, subresource=w.subresource, patch_type=w.patch_type
                )
            else:
                return await api.delete(w.resource, w.namespace, w.name, grace_seconds=w.grace, uid=w.uid)
        return True

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

    @functools.cached_property
    def _body_compared(self) -> bool:
        """Whether an update compares more than metadata. Pods own no body field (their mutable fields go through
        `existing`): translating the whole pod on every reconcile only to compare its metadata was 7% of the CPU."""
        return bool(self.spec.owned) or self.spec.must_recreate is not never_recreate

    def _desired(self, vobj: Obj, host: Obj | None, with_body: bool = True) -> Obj:
        res = self.spec.resource
        body = self.spec.desired(self.ctx, vobj) if with_body else {}
        if self.spec.metadata:
            meta = self.spec.metadata(self.ctx, vobj, host)
        else:
            meta = desired_host_metadata(vobj, host, names=self.names, api_version=res.api_version, kind=res.kind)
        owner = self.engine.owner_reference()
        if owner is not None:
            controlled = any(ref.get("controller") for ref in vobj["metadata"].get("ownerReferences") or ())
            meta["ownerReferences"] = [{**owner, "controller": controlled}]
        return {"apiVersion": res.api_version, "kind": res.kind, "metadata": meta, **body}

    async def _create(self, key: str, vobj: Obj, desired: Obj) -> str:
        if self.engine.owner_gone():
            # `helm uninstall` on a real node found copies re-created behind the garbage collector, left for good
            log.warning("owner Service gone: host object not created", **self.fields(key, "create"))
            self.queue.add_after(key, OWNER_GONE_RETRY)
            return "held"
        meta = desired["metadata"]
        self._log_write("create", meta["name"], key, changed_paths(desired))
        try:
            with self.flap_guarded(key, "host:create"):
                await self.engine.host_api.create(self.spec.resource, meta.get("namespace"), desired)
        except ApiError as e:
            if not e.already_exists:
                raise
            live = await self.engine.host_api.get(self.spec.resource, meta.get("namespace"), meta["name"])
            if live is not None and not self._ours(live):
                raise SyncFailure("unmanaged_conflict", UNMANAGED) from e
            raise  # ours, and the cache is behind: the 409 requeues shortly
        return self.written()

    async def _update(self, key: str, host: Obj, desired: Obj) -> str:
        patch = owned_patch(host, desired, self._owned())
        if not patch:
            return "unchanged"
        meta = host["metadata"]
        self._log_write("update", meta["name"], key, changed_paths(patch))
        patch.setdefault("metadata", {})["resourceVersion"] = meta["resourceVersion"]
        with self.flap_guarded(key, "host:update"):
            await self.engine.host_api.patch(self.spec.resource, meta.get("namespace"), meta["name"], patch)
        return self.written()

    async def _delete_host(self, host: Obj | None, why: str) -> str:
        if host is None:
            return "unchanged"
        meta = host["metadata"]
        key = _key(*(self.names.to_virtual(host) or (None, meta["name"])))
        self._log_write("delete", meta["name"], key, [why])
        await self.engine.host_api.delete(self.spec.resource, meta.get("namespace"), meta["name"], uid=meta["uid"])
        return self.written()

    def _log_write(self, action: str, host_name: str, key: str, paths: list[str]) -> None:
        result = "dry_run" if self.engine.host_api.dry_run else "ok"
        fields = {**self.fields(key, action), "host_name": host_name}
        log.info(f"{action} host object", **fields, changed=paths[:20], result=result)
