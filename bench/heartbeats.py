"""Fake-node heartbeats are the only periodic writes SPEC §9.5 allows, so restart and idle write counts subtract
them: virtual watches on the fake nodes and their Leases time-stamp every heartbeat write, and counter snapshots are
taken only at moments with no heartbeat in flight, so each heartbeat falls cleanly inside or outside a window.
Heartbeats never touch the host, so host writes are reported as they are (and bench pods mount no tokens)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from bench.kube import Http, Obj, path
from bench.watch import Watcher, meta

FAKE_NODE_LABEL = "vcluster.loft.sh/fake-node=true"
NODE_LEASE_NAMESPACE = "kube-node-lease"
GUARD = 0.25  # longer than a write's acknowledgement-to-watch-delivery time on this machine
T = TypeVar("T")


@dataclass(frozen=True)
class Snapshot(Generic[T]):
    value: T
    start: float
    end: float


def _renewed(obj: Obj) -> str:
    return (obj.get("spec") or {}).get("renewTime") or ""


def _beat(obj: Obj) -> str:
    conditions = (obj.get("status") or {}).get("conditions") or []
    return max((c.get("lastHeartbeatTime") or "" for c in conditions), default="")


class Heartbeats:
    def __init__(self, virtual: Http) -> None:
        self.times: list[float] = []
        self._last: dict[tuple[str, str], str] = {}  # (lease|node, name) -> its last heartbeat stamp
        self.watchers = [
            Watcher(virtual, path("leases", NODE_LEASE_NAMESPACE, group="coordination.k8s.io/v1")).on(
                self._observer("lease", _renewed)
            ),
            Watcher(virtual, path("nodes"), labels=FAKE_NODE_LABEL).on(self._observer("node", _beat)),
        ]

    def _observer(self, kind: str, stamp: Callable[[Obj], str]) -> Callable[[str, Obj, float], None]:
        def observe(event: str, obj: Obj, at: float) -> None:
            key = (kind, meta(obj)["name"])
            if event == "DELETED":
                self._last.pop(key, None)
                return
            previous, now = self._last.get(key), stamp(obj)
            self._last[key] = now
            if event == "MODIFIED" and previous is not None and now != previous:
                self.times.append(at)  # a renewal or condition heartbeat, not a creation

        return observe

    async def start(self) -> Heartbeats:
        for watcher in self.watchers:
            await watcher.start()
        return self

    async def stop(self) -> None:
        for watcher in self.watchers:
            await watcher.stop()

    def complete(self) -> bool:
        """Every fake node has its Lease: vcsync creates it shortly after the node, as part of making the node (not
        a heartbeat), so a restart before that would rightly count the Lease's creation as a write."""
        nodes = {name for kind, name in self._last if kind == "node"}
        return nodes <= {name for kind, name in self._last if kind == "lease"}

    def between(self, start: float, end: float) -> int:
        """Heartbeat writes delivered in (start, end]."""
        return sum(1 for t in self.times if start < t <= end)

    async def snapshot(self, read: Callable[[], Awaitable[T]], timeout: float = 30) -> Snapshot[T]:
        """`read()` at a moment no heartbeat write is in flight: retried while one is delivered within GUARD of it."""
        deadline = time.monotonic() + timeout
        while True:
            for watcher in self.watchers:
                watcher.check()
            start = time.monotonic()
            value = await read()
            end = time.monotonic()
            await asyncio.sleep(GUARD)  # lets the event of a heartbeat acknowledged during the read arrive
            if not self.between(start - GUARD, end + GUARD) or time.monotonic() > deadline:
                return Snapshot(value, start, end)
