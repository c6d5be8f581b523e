"""Client-side pacing shared by the engine: a token bucket for request rates (per-cluster QPS, the work queue's overall
re-add budget) and a capped exponential backoff for retries (reflector errors, per-item requeues), all pure asyncio."""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections.abc import Callable

Clock = Callable[[], float]


def capped_exponential(initial: float, maximum: float, factor: float, attempt: int) -> float:
    """`initial * factor**attempt`, never above `maximum`, and without overflowing for huge attempt counts."""
    if initial >= maximum:
        return maximum
    steps_to_cap = math.ceil(math.log(maximum / initial, factor))
    return min(maximum, initial * factor ** min(attempt, steps_to_cap))


class TokenBucket:
    """`rate` tokens per second, holding at most `burst`. Reservations may drive the balance negative, so callers
    queue up behind each other: each one is told how long to wait for its own token."""

    def __init__(self, rate: float, burst: int, clock: Clock = time.monotonic) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError(f"token bucket needs rate > 0 and burst >= 1, got rate={rate} burst={burst}")
        self._rate = rate
        self._burst = burst
        self._clock = clock
        self._tokens = float(burst)
        self._last = clock()

    def reserve(self) -> float:
        """Take one token now and return how many seconds the caller must wait before using it (0 if available)."""
        self._refill()
        self._tokens -= 1
        return 0.0 if self._tokens >= 0 else -self._tokens / self._rate

    async def acquire(self) -> None:
        """Wait for one token. A caller cancelled while waiting gives its token back."""
        delay = self.reserve()
        if delay <= 0:
            return
        try:
            await asyncio.sleep(delay)
        except asyncio.CancelledError:
            self._refund()
            raise

    def _refill(self) -> None:
        now = self._clock()
        elapsed = max(0.0, now - self._last)
        self._last = now
        self._tokens = min(float(self._burst), self._tokens + elapsed * self._rate)

    def _refund(self) -> None:
        self._refill()
        self._tokens = min(float(self._burst), self._tokens + 1)


class Backoff:
    """Retry delays growing from `initial` by `factor` up to `maximum`. With `jitter` j, each delay is shortened by a
    random fraction in [0, j), so it never exceeds `maximum` yet retries at the cap still spread out. With
    `reset_after`, a failure arriving that long after the previous one starts again from `initial`."""

    def __init__(
        self,
        initial: float,
        maximum: float,
        factor: float = 2.0,
        jitter: float = 0.0,
        reset_after: float | None = None,
        clock: Clock = time.monotonic,
        rand: Callable[[], float] = random.random,
    ) -> None:
        if not 0 < initial <= maximum:
            raise ValueError(f"backoff needs 0 < initial <= maximum, got initial={initial} maximum={maximum}")
        if factor <= 1:
            raise ValueError(f"backoff factor must be > 1, got {factor}")
        if not 0 <= jitter < 1:
            raise ValueError(f"backoff jitter must be in [0, 1), got {jitter}")
        self._initial = initial
        self._maximum = maximum
        self._factor = factor
        self._jitter = jitter
        self._reset_after = reset_after
        self._clock = clock
        self._rand = rand
        self._attempt = 0
        self._last_failure: float | None = None

    def next(self) -> float:
        """Record a failure and return how long to wait before retrying."""
        now = self._clock()
        if self._quiet_since_last_failure(now):
            self.reset()
        delay = capped_exponential(self._initial, self._maximum, self._factor, self._attempt)
        self._attempt += 1
        self._last_failure = now
        return delay * (1 - self._jitter * self._rand())

    def reset(self) -> None:
        """Forget past failures: the next delay is `initial` again."""
        self._attempt = 0
        self._last_failure = None

    def _quiet_since_last_failure(self, now: float) -> bool:
        if self._reset_after is None or self._last_failure is None:
            return False
        return now - self._last_failure >= self._reset_after
