"""A key whose write was refused at the leader gate (a late lease renewal) is tried again, not dropped: the
leader that renews in the end must still sync the change. Nor may a failing report of a refusal drop the key or
kill the worker (both happened in the chaos runs)."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

from syncer.kube.api import NotLeader
from syncer.worker import KeyedWorker, SyncFailure


class _GateOnce(KeyedWorker):
    def __init__(self) -> None:
        super().__init__("gate-test", engine=None, workers=1)
        self.calls = 0
        self.synced = asyncio.Event()

    async def reconcile(self, key: str) -> str:
        self.calls += 1
        if self.calls == 1:
            raise NotLeader("lease renewal late")
        self.synced.set()
        return "changed"


async def test_a_key_refused_at_the_leader_gate_is_synced_once_the_lease_is_renewed():
    worker = _GateOnce()
    tasks = worker.start_workers(["ns/name"])
    try:
        await asyncio.wait_for(worker.synced.wait(), 5)
    finally:
        worker.queue.shutdown()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    assert worker.calls == 2


class _Recorder:
    """A recorder whose event write is refused at the leader gate, as the real one's was before it caught that."""

    async def warn(self, *args: object) -> None:
        raise NotLeader("lease renewal late")


class _RefusedThenSynced(KeyedWorker):
    def __init__(self) -> None:
        engine = SimpleNamespace(recorder=_Recorder(), config=SimpleNamespace(target_namespace="t"))
        super().__init__("report-test", engine=engine, workers=1)
        self.calls = 0
        self.synced = asyncio.Event()

    def event_object(self, key: str) -> dict:
        return {"metadata": {"name": "c", "namespace": "ns"}}

    async def reconcile(self, key: str) -> str:
        self.calls += 1
        if self.calls == 1:
            raise SyncFailure(None, "object is changing too often; pausing its sync")
        self.synced.set()
        return "changed"


async def test_a_refusal_whose_report_fails_is_still_retried_and_the_worker_lives_on():
    worker = _RefusedThenSynced()
    tasks = worker.start_workers(["ns/c"])
    try:
        await asyncio.wait_for(worker.synced.wait(), 5)
        assert not any(task.done() for task in tasks)
    finally:
        worker.queue.shutdown()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
