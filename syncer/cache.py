"""In-memory copy of one (cluster, resource), kept by a reflector, read by every controller. Secondary indexes
(host name -> virtual key, referenced ConfigMap -> pods, node -> pods, ...) are maintained on every change, and
handlers are told (old, new) so controllers can enqueue exactly the keys a change affects."""

from __future__ import annotations

import weakref
from collections.abc import Callable, Collection, Iterable, Iterator
from typing import Any

from syncer import metrics
from syncer.sharing import Parts

Obj = dict[str, Any]
Handler = Callable[[Obj | None, Obj | None], None]
IndexFunc = Callable[[Obj], Iterable[str]]
Projection = Callable[[Obj], Obj | None]  # what of an object its readers need, or None: not cached at all


def key_of(obj: Obj) -> str:
    meta = obj["metadata"]
    ns = meta.get("namespace")
    return f"{ns}/{meta['name']}" if ns else meta["name"]


def split_key(key: str) -> tuple[str | None, str]:
    ns, _, name = key.rpartition("/")
    return (ns or None), name


class Store:
    def __init__(self, kind: str, side: str) -> None:
        self.kind, self.side = kind, side
        self._objects: dict[str, Obj] = {}
        self._index_funcs: dict[str, IndexFunc] = {}
        # index -> value -> its one key, or a set once it has several (most values have one: a set is 216 bytes)
        self._indexes: dict[str, dict[str, str | set[str]]] = {}
        self._handlers: list[Handler] = []
        self._unseen_removal_handlers: list[Callable[[str], None]] = []
        self._project: Projection | None = None
        self._parts = Parts()
        store = weakref.ref(self)  # the gauge must not keep a discarded store alive
        metrics.count_objects(kind, side, lambda: len(store() or ()))

    def __len__(self) -> int:
        return len(self._objects)

    def add_index(self, name: str, func: IndexFunc) -> None:
        if name in self._index_funcs:
            return
        self._index_funcs[name] = func
        self._indexes[name] = {}
        for key, obj in self._objects.items():
            self._index(name, key, obj)

    def set_projection(self, project: Projection) -> None:
        """Keep only `project(obj)` of each object entering the store (set before the reflector fills it)."""
        if self._objects or (self._project is not None and self._project is not project):
            raise RuntimeError(f"{self.side} {self.kind}: a projection is set once, on an empty store")
        self._project = project

    def add_handler(self, handler: Handler) -> None:
        self._handlers.append(handler)

    def add_unseen_removal_handler(self, handler: Callable[[str], None]) -> None:
        """`handler(key)` runs before the usual handlers for each object a re-list no longer shows: its deletion
        was not seen, only inferred (the mass-deletion valve tells these apart from watched deletions)."""
        self._unseen_removal_handlers.append(handler)

    # ---- reads ---------------------------------------------------------------------------------------------
    def get(self, key: str) -> Obj | None:
        return self._objects.get(key)

    def keys(self) -> list[str]:
        return list(self._objects)

    def values(self) -> list[Obj]:
        return list(self._objects.values())

    def _indexed(self, index: str, value: str) -> Collection[str]:
        held = self._indexes[index].get(value, ())
        return (held,) if type(held) is str else held

    def keys_by_index(self, index: str, value: str) -> set[str]:
        return set(self._indexed(index, value))

    def by_index(self, index: str, value: str) -> list[Obj]:
        return [self._objects[k] for k in self._indexed(index, value)]

    def iter_by_index(self, index: str, value: str) -> Iterator[Obj]:
        """`by_index` one object at a time, for callers that usually stop at the first (a node's ~1,000 pods); do
        not change the store while iterating."""
        objects = self._objects
        return (objects[k] for k in self._indexed(index, value))

    # ---- writes (from the reflector only) --------------------------------------------------------------------
    def keep(self, obj: Obj) -> tuple[str, Obj | None]:
        """`obj`'s key and what of it this store keeps (never managedFields; only the projection's part, its common
        parts shared with other cached objects: `syncer.sharing`), or None when it is not cached at all. A reflector
        applies it to each LIST page as it arrives, so what is dropped is freed before the next page is decoded and
        reused by it: dropped only after the whole LIST was in, it left holes no later allocation filled (`python -m
        bench.list_memory`: 14.4 -> 2.5 KB of RSS per cached host pod)."""
        key = key_of(obj)
        obj["metadata"].pop("managedFields", None)
        kept = obj if self._project is None else self._project(obj)
        return key, (None if kept is None else self._parts.share(kept))

    def upsert(self, obj: Obj) -> None:
        self._put(*self.keep(obj))

    def _put(self, key: str, obj: Obj | None) -> None:
        if obj is None:
            self._drop(key)
            return
        old = self._objects.get(key)
        self._unindex(key, old)
        self._objects[key] = obj
        for name in self._index_funcs:
            self._index(name, key, obj)
        self._notify(old, obj)

    def remove(self, obj: Obj) -> None:
        self._drop(key_of(obj))

    def _drop(self, key: str) -> None:
        old = self._objects.pop(key, None)
        if old is not None:
            self._unindex(key, old)
            self._notify(old, None)

    def evict(self, key: str) -> None:
        """Drop an object nothing will read again; a later change of it on the server brings it back. Handlers are
        not told: it was not deleted on the server, and no reconcile is owed for it."""
        old = self._objects.pop(key, None)
        if old is not None:
            self._unindex(key, old)

    def replace(self, kept: Iterable[tuple[str, Obj | None]]) -> None:
        """Swap in a fresh LIST, each object as `keep` made it, telling handlers only about what really changed
        (the 410 re-list path)."""
        fresh = dict(kept)
        for key in [k for k in self._objects if k not in fresh]:
            for handler in self._unseen_removal_handlers:
                handler(key)
            self._drop(key)
        for key, obj in fresh.items():
            old = self._objects.get(key)
            if (
                obj is None
                or old is None
                or old["metadata"].get("resourceVersion") != obj["metadata"].get("resourceVersion")
            ):
                self._put(key, obj)

    def _index(self, name: str, key: str, obj: Obj) -> None:
        index = self._indexes[name]
        for value in self._index_funcs[name](obj):
            held = index.get(value)
            if held is None:
                index[value] = key
            elif type(held) is str:
                if held != key:
                    index[value] = {held, key}
            else:
                held.add(key)

    def _unindex(self, key: str, obj: Obj | None) -> None:
        if obj is None:
            return
        for name, func in self._index_funcs.items():
            index = self._indexes[name]
            for value in func(obj):
                held = index.get(value)
                if held is None:
                    continue
                if type(held) is str:
                    if held == key:
                        del index[value]
                    continue
                held.discard(key)
                if len(held) == 1:
                    index[value] = held.pop()

    def _notify(self, old: Obj | None, new: Obj | None) -> None:
        for handler in self._handlers:
            handler(old, new)
