"""Host events up (SPEC §6.6): a host Event about one of this vcluster's managed Pods, Services, Endpoints,
Secrets, ConfigMaps or PVCs is copied onto the virtual object, renamed and rewritten (translators/events.py) so
the tenant sees why something failed without ever seeing a host name. Later updates (count, timestamps) follow."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from typing import Any

from syncer.cache import key_of
from syncer.log import get_logger
from syncer.worker import KeyedWorker
from translators.events import (
    INVOLVED_KINDS,
    VirtualTarget,
    cached_event,
    event_update,
    involved_key,
    last_seen,
    virtual_event,
)
from translators.kind import Obj
from vocab.resources import (
    CONFIGMAPS,
    ENDPOINTS,
    EVENTS,
    NAMESPACES,
    PERSISTENTVOLUMECLAIMS,
    PODS,
    SECRETS,
    SERVICES,
    Resource,
)

log = get_logger("eventsync")
BY_KIND: dict[str, Resource] = {
    r.kind: r for r in (PODS, SERVICES, ENDPOINTS, SECRETS, CONFIGMAPS, PERSISTENTVOLUMECLAIMS)
}


INVOLVED_INDEX = "involved"  # host events by "Kind/host name" of the object they are about
COPIES_INDEX = "copies"  # virtual events by "Kind/namespace/name" of the object they are about
EARLY = dt.timedelta(minutes=2)  # how long an event may wait in the cache for the object it is about


def _involved(event: Obj) -> list[str]:
    involved = event.get("involvedObject") or {}
    return [f"{involved.get('kind', '')}/{involved['name']}"] if involved.get("name") else []


def _name(obj: Obj) -> str | None:
    return obj["metadata"]["name"]


def _host_twin(names: Any, vobj: Obj) -> str | None:
    meta = vobj["metadata"]
    return names.to_host(meta["namespace"], meta["name"])[1] if meta.get("namespace") else None


def _older_than(event: Obj, age: dt.timedelta) -> bool:
    seen = last_seen(event)
    return seen is None or dt.datetime.now(dt.UTC) - seen > age


class EventSync(KeyedWorker):
    def __init__(self, engine: Any, workers: int) -> None:
        super().__init__("events", engine, workers, direction="to_virtual")
        self.host_events = engine.declare("host", EVENTS, selector="")
        self.virtual_events = engine.declare("virtual", EVENTS)
        # Both caches keep only what is read of events about synced kinds (translators/events.py cached_event), and
        # drop the events of an object once it is deleted: nothing is copied or updated for it after that, and the
        # API server keeps events for an hour (a busy namespace would otherwise hold thousands of dead ones). At
        # start, virtual copies of objects gone are dropped (wire), host events once reconciled without an object
        # and older than EARLY (reconcile).
        self.host_events.set_projection(cached_event)
        self.virtual_events.set_projection(cached_event)
        self.namespaces = engine.declare("virtual", NAMESPACES)
        self.target_namespace = engine.config.target_namespace

    def wire(self) -> None:
        self.host_events.add_handler(lambda old, new: self.enqueue((new or old)["metadata"]["name"]))
        # An event can arrive before the object it is about: the two watches are separate streams. When that
        # object shows up (host copy or virtual original), its waiting events are looked at again.
        self.host_events.add_index(INVOLVED_INDEX, _involved)
        self.virtual_events.add_index(COPIES_INDEX, lambda event: [involved_key(event)])
        names = self.engine.context.names
        for kind in BY_KIND:
            stores = self._stores(kind)
            if stores is None:
                continue
            host, virtual = stores
            host.add_handler(lambda old, new, k=kind: self._host_object_changed(k, old, new))
            virtual.add_handler(
                lambda old, new, k=kind: self._virtual_object_changed(k, old, new, lambda v: _host_twin(names, v))
            )
        for event in self.virtual_events.values():  # copies of objects deleted while vcsync was not running
            if not self._virtual_object_cached(event):
                self.virtual_events.evict(key_of(event))

    def _virtual_object_cached(self, event: Obj) -> bool:
        involved = event["involvedObject"]
        stores = self._stores(involved.get("kind", ""))
        return stores is not None and stores[1].get(f"{involved.get('namespace')}/{involved.get('name')}") is not None

    def _host_object_changed(self, kind: str, old: Obj | None, new: Obj | None) -> None:
        """On creation, its waiting events are looked at again; on deletion, they are dropped from the cache.
        Updates (most calls: this runs on every watch event) need nothing."""
        if (old is None) == (new is None):
            return
        waiting = self.host_events.keys_by_index(INVOLVED_INDEX, f"{kind}/{(new or old)['metadata']['name']}")
        for key in waiting:
            if new is not None:
                self.enqueue(key.rpartition("/")[2])
            else:
                self.host_events.evict(key)

    def _virtual_object_changed(
        self, kind: str, old: Obj | None, new: Obj | None, host_name_of: Callable[[Obj], str | None]
    ) -> None:
        if new is None and old is not None:
            meta = old["metadata"]
            about = f"{kind}/{meta.get('namespace', '')}/{meta['name']}"
            for key in self.virtual_events.keys_by_index(COPIES_INDEX, about):
                self.virtual_events.evict(key)
            return
        host_name = host_name_of(new) if old is None and new is not None else None
        if host_name:
            for key in self.host_events.keys_by_index(INVOLVED_INDEX, f"{kind}/{host_name}"):
                self.enqueue(key.rpartition("/")[2])

    def start(self) -> list[asyncio.Task[None]]:
        return self.start_workers(e["metadata"]["name"] for e in self.host_events.values())

    def fields(self, key: str, action: str) -> dict[str, Any]:
        return {"kind": "events", "host_name": key, "action": action}

    def _stores(self, kind: str) -> tuple[Any, Any] | None:
        """Host and virtual stores of the involved kind, if that kind is synced at all."""
        res = BY_KIND.get(kind)
        if res is None or not (self.engine.has_store("host", res) and self.engine.has_store("virtual", res)):
            return None
        return self.engine.store("host", res), self.engine.store("virtual", res)

    def _target(self, event: Obj) -> VirtualTarget | None:
        involved = event.get("involvedObject") or {}
        kind = involved.get("kind", "")
        stores = self._stores(kind) if kind in INVOLVED_KINDS and involved.get("apiVersion") == "v1" else None
        if stores is None or involved.get("namespace") != self.target_namespace:
            return None
        host = stores[0].get(f"{self.target_namespace}/{involved.get('name', '')}")  # only objects marked as ours
        where = self.engine.context.names.to_virtual(host) if host else None
        vobj = stores[1].get(f"{where[0]}/{where[1]}") if where and where[0] else None
        if vobj is None:
            return None
        meta = vobj["metadata"]
        return VirtualTarget(
            kind,
            meta["namespace"],
            meta["name"],
            meta.get("uid", ""),
            meta.get("resourceVersion", ""),
            host["metadata"]["name"],
        )

    def _rename(self, host_name: str) -> str | None:
        """The virtual name of any managed host object of this vcluster, for message rewriting."""
        for controller in self.engine.controllers:
            for key in getattr(controller, "virtual_keys_of", lambda _: ())(host_name):
                return key.rpartition("/")[2]
        return None

    async def reconcile(self, name: str) -> str:
        key = f"{self.target_namespace}/{name}"
        event = self.host_events.get(key)
        target = self._target(event) if event else None
        if target is None:
            if event is not None and _older_than(event, EARLY):  # its object is gone, or not this vcluster's
                self.host_events.evict(key)
            return "unchanged"
        namespace = self.namespaces.get(target.namespace)
        if namespace is None or (namespace.get("status") or {}).get("phase") == "Terminating":
            return "unchanged"
        desired = virtual_event(event, target, rename=self._rename)
        if desired is None:
            return "unchanged"
        existing = self.virtual_events.get(f"{target.namespace}/{desired['metadata']['name']}")
        api = self.engine.virtual_api
        if existing is None:
            await api.create(EVENTS, target.namespace, desired)
        else:
            patch = event_update(existing, desired)
            if not patch:
                return "unchanged"
            await api.patch(EVENTS, target.namespace, desired["metadata"]["name"], patch)
        log.info(
            "event copied up",
            kind="events",
            vns=target.namespace,
            vname=target.name,
            host_name=target.host_name,
            action="event",
            reason=desired.get("reason"),
        )
        return self.written()
