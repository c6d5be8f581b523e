"""A key answered 429 is reconciled again after the Retry-After it was given (5 s without one, 60 s at most), and
watch events meanwhile do not bring that forward; the refusal and its delay are logged."""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest
from structlog.testing import capture_logs

from syncer.kube.api import ApiError
from syncer.worker import THROTTLED_RETRY, THROTTLED_RETRY_MAX, KeyedWorker


class Throttled(KeyedWorker):
    def __init__(self, retry_after: float | None) -> None:
        super().__init__("configmaps", SimpleNamespace(), workers=1)
        self.calls, self.retry_after = 0, retry_after

    async def reconcile(self, key: str) -> str:
        self.calls += 1
        raise ApiError(429, "TooManyRequests", "Too many requests, please try again later.", self.retry_after)


@pytest.mark.parametrize(("retry_after", "delay"), [(7.0, 7.0), (None, THROTTLED_RETRY), (600.0, THROTTLED_RETRY_MAX)])
async def test_the_retry_waits_the_retry_after(retry_after: float | None, delay: float) -> None:
    worker = Throttled(retry_after)
    with capture_logs() as logged:
        await worker._process("ns/cfg")
    assert delay - 0.5 < worker._due["ns/cfg"] - time.monotonic() <= delay
    assert [(ln["event"], ln["key"], ln["retry_in_s"]) for ln in logged] == [("throttled; retrying", "ns/cfg", delay)]


async def test_watch_events_during_the_retry_after_do_not_retry_sooner() -> None:
    worker = Throttled(3.0)
    await worker._process("ns/cfg")
    for _ in range(3):  # the tenant keeps changing the object: its watch events queue the key again at once
        worker.queue.add("ns/cfg")
        key = await worker.queue.get()
        await worker._process(key)
        worker.queue.done(key)
    assert worker.calls == 1
    worker._due["ns/cfg"] = time.monotonic()  # as if the Retry-After had passed
    await worker._process("ns/cfg")
    assert worker.calls == 2
