"""Token bucket and backoff arithmetic, checked against a fake clock so the numbers are exact however loaded the
machine is; only the two `acquire` tests touch real time, with small delays and loose bounds."""

from __future__ import annotations

import asyncio
import time

import pytest

from syncer.ratelimit import Backoff, TokenBucket, capped_exponential


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def test_bucket_allows_burst_without_waiting() -> None:
    bucket = TokenBucket(rate=10, burst=3, clock=FakeClock())
    assert [bucket.reserve() for _ in range(3)] == [0.0, 0.0, 0.0]


def test_reservations_beyond_burst_queue_up_one_interval_apart() -> None:
    bucket = TokenBucket(rate=10, burst=2, clock=FakeClock())
    delays = [bucket.reserve() for _ in range(5)]
    assert delays[:2] == [0.0, 0.0]
    assert delays[2:] == pytest.approx([0.1, 0.2, 0.3])


def test_bucket_refills_at_rate_but_never_beyond_burst() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=10, burst=2, clock=clock)
    bucket.reserve()
    bucket.reserve()
    clock.advance(0.1)
    assert bucket.reserve() == 0.0
    assert bucket.reserve() == pytest.approx(0.1)
    clock.advance(3600)
    assert [bucket.reserve() for _ in range(3)] == pytest.approx([0.0, 0.0, 0.1])


def test_waited_out_reservation_leaves_bucket_even() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=4, burst=1, clock=clock)
    bucket.reserve()
    delay = bucket.reserve()
    clock.advance(delay)
    assert bucket.reserve() == pytest.approx(0.25)


@pytest.mark.parametrize(("rate", "burst"), [(0, 1), (-1, 1), (10, 0)])
def test_bucket_rejects_nonpositive_rate_or_burst(rate: float, burst: int) -> None:
    with pytest.raises(ValueError, match="token bucket"):
        TokenBucket(rate=rate, burst=burst)


async def test_acquire_within_burst_does_not_sleep() -> None:
    bucket = TokenBucket(rate=0.001, burst=2)
    await asyncio.wait_for(bucket.acquire(), timeout=5)
    await asyncio.wait_for(bucket.acquire(), timeout=5)


async def test_acquire_beyond_burst_waits_for_its_token() -> None:
    started = time.monotonic()
    bucket = TokenBucket(rate=20, burst=1)
    await bucket.acquire()
    await asyncio.wait_for(bucket.acquire(), timeout=5)
    assert time.monotonic() - started >= 0.04  # the second token exists 0.05 s after the bucket was emptied


async def test_cancelled_acquire_gives_its_token_back() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=0.01, burst=1, clock=clock)
    bucket.reserve()
    waiting = asyncio.create_task(bucket.acquire())
    await asyncio.sleep(0)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert bucket.reserve() == pytest.approx(100.0)  # next in line, not behind the cancelled caller


def test_backoff_doubles_from_initial_and_caps_at_maximum() -> None:
    backoff = Backoff(initial=1.0, maximum=10.0, clock=FakeClock())
    assert [backoff.next() for _ in range(6)] == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]


def test_reflector_backoff_follows_spec_numbers() -> None:
    backoff = Backoff(initial=0.8, maximum=30.0, clock=FakeClock())
    assert [backoff.next() for _ in range(8)] == pytest.approx([0.8, 1.6, 3.2, 6.4, 12.8, 25.6, 30.0, 30.0])


def test_backoff_honours_factor() -> None:
    backoff = Backoff(initial=1.0, maximum=100.0, factor=3.0, clock=FakeClock())
    assert [backoff.next() for _ in range(5)] == [1.0, 3.0, 9.0, 27.0, 81.0]


def test_backoff_reset_starts_over() -> None:
    backoff = Backoff(initial=1.0, maximum=10.0, clock=FakeClock())
    backoff.next()
    backoff.next()
    backoff.reset()
    assert backoff.next() == 1.0


def test_backoff_resets_itself_after_quiet_period() -> None:
    clock = FakeClock()
    backoff = Backoff(initial=0.8, maximum=30.0, reset_after=120.0, clock=clock)
    for _ in range(5):
        backoff.next()
    clock.advance(120.0)
    assert backoff.next() == pytest.approx(0.8)


def test_backoff_keeps_growing_while_errors_keep_coming() -> None:
    clock = FakeClock()
    backoff = Backoff(initial=0.8, maximum=30.0, reset_after=120.0, clock=clock)
    delays = []
    for _ in range(4):
        delays.append(backoff.next())
        clock.advance(119.0)
    assert delays == pytest.approx([0.8, 1.6, 3.2, 6.4])


def test_jitter_shortens_delay_by_at_most_its_fraction() -> None:
    draws = iter([0.0, 0.5, 0.999])
    backoff = Backoff(initial=1.0, maximum=1.0, jitter=0.2, clock=FakeClock(), rand=lambda: next(draws))
    assert [backoff.next() for _ in range(3)] == pytest.approx([1.0, 0.9, 0.8002])


def test_jittered_delays_stay_within_bounds() -> None:
    backoff = Backoff(initial=0.8, maximum=30.0, jitter=0.5, clock=FakeClock())
    for _ in range(50):
        assert 0.4 <= backoff.next() <= 30.0


def test_many_failures_do_not_overflow() -> None:
    backoff = Backoff(initial=0.005, maximum=300.0, clock=FakeClock())
    for _ in range(5000):
        delay = backoff.next()
    assert delay == 300.0
    assert capped_exponential(0.005, 300.0, 2.0, 10**9) == 300.0


@pytest.mark.parametrize(
    "kwargs",
    [
        {"initial": 0.0, "maximum": 1.0},
        {"initial": 2.0, "maximum": 1.0},
        {"initial": 1.0, "maximum": 2.0, "factor": 1.0},
        {"initial": 1.0, "maximum": 2.0, "jitter": 1.0},
    ],
)
def test_backoff_rejects_nonsense_settings(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="backoff"):
        Backoff(**kwargs)
