"""Leader election on a coordination.k8s.io Lease in the own namespace (SPEC §9.6-9.7). Only the leader writes:
`check()` is the write gate and refuses unless the last renewal is younger than the renew deadline, so a replica
that lost contact stops writing before anyone else can take over. Expiry is judged from when this replica
*observed* the lease record, never from the other replica's clock."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from typing import Any

from syncer import metrics
from syncer.kube.api import ApiError, KubeApi, NotLeader
from syncer.log import get_logger
from vocab.resources import LEASES

log = get_logger("leader")


class LeadershipLost(Exception):
    pass


def _micro_time() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class LeaderElector:
    def __init__(
        self,
        api: KubeApi,
        namespace: str,
        name: str,
        identity: str,
        *,
        lease_duration: float,
        renew_deadline: float,
        retry_period: float,
    ) -> None:
        self.api, self.namespace, self.name, self.identity = api, namespace, name, identity
        self.lease_duration, self.renew_deadline, self.retry_period = lease_duration, renew_deadline, retry_period
        self._last_renew = float("-inf")
        self._observed: tuple[Any, ...] | None = None
        self._observed_at = 0.0

    def is_leader(self) -> bool:
        return time.monotonic() - self._last_renew < self.renew_deadline

    def check(self) -> None:
        if not self.is_leader():
            raise NotLeader(f"{self.identity} does not hold lease {self.namespace}/{self.name}")

    async def acquire(self) -> None:
        """Return once this replica holds the lease; standbys wait here."""
        log.info("waiting for leadership", lease=f"{self.namespace}/{self.name}", identity=self.identity)
        while not await self._try_take():  # noqa: ASYNC110 - polling the lease is the protocol
            await asyncio.sleep(self.retry_period)
        log.info("became leader", lease=f"{self.namespace}/{self.name}", identity=self.identity)

    async def keep(self) -> None:
        """Renew every retry period; raise LeadershipLost once renewal has failed for the renew deadline."""
        while True:
            await asyncio.sleep(self.retry_period)
            renewed = await self._try_take()
            if not renewed and not self.is_leader():
                metrics.LEADER.set(0)
                log.error("lost leadership", lease=f"{self.namespace}/{self.name}", identity=self.identity)
                raise LeadershipLost(f"lease {self.namespace}/{self.name} lost")

    async def release(self) -> None:
        """Hand the lease back on clean shutdown so a standby takes over at once."""
        if not self.is_leader():
            return
        lease = await self.api.get(LEASES, self.namespace, self.name)
        if lease is None or lease["spec"].get("holderIdentity") != self.identity:
            return
        lease["spec"].update({"holderIdentity": None, "leaseDurationSeconds": 1, "renewTime": _micro_time()})
        try:
            await self.api.replace(LEASES, self.namespace, self.name, lease)
        except ApiError as e:
            log.warning("could not release lease", error=str(e))
        self._last_renew = float("-inf")
        metrics.LEADER.set(0)

    async def _try_take(self) -> bool:
        try:
            taken = await self._take()
        except (ApiError, OSError, TimeoutError) as e:
            log.warning("lease update failed", error=str(e) or type(e).__name__)
            return False
        if taken:
            self._last_renew = time.monotonic()
            metrics.LEADER.set(1)
        return taken

    async def _take(self) -> bool:
        lease = await self.api.get(LEASES, self.namespace, self.name)
        now = _micro_time()
        if lease is None:
            await self.api.create(LEASES, self.namespace, self._lease(now, now, 0))
            return True
        spec = lease.get("spec") or {}
        holder = spec.get("holderIdentity")
        if holder and holder != self.identity and not self._expired(spec):
            return False
        if holder == self.identity:
            spec.update(renewTime=now, leaseDurationSeconds=int(self.lease_duration))
        else:
            spec = self._lease(now, now, int(spec.get("leaseTransitions") or 0) + 1)["spec"]
        lease["spec"] = spec
        await self.api.replace(LEASES, self.namespace, self.name, lease)  # resourceVersion guards the race
        return True

    def _expired(self, spec: dict[str, Any]) -> bool:
        record = (spec.get("holderIdentity"), spec.get("renewTime"), spec.get("leaseDurationSeconds"))
        if record != self._observed:
            self._observed, self._observed_at = record, time.monotonic()
            return False
        duration = spec.get("leaseDurationSeconds") or self.lease_duration
        return time.monotonic() - self._observed_at > duration

    def _lease(self, acquire: str, renew: str, transitions: int) -> dict[str, Any]:
        return {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": self.name, "namespace": self.namespace},
            "spec": {
                "holderIdentity": self.identity,
                "leaseDurationSeconds": int(self.lease_duration),
                "acquireTime": acquire,
                "renewTime": renew,
                "leaseTransitions": transitions,
            },
        }
