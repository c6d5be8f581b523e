"""Work queue and flap guard behaviour the engine relies on (SPEC §9.4, §9.5). Rate-limit arithmetic uses a bucket on
a fake clock; the few real-time tests use delays of at most 0.2 s and only assert ordering or loose lower bounds."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable

import pytest

from syncer.ratelimit import TokenBucket
from syncer.workqueue import FlapGuard, QueueShutDown, WorkQueue

WAIT = 5.0  # generous ceiling for anything that should happen "soon"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class RecordingMetrics:
    def __init__(self) -> None:
        self.depth: Callable[[], int] = lambda: -1
        self.retries = 0

    def watch_depth(self, name: str, depth: Callable[[], int]) -> None:
        assert name == "pods"
        self.depth = depth

    def on_retry(self, name: str) -> None:
        assert name == "pods"
        self.retries += 1


def roomy_bucket() -> TokenBucket:
    """An overall bucket that never gets in the way, so per-item backoff shows alone."""
    return TokenBucket(rate=1000, burst=10_000, clock=FakeClock())


@pytest.fixture
async def queue() -> AsyncIterator[WorkQueue]:
    q = WorkQueue("pods", overall=roomy_bucket())
    yield q
    q.shutdown()


async def get_soon(q: WorkQueue) -> str:
    return await asyncio.wait_for(q.get(), timeout=WAIT)


async def nothing_ready(q: WorkQueue, within: float = 0.02) -> bool:
    try:
        key = await asyncio.wait_for(q.get(), timeout=within)
    except TimeoutError:
        return True
    q.done(key)
    return False


async def test_key_added_twice_is_processed_once(queue: WorkQueue) -> None:
    queue.add("default/a")
    queue.add("default/a")
    assert len(queue) == 1
    assert await get_soon(queue) == "default/a"
    queue.done("default/a")
    assert await nothing_ready(queue)


async def test_ready_keys_come_out_in_order_added(queue: WorkQueue) -> None:
    for key in ("ns/c", "ns/a", "ns/b", "ns/a"):
        queue.add(key)
    assert [await get_soon(queue) for _ in range(3)] == ["ns/c", "ns/a", "ns/b"]


async def test_len_counts_only_queued_keys(queue: WorkQueue) -> None:
    queue.add("ns/a")
    queue.add("ns/b")
    await get_soon(queue)
    assert len(queue) == 1


async def test_key_readded_during_processing_runs_again_after_done(queue: WorkQueue) -> None:
    queue.add("ns/a")
    key = await get_soon(queue)
    queue.add("ns/a")
    queue.add("ns/a")
    assert len(queue) == 0
    assert await nothing_ready(queue)
    queue.done(key)
    assert await get_soon(queue) == "ns/a"
    queue.done("ns/a")
    assert await nothing_ready(queue)


async def test_done_without_readd_does_not_requeue(queue: WorkQueue) -> None:
    queue.add("ns/a")
    queue.done(await get_soon(queue))
    assert len(queue) == 0


async def test_get_waits_until_a_key_is_added(queue: WorkQueue) -> None:
    getter = asyncio.create_task(queue.get())
    await asyncio.sleep(0.01)
    assert not getter.done()
    queue.add("ns/a")
    assert await asyncio.wait_for(getter, timeout=WAIT) == "ns/a"


async def test_same_key_never_processed_concurrently(queue: WorkQueue) -> None:
    in_flight: set[str] = set()
    processed: list[str] = []
    overlaps: list[str] = []

    async def worker() -> None:
        while True:
            try:
                key = await queue.get()
            except QueueShutDown:
                return
            if key in in_flight:
                overlaps.append(key)
            in_flight.add(key)
            await asyncio.sleep(0.001)
            if processed.count(key) < 2:
                queue.add(key)  # a watch event arriving mid-reconcile, while other workers sit idle
            in_flight.discard(key)
            processed.append(key)
            queue.done(key)

    keys = [f"ns/k{i}" for i in range(5)]
    for key in keys:
        queue.add(key)
    workers = [asyncio.create_task(worker()) for _ in range(10)]
    for _ in range(500):
        if len(processed) == 15:
            break
        await asyncio.sleep(0.01)
    queue.shutdown()
    await asyncio.wait_for(asyncio.gather(*workers), timeout=WAIT)
    assert not overlaps
    assert sorted(processed) == sorted(keys * 3)


async def test_cancelled_waiter_passes_its_wakeup_to_the_next(queue: WorkQueue) -> None:
    first = asyncio.create_task(queue.get())
    second = asyncio.create_task(queue.get())
    await asyncio.sleep(0)
    queue.add("ns/a")
    first.cancel()
    assert await asyncio.wait_for(second, timeout=WAIT) == "ns/a"
    with pytest.raises(asyncio.CancelledError):
        await first


async def test_add_after_delivers_after_delay(queue: WorkQueue) -> None:
    started = time.monotonic()
    queue.add_after("ns/a", 0.1)
    assert len(queue) == 0
    assert await get_soon(queue) == "ns/a"
    assert time.monotonic() - started >= 0.08


async def test_add_after_with_no_delay_adds_now(queue: WorkQueue) -> None:
    queue.add_after("ns/a", 0)
    assert len(queue) == 1


async def test_add_after_keeps_earlier_time_when_later_one_comes(queue: WorkQueue) -> None:
    queue.add_after("ns/a", 0.05)
    queue.add_after("ns/a", 30)
    assert await get_soon(queue) == "ns/a"
    queue.done("ns/a")
    assert await nothing_ready(queue, within=0.1)


async def test_add_after_moves_key_earlier_when_earlier_one_comes(queue: WorkQueue) -> None:
    queue.add_after("ns/a", 30)
    queue.add_after("ns/a", 0.05)
    assert await get_soon(queue) == "ns/a"
    queue.done("ns/a")
    assert await nothing_ready(queue, within=0.1)


async def test_timed_keys_arrive_in_due_order(queue: WorkQueue) -> None:
    queue.add_after("ns/late", 0.15)
    queue.add_after("ns/early", 0.05)
    queue.add_after("ns/middle", 0.1)
    assert [await get_soon(queue) for _ in range(3)] == ["ns/early", "ns/middle", "ns/late"]


async def test_many_timed_keys_are_each_delivered_once(queue: WorkQueue) -> None:
    keys = [f"ns/k{i}" for i in range(10_000)]
    for i, key in enumerate(keys):
        queue.add_after(key, 0.01 + (i % 20) * 0.005)
        queue.add_after(key, 0.2)
    received = [await get_soon(queue) for _ in keys]
    assert sorted(received) == sorted(keys)
    assert await nothing_ready(queue)


async def test_rate_limited_delay_doubles_and_caps() -> None:
    q = WorkQueue("pods", base_delay=0.005, max_delay=0.04, overall=roomy_bucket())
    assert [q.add_rate_limited("ns/a") for _ in range(6)] == pytest.approx([0.005, 0.01, 0.02, 0.04, 0.04, 0.04])
    q.shutdown()


async def test_default_rate_limit_starts_at_5ms_and_caps_at_300s(queue: WorkQueue) -> None:
    delays = [queue.add_rate_limited("ns/a") for _ in range(20)]
    assert delays[0] == pytest.approx(0.005)
    assert delays[1] == pytest.approx(0.01)
    assert delays[-1] == 300.0


async def test_backoff_is_tracked_per_key(queue: WorkQueue) -> None:
    queue.add_rate_limited("ns/a")
    queue.add_rate_limited("ns/a")
    assert queue.add_rate_limited("ns/b") == pytest.approx(0.005)


async def test_forget_resets_backoff(queue: WorkQueue) -> None:
    for _ in range(4):
        queue.add_rate_limited("ns/a")
    queue.forget("ns/a")
    assert queue.num_requeues("ns/a") == 0
    assert queue.add_rate_limited("ns/a") == pytest.approx(0.005)


async def test_num_requeues_counts_rate_limited_adds(queue: WorkQueue) -> None:
    assert queue.num_requeues("ns/a") == 0
    for _ in range(3):
        queue.add_rate_limited("ns/a")
    queue.add("ns/a")
    queue.add_after("ns/a", 1)
    assert queue.num_requeues("ns/a") == 3


async def test_rate_limited_key_is_requeued_after_its_delay(queue: WorkQueue) -> None:
    queue.add_rate_limited("ns/a")
    assert await get_soon(queue) == "ns/a"


async def test_overall_bucket_limits_burst_of_readds() -> None:
    clock = FakeClock()
    q = WorkQueue("pods", overall=TokenBucket(rate=10, burst=3, clock=clock))
    delays = [q.add_rate_limited(f"ns/k{i}") for i in range(6)]
    assert delays == pytest.approx([0.005, 0.005, 0.005, 0.1, 0.2, 0.3])
    clock.advance(10)
    assert q.add_rate_limited("ns/fresh") == pytest.approx(0.005)
    q.shutdown()


async def test_rate_limited_delay_is_larger_of_item_and_overall() -> None:
    q = WorkQueue("pods", base_delay=1.0, max_delay=100.0, overall=TokenBucket(rate=2, burst=1, clock=FakeClock()))
    delays = [q.add_rate_limited(f"ns/k{i}") for i in range(4)]
    assert delays == pytest.approx([1.0, 1.0, 1.0, 1.5])  # bucket waits 0, 0.5, 1.0, 1.5; each key's own is 1.0
    q.shutdown()


async def test_shutdown_wakes_waiting_workers(queue: WorkQueue) -> None:
    getters = [asyncio.create_task(queue.get()) for _ in range(3)]
    await asyncio.sleep(0.01)
    queue.shutdown()
    results = await asyncio.wait_for(asyncio.gather(*getters, return_exceptions=True), timeout=WAIT)
    assert all(isinstance(result, QueueShutDown) for result in results)
    assert queue.shutting_down


async def test_shutdown_stops_dequeuing_at_once_even_with_keys_queued(queue: WorkQueue) -> None:
    queue.add("ns/a")
    queue.add_after("ns/b", 0.01)
    queue.shutdown()
    assert len(queue) == 0
    with pytest.raises(QueueShutDown):
        await queue.get()


async def test_adds_after_shutdown_are_ignored(queue: WorkQueue) -> None:
    queue.shutdown()
    queue.add("ns/a")
    queue.add_after("ns/b", 0.01)
    queue.add_rate_limited("ns/c")
    await asyncio.sleep(0.05)
    assert len(queue) == 0


async def test_in_flight_key_can_be_finished_after_shutdown(queue: WorkQueue) -> None:
    queue.add("ns/a")
    key = await get_soon(queue)
    queue.add("ns/a")
    queue.shutdown()
    queue.done(key)
    assert len(queue) == 0


async def test_metrics_hook_sees_depth_and_retries() -> None:
    metrics = RecordingMetrics()
    q = WorkQueue("pods", metrics, overall=roomy_bucket())
    depths = [metrics.depth()]
    q.add("ns/a")
    depths.append(metrics.depth())
    q.add("ns/b")
    depths.append(metrics.depth())
    await get_soon(q)
    depths.append(metrics.depth())
    q.add_rate_limited("ns/c")
    q.add_rate_limited("ns/c")
    q.shutdown()
    assert [*depths, metrics.depth()] == [0, 1, 2, 1, 0]
    assert metrics.retries == 2


async def test_queue_works_without_metrics_hook(queue: WorkQueue) -> None:
    queue.add("ns/a")
    queue.add_rate_limited("ns/b")
    assert await get_soon(queue) == "ns/a"


def test_flap_guard_trips_after_more_than_limit_writes_in_window() -> None:
    clock = FakeClock()
    guard = FlapGuard(limit=5, window=60.0, clock=clock)
    verdicts = []
    for _ in range(6):
        verdicts.append(guard.record_write("ns/a"))
        clock.advance(5)
    assert verdicts == [False] * 5 + [True]


def test_flap_guard_ignores_writes_outside_window() -> None:
    clock = FakeClock()
    guard = FlapGuard(limit=5, window=60.0, clock=clock)
    verdicts = []
    for _ in range(20):
        verdicts.append(guard.record_write("ns/a"))
        clock.advance(12.5)  # five writes per minute, never more
    assert not any(verdicts)


def test_flap_guard_counts_keys_separately() -> None:
    guard = FlapGuard(limit=2, window=60.0, clock=FakeClock())
    assert not guard.record_write("ns/a")
    assert not guard.record_write("ns/b")
    assert not guard.record_write("ns/a")
    assert not guard.record_write("ns/b")
    assert guard.record_write("ns/a")


def test_flap_guard_keeps_reporting_while_key_keeps_flapping() -> None:
    guard = FlapGuard(limit=2, window=60.0, clock=FakeClock())
    assert [guard.record_write("ns/a") for _ in range(6)] == [False, False, True, True, True, True]


def test_flap_guard_forgets_idle_keys() -> None:
    clock = FakeClock()
    guard = FlapGuard(limit=5, window=60.0, clock=clock)
    for i in range(1000):
        guard.record_write(f"ns/k{i}")
    clock.advance(30)
    guard.record_write("ns/recent")
    clock.advance(31)
    guard.record_write("ns/now")
    assert len(guard) == 2


@pytest.mark.parametrize(("limit", "window"), [(0, 60.0), (5, 0.0)])
def test_flap_guard_rejects_nonsense_settings(limit: int, window: float) -> None:
    with pytest.raises(ValueError, match="flap guard"):
        FlapGuard(limit=limit, window=window)


def test_queue_rejects_nonsense_backoff() -> None:
    with pytest.raises(ValueError, match="work queue"):
        WorkQueue("pods", base_delay=0.0)


def test_flap_check_does_not_count_the_refused_attempt() -> None:
    now = [0.0]
    guard = FlapGuard(limit=2, window=60.0, clock=lambda: now[0])
    guard.record_write("k")
    guard.record_write("k")
    assert guard.is_flapping("k")
    assert guard.is_flapping("k")  # asking again records nothing
    now[0] = 61.0
    assert not guard.is_flapping("k")
