"""A key that met 409 Conflict is reconciled again after 1 s (SPEC §9.4), and watch events meanwhile do not bring
that forward: they would retry against the cache that was behind, as fast as whoever keeps writing the object."""

from __future__ import annotations

import time
from types import SimpleNamespace

from syncer.kube.api import ApiError
from syncer.worker import CONFLICT_RETRY, KeyedWorker


class Conflicted(KeyedWorker):
    def __init__(self) -> None:
        super().__init__("configmaps", SimpleNamespace(), workers=1)
        self.calls = 0

    async def reconcile(self, key: str) -> str:
        self.calls += 1
        raise ApiError(409, "Conflict", "the object has been modified; please apply your changes to the latest version")


async def test_watch_events_during_the_conflict_delay_do_not_retry_sooner() -> None:
    worker = Conflicted()
    await worker._process("ns/cfg")
    for _ in range(3):  # the other writer's watch events queue the key again at once
        worker.queue.add("ns/cfg")
        key = await worker.queue.get()
        await worker._process(key)
        worker.queue.done(key)
    assert worker.calls == 1


async def test_the_key_is_reconciled_once_the_delay_is_over() -> None:
    worker = Conflicted()
    await worker._process("ns/cfg")
    assert worker._due["ns/cfg"] - time.monotonic() > CONFLICT_RETRY - 0.5
    worker._due["ns/cfg"] = time.monotonic()  # as if the second had passed
    await worker._process("ns/cfg")
    assert worker.calls == 2
