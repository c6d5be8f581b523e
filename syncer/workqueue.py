"""Per-kind work queues for the engine (SPEC §9.4): a key is queued at most once, never processed by two workers at
a time, re-run after `done` if re-added meanwhile, and retried with per-item backoff under an overall bucket. Also the
flap guard of §9.5. Pure asyncio; metrics go through a small hook so prometheus stays out of this module."""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import time
from collections import deque
from collections.abc import Callable
from typing import Protocol

from syncer.ratelimit import Clock, TokenBucket, capped_exponential

# asyncio may run a timer up to one clock tick early; keys due within that slack count as due.
_CLOCK_SLACK = time.get_clock_info("monotonic").resolution


class QueueShutDown(Exception):
    """Raised by `WorkQueue.get()` once the queue is shut down."""


class WorkQueueMetrics(Protocol):
    def watch_depth(self, name: str, depth: Callable[[], int]) -> None:
        """`depth()` is the number of queued ready keys of queue `name`, read when the metric is read (set once:
        a gauge set on every add and get was ~2% of vcsync's profiled CPU under load)."""

    def on_retry(self, name: str) -> None:
        """A key of queue `name` was re-added through `add_rate_limited`."""


class _NoMetrics:
    def watch_depth(self, name: str, depth: Callable[[], int]) -> None:
        pass

    def on_retry(self, name: str) -> None:
        pass


class WorkQueue:
    """A client-go style rate-limited work queue of string keys (`"<ns>/<name>"`).

    Shutdown is immediate, not draining: once `shutdown()` is called every pending and future `get()` raises
    `QueueShutDown`, queued and scheduled keys are dropped and later adds are ignored. This is the §9.7 SIGTERM rule
    "stop dequeuing, finish in-flight work": workers finish their current key, call `done`, and their next `get()`
    ends them. Nothing is lost, since a restart enqueues every object again (§9.6).
    """

    def __init__(
        self,
        name: str,
        metrics: WorkQueueMetrics | None = None,
        *,
        base_delay: float = 0.005,
        max_delay: float = 300.0,
        overall: TokenBucket | None = None,
    ) -> None:
        if not 0 < base_delay <= max_delay:
            raise ValueError(f"work queue needs 0 < base_delay <= max_delay, got {base_delay} and {max_delay}")
        self.name = name
        self._metrics: WorkQueueMetrics = metrics if metrics is not None else _NoMetrics()
        self._metrics.watch_depth(name, self.__len__)
        self._base_delay = base_delay
        self._max_delay = max_delay
        self._overall = overall if overall is not None else TokenBucket(rate=10.0, burst=100)
        self._queue: deque[str] = deque()  # ready keys in FIFO order, never one being processed
        self._dirty: set[str] = set()  # keys that need processing: queued, or re-added while processing
        self._processing: set[str] = set()
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._failures: dict[str, int] = {}
        self._due: dict[str, float] = {}  # key -> earliest loop time it is scheduled for
        self._timers: list[tuple[float, int, str]] = []  # heap; entries not matching `_due` are stale
        self._sequence = itertools.count()
        self._timer: asyncio.TimerHandle | None = None
        self._shutting_down = False

    def __len__(self) -> int:
        return len(self._queue)

    @property
    def shutting_down(self) -> bool:
        return self._shutting_down

    def add(self, key: str) -> None:
        """Queue `key` unless it is already waiting; if it is being processed, queue it again when it is done."""
        if self._shutting_down or key in self._dirty:
            return
        self._dirty.add(key)
        if key in self._processing:
            return
        self._enqueue(key)

    def add_after(self, key: str, delay: float) -> None:
        """Add `key` after `delay` seconds. A key already scheduled keeps the earlier of the two times."""
        if self._shutting_down:
            return
        if delay <= 0:
            self.add(key)
            return
        due = asyncio.get_running_loop().time() + delay
        scheduled = self._due.get(key)
        if scheduled is not None and scheduled <= due:
            return
        self._due[key] = due
        heapq.heappush(self._timers, (due, next(self._sequence), key))
        self._arm_timer()

    def add_rate_limited(self, key: str) -> float:
        """Re-add `key` after the larger of its own backoff and the overall bucket's delay; return that delay."""
        attempt = self._failures.get(key, 0)
        self._failures[key] = attempt + 1
        own = capped_exponential(self._base_delay, self._max_delay, 2.0, attempt)
        delay = max(own, self._overall.reserve())
        self._metrics.on_retry(self.name)
        self.add_after(key, delay)
        return delay

    def forget(self, key: str) -> None:
        """Reset the backoff of `key`, typically after it was processed successfully."""
        self._failures.pop(key, None)

    def num_requeues(self, key: str) -> int:
        return self._failures.get(key, 0)

    async def get(self) -> str:
        """Wait for the next ready key and mark it as being processed; the caller must call `done(key)`."""
        while not self._shutting_down and not self._queue:
            await self._wait_for_key()
        if self._shutting_down:
            raise QueueShutDown(f"work queue {self.name} is shut down")
        key = self._queue.popleft()
        self._dirty.discard(key)
        self._processing.add(key)
        return key

    def done(self, key: str) -> None:
        """Finish processing `key`; if it was re-added meanwhile, queue it again."""
        if key not in self._processing:
            return
        self._processing.discard(key)
        if key in self._dirty:
            self._enqueue(key)

    def shutdown(self) -> None:
        """Stop handing out keys: wake every waiting `get()` with `QueueShutDown` and drop queued and timed keys."""
        self._shutting_down = True
        self._queue.clear()
        self._dirty.clear()
        self._due.clear()
        self._timers.clear()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        while self._waiters:
            self._wake_next_waiter()

    def _enqueue(self, key: str) -> None:
        self._queue.append(key)
        self._wake_next_waiter()

    async def _wait_for_key(self) -> None:
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self._wake_next_waiter()  # we were woken for a key we will not take: pass the wake-up on
            else:
                with contextlib.suppress(ValueError):  # a wake-up may already have skipped it
                    self._waiters.remove(waiter)
            raise

    def _wake_next_waiter(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    def _arm_timer(self) -> None:
        """Point the single timer at the earliest live scheduled key."""
        while self._timers and self._due.get(self._timers[0][2]) != self._timers[0][0]:
            heapq.heappop(self._timers)
        if not self._timers:
            return
        due = self._timers[0][0]
        if self._timer is not None:
            if self._timer.when() <= due:
                return
            self._timer.cancel()
        self._timer = asyncio.get_running_loop().call_at(due, self._release_due_keys)

    def _release_due_keys(self) -> None:
        self._timer = None
        now = asyncio.get_running_loop().time() + _CLOCK_SLACK
        while self._timers and self._timers[0][0] <= now:
            due, _, key = heapq.heappop(self._timers)
            if self._due.get(key) == due:
                del self._due[key]
                self.add(key)
        self._arm_timer()


class FlapGuard:
    """Spots keys written more than `limit` times within `window` seconds (SPEC §9.5). Memory stays bounded: at most
    `limit + 1` timestamps per key, and only keys written within the last window are remembered."""

    def __init__(self, limit: int = 5, window: float = 60.0, clock: Clock = time.monotonic) -> None:
        if limit < 1 or window <= 0:
            raise ValueError(f"flap guard needs limit >= 1 and window > 0, got limit={limit} window={window}")
        self._limit = limit
        self._window = window
        self._clock = clock
        self._writes: dict[str, deque[float]] = {}  # ordered by each key's latest write, oldest first

    def __len__(self) -> int:
        """Number of keys currently remembered."""
        return len(self._writes)

    def is_flapping(self, key: str) -> bool:
        """True when one more write to `key` would exceed `limit` within the window (nothing is recorded)."""
        stamps = self._writes.get(key)
        if not stamps:
            return False
        now = self._clock()
        return sum(1 for stamp in stamps if stamp > now - self._window) >= self._limit

    def record_write(self, key: str) -> bool:
        """Note a write to `key`; True when it has now been written more than `limit` times within the window."""
        now = self._clock()
        self._forget_idle_keys(now)
        stamps = self._writes.pop(key, None) or deque(maxlen=self._limit + 1)
        self._drop_expired(stamps, now)
        stamps.append(now)
        self._writes[key] = stamps
        return len(stamps) > self._limit

    def _forget_idle_keys(self, now: float) -> None:
        while self._writes:
            oldest_key = next(iter(self._writes))
            if self._writes[oldest_key][-1] > now - self._window:
                return
            del self._writes[oldest_key]

    def _drop_expired(self, stamps: deque[float], now: float) -> None:
        while stamps and stamps[0] <= now - self._window:
            stamps.popleft()
