"""Wires one syncer together (SPEC §9.6): a store and reflector per (cluster, resource) the enabled kinds need,
shared by all controllers; leadership, taken while the caches fill; then each kind's controller as soon as the
stores it reads are filled, and the engine components once all are, each fed every virtual key and every managed
host key once. Knows nothing about any particular kind: everything kind-specific comes from the KindSpecs."""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from typing import Any

from kubernetes_asyncio import client

from syncer.cache import Store
from syncer.config import Config
from syncer.controller import Controller
from syncer.coredns import CoreDns
from syncer.deletionvalve import DeletionValve
from syncer.events import EventRecorder
from syncer.kube.api import KubeApi
from syncer.leader import LeaderElector
from syncer.log import get_logger
from syncer.ratelimit import TokenBucket
from syncer.reflector import Reflector
from syncer.registry import enabled, engine_components
from syncer.tokens import TokenIssuer
from translators.markers import managed_by_selector
from translators.names import NameTranslator, leader_lease_name
from vocab.resources import SERVICES, Resource

log = get_logger("engine")
CACHE_SYNC_TIMEOUT = 15 * 60


class StartupTimeout(Exception):
    pass


@dataclass
class Context:
    """The read-only view translators get (translators.kind.SyncContext)."""

    config: Config
    names: NameTranslator
    engine: Engine

    def virtual(self, res: Resource) -> Store:
        return self.engine.store("virtual", res)

    def host(self, res: Resource) -> Store:
        return self.engine.store("host", res)

    def vcluster_service(self) -> dict[str, Any] | None:
        return self.engine.vcluster_service()


class Engine:
    def __init__(
        self, config: Config, host_client: client.ApiClient, virtual_client: client.ApiClient, identity: str
    ) -> None:
        self.config = config
        self.identity = identity
        self._owner_seen = False  # the vcluster Service has been seen: see owner_gone
        names = NameTranslator(config.name, config.target_namespace)
        self.context = Context(config, names, self)
        timeout = config.request_timeout
        self.leader: LeaderElector | None = None
        if config.leader_elect and not config.dry_run:
            # No write gate, and a budget of its own: renewals queued behind a busy leader's writes would come after
            # the renew deadline, shutting the gate of a replica that still holds the lease.
            lease_bucket = TokenBucket(config.host_qps, config.host_burst)
            lease_api = KubeApi(host_client, "host", bucket=lease_bucket, request_timeout=timeout)
            self.leader = LeaderElector(
                lease_api,
                config.own_namespace,
                leader_lease_name(config.name),
                identity,
                lease_duration=config.lease_duration,
                renew_deadline=config.renew_deadline,
                retry_period=config.retry_period,
            )
        gate = self.leader.check if self.leader else None

        def api(api_client: Any, cluster: str, qps: float, burst: int) -> KubeApi:  # one client-side budget each
            return KubeApi(
                api_client,
                cluster,
                bucket=TokenBucket(qps, burst),
                request_timeout=timeout,
                watch_idle_timeout=config.watch_idle_timeout,
                write_gate=gate,
                dry_run=config.dry_run,
            )

        self.host_api = api(host_client, "host", config.host_qps, config.host_burst)
        self.virtual_api = api(virtual_client, "virtual", config.virtual_qps, config.virtual_burst)
        self.recorder = EventRecorder(self.virtual_api, identity)
        self.tokens = TokenIssuer(self)
        self.valve = DeletionValve(self)
        self._stores: dict[tuple[str, Resource], Store] = {}
        self._reflectors: list[Reflector] = []
        self._filled: dict[Store, asyncio.Event] = {}  # store -> its reflector's first LIST is in
        self._declare_stores()
        self.controllers: list[Any] = [Controller(spec, self, config.workers) for spec in enabled(config.sync)]
        self.controllers += [component(self, config.workers) for component in engine_components(config.sync)]
        if config.coredns:
            self.controllers.append(CoreDns(self, config.workers))
        self.caches_synced = asyncio.Event()
        self._leading = asyncio.Event()
        self.initial_sync_done = asyncio.Event()
        self._tasks: list[asyncio.Task[Any]] = []
        self._workers: list[asyncio.Task[None]] = []
        self._started = 0.0
        self._started_at: dict[str, float] = {}  # component -> seconds from run() to its start, for the log

    # ---- stores ------------------------------------------------------------------------------------------------
    def _declare_stores(self) -> None:
        for spec in enabled(self.config.sync):
            self.declare("virtual", spec.resource)
            host = self.declare("host", spec.resource)
            if spec.host_projection is not None:
                host.set_projection(spec.host_projection)
            for res, indexes in spec.virtual_indexes.items():
                for name, func in indexes.items():
                    self.declare("virtual", res).add_index(name, func)
            for res, indexes in spec.host_indexes.items():
                for name, func in indexes.items():
                    self.declare("host", res).add_index(name, func)
            for trigger in spec.triggers:
                self.declare(trigger.side, trigger.resource)
            for side, res in spec.reads:
                self.declare(side, res)
        self.declare_own(SERVICES).add_handler(self._note_owner)

    def _note_owner(self, _old: dict[str, Any] | None, new: dict[str, Any] | None) -> None:
        if new is not None:
            self._owner_seen = True

    def declare_own(self, res: Resource, label_selector: str = "") -> Store:
        """A store of the vcluster's own host `res` in the own namespace: by default the single object named
        --service-name (its Service, their Endpoints; SPEC §9.2), else the objects matching `label_selector`
        (fake nodes' Services)."""
        key = "own" + (f":{label_selector}" if label_selector else "")
        fields = "" if label_selector else f"metadata.name={self.config.service_name}"
        return self._declare_narrow(
            key, "host", res, f"vcluster-{res.plural}", self.config.own_namespace, label_selector, fields
        )

    def declare_named(self, side: str, res: Resource, namespace: str | None, name: str) -> Store:
        """A store of the one object `namespace/name` (namespace None when cluster-scoped) of `side`, for components
        that keep a few objects by name without caching all of `res`; never the store `declare` gives."""
        key = f"{side}:{namespace}/{name}" if namespace else f"{side}:{name}"
        return self._declare_narrow(key, side, res, f"{res.plural}/{name}", namespace, "", f"metadata.name={name}")

    def _declare_narrow(
        self, key: str, side: str, res: Resource, store_name: str, namespace: str | None, labels: str, fields: str
    ) -> Store:
        """A store of `side`'s `res` narrowed by namespace and selectors, with its reflector, declared once under
        `key`."""
        if (key, res) not in self._stores:
            store = self._stores[(key, res)] = Store(store_name, side)
            api = self.host_api if side == "host" else self.virtual_api
            self._reflect(Reflector(api, res, store, namespace=namespace, label_selector=labels, field_selector=fields))
        return self._stores[(key, res)]

    def _reflect(self, reflector: Reflector) -> None:
        self._reflectors.append(reflector)
        self._filled[reflector.store] = reflector.synced

    def declare(self, side: str, res: Resource, namespace: str | None = None, selector: str | None = None) -> Store:
        """The shared store for (side, resource), created with its reflector on first use. Virtual stores cover
        all namespaces unless `namespace` narrows them; host stores cover T and only objects marked as ours,
        unless an explicit `selector` is given (host Nodes carry no markers)."""
        if (side, res) in self._stores:
            return self._stores[(side, res)]
        if side == "own":
            return self.declare_own(res)
        store = Store(res.plural, side)
        self._stores[(side, res)] = store
        if side == "virtual":
            self._reflect(Reflector(self.virtual_api, res, store, namespace=namespace))
        else:
            if selector is None:
                selector = managed_by_selector(self.context.names, cluster_scoped=not res.namespaced)
            namespace = self.config.target_namespace if res.namespaced else None
            self._reflect(Reflector(self.host_api, res, store, namespace=namespace, label_selector=selector))
        return store

    def stores(self) -> list[Store]:
        return list(self._stores.values())

    def has_store(self, side: str, res: Resource) -> bool:
        return (side, res) in self._stores

    def store(self, side: str, res: Resource) -> Store:
        return self._stores[(side, res)]

    def vcluster_service(self) -> dict[str, Any] | None:
        return self._stores[("own", SERVICES)].get(f"{self.config.own_namespace}/{self.config.service_name}")

    def owner_reference(self) -> dict[str, Any] | None:
        """The vcluster Service as owner of namespaced host objects (--set-owner, only when T is the own ns)."""
        if not self.config.set_owner:
            return None
        service = self.vcluster_service()
        if service is None:
            return None
        meta = service["metadata"]
        return {"apiVersion": "v1", "kind": "Service", "name": meta["name"], "uid": meta["uid"]}

    def owner_gone(self) -> bool:
        """The vcluster Service owned this process's host objects and is gone now (`helm uninstall` deletes it, then
        the garbage collector the copies): a create would leave an orphan no collector ever takes. A Service never
        seen (vcsync run without one; `_note_owner` records sightings) is not gone: objects are made without owner.
        """
        return self._owner_seen and self.config.set_owner and self.vcluster_service() is None

    # ---- lifecycle ---------------------------------------------------------------------------------------------
    @property
    def ready(self) -> bool:
        """Leader (or single replica): every initial key processed once. Standby: caches synced."""
        if self.leader is not None and not self.leader.is_leader():
            return self.caches_synced.is_set()
        return self.initial_sync_done.is_set()

    async def run(self) -> None:
        """Run until cancelled; raises LeadershipLost or StartupTimeout."""
        self._started = time.monotonic()
        self._tasks = [asyncio.create_task(r.run(), name=f"reflector-{r.res.plural}") for r in self._reflectors]
        self._tasks.append(asyncio.create_task(self._wait_for_caches(), name="caches"))
        self._tasks.append(asyncio.create_task(self._lead(), name="leader"))
        early = [c for c in self.controllers if isinstance(c, Controller)]
        starts = [asyncio.create_task(self._start_early(c), name=f"start-{c.name}") for c in early]
        late = [c for c in self.controllers if c not in early]
        self._tasks += [*starts, asyncio.create_task(self._start_late(late, starts), name="start-components")]
        self._tasks.append(asyncio.create_task(self._mark_ready(), name="readiness"))
        await asyncio.gather(*self._tasks)

    async def _wait_for_caches(self) -> None:
        try:
            async with asyncio.timeout(CACHE_SYNC_TIMEOUT):
                await asyncio.gather(*(r.synced.wait() for r in self._reflectors))
        except TimeoutError as e:
            raise StartupTimeout(f"caches did not sync within {CACHE_SYNC_TIMEOUT // 60} minutes") from e
        self.caches_synced.set()
        slowest = sorted(self._reflectors, key=lambda r: r.list_seconds, reverse=True)[:3]
        log.info(
            "caches synced",
            seconds=self._elapsed(),
            stores={f"{side}/{res.plural}": len(s) for (side, res), s in self._stores.items()},
            slowest_lists={f"{r.api.cluster}/{r.store.kind}": round(r.list_seconds, 2) for r in slowest},
        )

    async def _lead(self) -> None:
        """Take the lease (a standby waits here with its caches filling), then keep it. Without leader election
        this process leads at once."""
        if self.leader is None:
            self._leading.set()
            return
        await self.leader.acquire()
        self._leading.set()
        await self.leader.keep()

    async def _start_early(self, controller: Controller) -> None:
        """A kind's controller starts once leading and the stores it reads are filled, not after every LIST: a kind
        whose cache cannot fill (a resource the identity may not list) holds back no other kind. (On 2 cores a
        restart is not faster for it: the early initial passes take CPU the remaining LISTs' decoding needed.)"""
        await asyncio.gather(*(self._filled[store].wait() for store in controller.stores_read()))
        await self._leading.wait()
        self._start(controller)

    async def _start_late(self, components: list[Any], early: list[asyncio.Task[None]]) -> None:
        """The engine components (fake nodes, event sync, ...) start, in order, once every store is filled and
        every controller started: they read across kinds (event sync uses the controllers' host-name indexes)."""
        await self.caches_synced.wait()
        await asyncio.gather(*early)
        for component in components:
            self._start(component)

    def _start(self, component: Any) -> None:
        component.wire()
        self._workers += component.start()
        self._started_at[component.name] = self._elapsed()

    async def _mark_ready(self) -> None:
        await asyncio.gather(*(c.initial_done.wait() for c in self.controllers))
        self.initial_sync_done.set()
        log.info("initial sync done", seconds=self._elapsed(), started=self._started_at)

    def _elapsed(self) -> float:
        return round(time.monotonic() - self._started, 2)

    async def shutdown(self, timeout: float) -> None:
        """Stop dequeuing, let in-flight reconciles finish within `timeout`, release the lease."""
        for controller in self.controllers:
            controller.queue.shutdown()
        if self._workers:
            await asyncio.wait(self._workers, timeout=timeout)
        for task in [*self._workers, *self._tasks]:
            task.cancel()
        for task in [*self._workers, *self._tasks]:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self.leader is not None:
            await self.leader.release()
