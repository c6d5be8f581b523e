"""The contract between the generic engine and one kind: a KindSpec says which resource it syncs, which host
fields it owns, how to build the desired host object, when an object should sync at all, and which other
objects' changes must requeue it. Everything here is pure; the engine supplies a read-only SyncContext."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from syncer.kube.resources import Resource

Obj = dict[str, Any]


class Lookup(Protocol):
    """Read-only view of one cache (a Store)."""

    def get(self, key: str) -> Obj | None: ...
    def keys_by_index(self, index: str, value: str) -> set[str]: ...


class SyncContext(Protocol):
    """What a translator may read: configuration, naming, and the caches. No I/O."""

    config: Any
    names: Any  # translators.names.NameTranslator

    def virtual(self, res: Resource) -> Lookup: ...
    def host(self, res: Resource) -> Lookup: ...


def _always(ctx: SyncContext, vobj: Obj) -> bool:
    return True


def _never(host: Obj, desired: Obj) -> bool:
    return False


@dataclass(frozen=True)
class Trigger:
    """Changes to `resource` (on side "virtual" or "host") requeue the keys `keys(obj)` of this kind."""

    side: str
    resource: Resource
    keys: Callable[[Obj], Iterable[str]]


@dataclass(frozen=True)
class KindSpec:
    """A virtual→host ("to host") kind. `desired` returns the host object's owned content (no metadata)."""

    name: str
    resource: Resource
    owned: tuple[str, ...]
    desired: Callable[[SyncContext, Obj], Obj]
    should_sync: Callable[[SyncContext, Obj], bool] = _always
    must_recreate: Callable[[Obj, Obj], bool] = _never
    virtual_indexes: Mapping[Resource, Mapping[str, Callable[[Obj], Iterable[str]]]] = field(default_factory=dict)
    triggers: tuple[Trigger, ...] = ()
    uid_exempt: bool = False  # Services, PVCs, PVs: a UID mismatch rewrites object-uid instead of recreating
