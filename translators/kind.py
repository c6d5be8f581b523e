"""The contract between the generic engine and one kind: a KindSpec says which resource it syncs, which host
fields it owns, how to build the desired host object, when an object should sync at all, and which other
objects' changes must requeue it. Kinds with a richer life cycle (pods) add hooks that return Steps: declarative
writes, requeues and refusals the engine carries out. Everything here is pure; the engine supplies the context."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from vocab.resources import Resource

Obj = dict[str, Any]


class Lookup(Protocol):
    """Read-only view of one cache (a Store)."""

    def get(self, key: str) -> Obj | None: ...
    def keys_by_index(self, index: str, value: str) -> set[str]: ...
    def by_index(self, index: str, value: str) -> list[Obj]: ...


class SyncContext(Protocol):
    """What a translator may read: configuration, naming, and the caches. No I/O."""

    config: Any
    names: Any  # translators.names.NameTranslator

    def virtual(self, res: Resource) -> Lookup: ...
    def host(self, res: Resource) -> Lookup: ...
    def vcluster_service(self) -> Obj | None: ...


@dataclass(frozen=True)
class Write:
    """One API write. `uid` is a delete precondition, `grace` a delete grace period; a host create with
    `check_conflict` reports an unmanaged object in the way instead of retrying blindly."""

    side: str  # "host" or "virtual"
    verb: str  # "create", "patch" or "delete"
    resource: Resource
    namespace: str | None
    name: str
    body: Obj | None = None
    subresource: str | None = None
    patch_type: str = "merge"
    uid: str | None = None
    grace: int | None = None
    why: str = ""


@dataclass(frozen=True)
class Requeue:
    """Stop here and look again after `after` seconds, telling the tenant `warning` if given."""

    after: float
    warning: str | None = None


@dataclass(frozen=True)
class Refuse:
    """Do not sync; a SyncError event carries `message`, `reason` is the metric label; retried with backoff."""

    reason: str
    message: str


@dataclass(frozen=True)
class Notice:
    """Synced with something dropped: one SyncWarning, and the plan goes on. `dropped_addresses` counts
    endpoint addresses the §8.3 policy removed (vcsync_endpoint_addresses_dropped_total)."""

    message: str
    dropped_addresses: int = 0


@dataclass(frozen=True)
class TokenSource:
    """One projected serviceAccountToken source of a pod and where its token goes in the token Secret."""

    key: str
    volume: str
    index: int
    audiences: tuple[str, ...]
    expiration_seconds: int
    path: str


@dataclass(frozen=True)
class EnsureTokens:
    """Keep the host Secret `name` filled with fresh TokenRequest tokens for `pod` (virtual API)."""

    name: str
    pod: Obj
    sources: tuple[TokenSource, ...]


Step = Write | Requeue | Refuse | Notice | EnsureTokens


def _always(ctx: SyncContext, vobj: Obj) -> bool:
    return True


def never_recreate(host: Obj, desired: Obj) -> bool:
    return False


@dataclass(frozen=True)
class Trigger:
    """Changes to `resource` (on side "virtual" or "host") requeue the keys `keys(obj)` of this kind — or, with
    `via_index`, the kind's objects filed under those values in that index of its `index_side` store (a Namespace
    -> its virtual pods; a new Node -> the host pods on it, mapped back to their virtual keys). `added_only`
    reacts to creations alone (a Node's heartbeats must not requeue its thousand pods). `every_key` requeues all
    of the kind's objects, for the changes `when` picks (the vcluster Service paused or resumed). Side "own" is the
    vcluster's own host Service and Endpoints."""

    side: str
    resource: Resource
    keys: Callable[[Obj], Iterable[str]]
    via_index: str | None = None
    index_side: str = "virtual"
    added_only: bool = False
    every_key: bool = False
    when: Callable[[Obj | None, Obj | None], bool] | None = None


@dataclass(frozen=True)
class KindSpec:
    """A virtual→host ("to host") kind. `desired` returns the host object's owned content (no metadata)."""

    name: str
    resource: Resource
    owned: tuple[str, ...]
    desired: Callable[[SyncContext, Obj], Obj]
    should_sync: Callable[[SyncContext, Obj], bool] = _always
    must_recreate: Callable[[Obj, Obj], bool] = never_recreate
    virtual_indexes: Mapping[Resource, Mapping[str, Callable[[Obj], Iterable[str]]]] = field(default_factory=dict)
    triggers: tuple[Trigger, ...] = ()
    uid_exempt: bool = False  # Services, PVCs, PVs: a UID mismatch rewrites object-uid instead of recreating
    # Optional life-cycle hooks returning Steps (pods). `before_create` runs when the host object is missing and
    # may stop the create (Refuse/Requeue); `existing` runs when both exist, and the generic owned-field diff
    # follows only if its steps wrote nothing; `host_gone`/`virtual_gone` replace the default create/delete.
    metadata: Callable[[SyncContext, Obj, Obj | None], Obj] | None = None  # host metadata, if not the generic merge
    before_create: Callable[[SyncContext, Obj], list[Step]] | None = None
    existing: Callable[[SyncContext, Obj, Obj], list[Step]] | None = None
    host_gone: Callable[[SyncContext, Obj], list[Step] | None] | None = None
    virtual_gone: Callable[[SyncContext, Obj], list[Step]] | None = None
    leftovers: Callable[[SyncContext, str], list[Step]] | None = None  # neither side exists: clean what remains
    # a virtual object deleted as a side effect of vcsync's own writes: the body to create it again, else None
    restore_vanished: Callable[[SyncContext, Obj], Obj | None] | None = None
    host_indexes: Mapping[Resource, Mapping[str, Callable[[Obj], Iterable[str]]]] = field(default_factory=dict)
    # What of the host object anything reads, applied as it enters the host cache (None: all of it)
    host_projection: Callable[[Obj], Obj] | None = None
    reads: tuple[tuple[str, Resource], ...] = ()  # further (side, resource) caches the hooks look up
