"""A key whose write was refused at the leader gate (a late lease renewal) is tried again, not dropped: the
leader that renews in the end must still sync the change. Nor may a failing report of a refusal drop the key or
kill the worker (both happened in the chaos runs)."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

from syncer.kube.api import NotLeader
from syncer.worker import KeyedWorker, SyncFailure


class _FailsOnce(KeyedWorker):
    """Its first reconcile raises `first`; the next one syncs."""

    def __init__(self, first: Exception, engine: object = None) -> None:
        super().__init__("gate-test", engine=engine, workers=1)
        self.first, self.calls, self.synced = first, 0, asyncio.Event()

    def event_object(self, key: str) -> dict:
        return {"metadata": {"name": "c", "namespace": "ns"}}

    async def reconcile(self, key: str) -> str:
        self.calls += 1
        if self.calls == 1:
            raise self.first
        self.synced.set()
        return "changed"


async def _synced(worker: _FailsOnce) -> list[asyncio.Task[None]]:
    """Run the worker on one key until it synced; returns its (still running) tasks, then stops them."""
    tasks = worker.start_workers(["ns/c"])
    try:
        await asyncio.wait_for(worker.synced.wait(), 5)
        return [task for task in tasks if not task.done()]
    finally:
        worker.queue.shutdown()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def test_a_key_refused_at_the_leader_gate_is_synced_once_the_lease_is_renewed():
    worker = _FailsOnce(NotLeader("lease renewal late"))
    await _synced(worker)
    assert worker.calls == 2


class _Recorder:
    """A recorder whose event write is refused at the leader gate, as the real one's was before it caught that."""

    async def warn(self, *args: object) -> None:
        raise NotLeader("lease renewal late")


async def test_a_refusal_whose_report_fails_is_still_retried_and_the_worker_lives_on():
    engine = SimpleNamespace(recorder=_Recorder(), config=SimpleNamespace(target_namespace="t"))
    worker = _FailsOnce(SyncFailure(None, "object is changing too often; pausing its sync"), engine)
    assert len(await _synced(worker)) == 1  # its one worker still alive when the key synced
