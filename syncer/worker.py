"""What every controller shares: a work queue with N workers, one key at a time, and the failure policy of
SPEC §9.4 and §12 (409 -> retry in 1 s, 429 -> Retry-After, 422/403 -> event + backoff, bugs -> "internal error" +
backoff, a write refused at the leader gate -> retry in 1 s), the flap guard, the metrics, and readiness once every
initial key was processed once."""

from __future__ import annotations

import asyncio
import contextlib
import time
import traceback
from collections.abc import Iterable, Iterator
from typing import Any

from syncer import metrics
from syncer.events import SYNC_ERROR, SYNC_WARNING
from syncer.kube.api import ApiError, NotLeader
from syncer.log import get_logger
from syncer.workqueue import FlapGuard, QueueShutDown, WorkQueue
from translators.kind import Obj
from vocab.scrub import scrub

log = get_logger("controller")
NOT_LEADER_RETRY = 1.0  # seconds: a key refused at the leader gate is tried again after this
CONFLICT_RETRY = 1.0  # seconds before a key that met 409 Conflict is reconciled again (SPEC §9.4)
THROTTLED_RETRY, THROTTLED_RETRY_MAX = 5.0, 60.0  # seconds after a 429 without / with a Retry-After (capped)


class SyncFailure(Exception):
    """A failure the tenant is told about: `reason` is the metric label, `message` goes into the event."""

    def __init__(self, reason: str | None, message: str, event: str = SYNC_ERROR) -> None:
        super().__init__(message)
        self.reason, self.message, self.event = reason, message, event


class KeyedWorker:
    """Subclasses implement `reconcile(key) -> result`, `event_object(key)` and `fields(key, action)`."""

    def __init__(self, name: str, engine: Any, workers: int, direction: str = "to_host") -> None:
        self.name = name
        self.engine = engine
        self.workers = workers
        self.direction = direction
        self.queue = WorkQueue(name, metrics.QueueMetrics())
        self.flap = FlapGuard()
        self._observed: dict[str, float] = {}
        self._due: dict[str, float] = {}  # key -> when its retry after a 409 or a 429 is due
        self._initial: set[str] = set()
        self.initial_done = asyncio.Event()

    async def reconcile(self, key: str) -> str:
        raise NotImplementedError

    def event_object(self, key: str) -> Obj | None:
        return None

    def fields(self, key: str, action: str) -> dict[str, Any]:
        return {"kind": self.name, "key": key, "action": action}

    def enqueue(self, key: str) -> None:
        self._observed.setdefault(key, time.monotonic())
        self.queue.add(key)

    def start_workers(self, initial: Iterable[str]) -> list[asyncio.Task[None]]:
        self._initial = set(initial)
        for key in self._initial:
            self.queue.add(key)
        if not self._initial:
            self.initial_done.set()
        return [asyncio.create_task(self._worker(), name=f"{self.name}-worker-{i}") for i in range(self.workers)]

    def written(self) -> str:
        return "dry_run" if self.engine.host_api.dry_run else "changed"

    # ---- workers -------------------------------------------------------------------------------------------
    async def _worker(self) -> None:
        while True:
            try:
                key = await self.queue.get()
            except QueueShutDown:
                return
            try:
                await self._process(key)
            except Exception:  # a worker that dies would strand its kind's keys for good
                log.error("worker error", **self.fields(key, "skip"), error=traceback.format_exc())
                self.queue.add_rate_limited(key)
            finally:
                self.queue.done(key)
                self._initial.discard(key)
                if not self._initial:
                    self.initial_done.set()

    async def _process(self, key: str) -> None:
        if self._held_until_due(key):
            return
        started = time.monotonic()
        result = "error"
        try:
            result = await self.reconcile(key)
            self.queue.forget(key)
            observed = self._observed.pop(key, None)
            if result == "changed" and observed is not None:
                metrics.SYNC_LATENCY.labels(self.name, self.direction).observe(time.monotonic() - observed)
        except NotLeader:
            # the lease's renewal is late (an API server or etcd restart): writes wait at the gate. If the lease is
            # lost the process exits and the next leader starts from scratch; if it is renewed, the key must not be
            # dropped, or its change would wait for the next resync
            result = "error"
            self.queue.add_after(key, NOT_LEADER_RETRY)
        except SyncFailure as e:
            result = "conflict" if e.reason == "unmanaged_conflict" else "error"
            self.queue.add_rate_limited(key)  # first: whatever happens while reporting, the key is retried
            await self._report(key, e)
        except ApiError as e:
            result = await self._handle_api_error(key, e)
        except (OSError, TimeoutError) as e:
            log.warning("sync failed", **self.fields(key, "skip"), error=str(e) or type(e).__name__)
            self.queue.add_rate_limited(key)
        except Exception:  # a bug must not kill the worker: report it without details, back off
            log.error("internal error", **self.fields(key, "skip"), error=traceback.format_exc())
            self.queue.add_rate_limited(key)
            await self._report(key, SyncFailure("internal", "internal error"))
        finally:
            metrics.SYNC_TOTAL.labels(self.name, self.direction, result).inc()
            metrics.RECONCILE_DURATION.labels(self.name).observe(time.monotonic() - started)

    def _held_until_due(self, key: str) -> bool:
        """A key that met 409 waits its retry delay even when watch events queue it sooner: its cache was behind,
        and under a host writing the object in a loop each event would retry against a cache still behind — a
        hot loop as fast as that writer, spending the host request budget. A key that met 429 waits the
        Retry-After it was given, however often the tenant changes it meanwhile. The events are folded into the
        retry."""
        due = self._due.get(key)
        if due is None:
            return False
        wait = due - time.monotonic()
        if wait > 0.001:
            self.queue.add_after(key, wait)
            return True
        del self._due[key]
        return False

    def _retry_no_sooner(self, key: str, delay: float) -> None:
        self._due[key] = time.monotonic() + delay
        self.queue.add_after(key, delay)

    async def _handle_api_error(self, key: str, e: ApiError) -> str:
        if e.status == 409:
            self._retry_no_sooner(key, CONFLICT_RETRY)
            return "conflict"
        if e.status == 429:
            delay = min(e.retry_after or THROTTLED_RETRY, THROTTLED_RETRY_MAX)
            log.info("throttled; retrying", **self.fields(key, "retry"), retry_in_s=delay)  # logged as the wait starts
            self._retry_no_sooner(key, delay)
            return "error"
        reason = {422: "invalid", 403: "quota" if "exceeded quota" in e.message else "host_rejected"}.get(e.status)
        self.queue.add_rate_limited(key)
        if reason:
            await self._report(key, SyncFailure(reason, e.message))
        else:
            log.warning("sync failed", **self.fields(key, "skip"), error=str(e))
        return "error"

    async def _report(self, key: str, failure: SyncFailure) -> None:
        if failure.reason:
            metrics.SYNC_ERRORS.labels(self.name, failure.reason).inc()
        log.warning("sync refused", **self.fields(key, "event"), reason=failure.reason, error=failure.message)
        vobj = self.event_object(key)
        if vobj is not None:
            fields = self.fields(key, "event")
            message = scrub(
                failure.message,
                fields.get("host_name", ""),
                vobj["metadata"]["name"],
                self.engine.config.target_namespace,
            )
            await self.engine.recorder.warn(vobj, failure.event, message)

    @contextlib.contextmanager
    def flap_guarded(self, key: str, channel: str = "") -> Iterator[None]:
        """Around one write: refuse it when it would be the 6th of the same kind (`channel`: side, verb,
        subresource) to this key within a minute — a loop repeats one write, while a pod's life cycle is several
        different ones. Only writes that succeed count: a write the host keeps refusing is no loop of ours, and the
        tenant is told the host's reason, with backoff."""
        flap_key = f"{key}|{channel}"
        if self.flap.is_flapping(flap_key):
            metrics.FLAPPING.labels(self.name).inc()
            raise SyncFailure(None, "object is changing too often; pausing its sync", event=SYNC_WARNING)
        yield
        self.flap.record_write(flap_key)
