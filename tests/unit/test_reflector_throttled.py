"""A list or watch the server throttles (429) is tried again no sooner than its Retry-After (capped at a minute),
not on the reflector's own short backoff."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest

from syncer.cache import Store
from syncer.kube.api import ApiError
from syncer.ratelimit import Backoff
from syncer.reflector import RETRY_AFTER_MAX, Reflector
from vocab.resources import CONFIGMAPS


@pytest.mark.parametrize(("retry_after", "least"), [(7.0, 7.0), (600.0, RETRY_AFTER_MAX), (None, 0.0)])
async def test_a_throttled_watch_waits_its_retry_after(monkeypatch, retry_after, least):
    slept: list[float] = []

    async def sleep(delay: float) -> None:
        slept.append(delay)

    monkeypatch.setattr(asyncio, "sleep", sleep)
    reflector = Reflector(SimpleNamespace(cluster="host"), CONFIGMAPS, Store("configmaps", "host"))  # type: ignore[arg-type]
    await reflector._back_off(Backoff(0.8, 30.0), ApiError(429, "TooManyRequests", "slow down", retry_after))
    assert len(slept) == 1 and least <= slept[0] <= max(least, 30.0)
    assert slept[0] < 2.0 or retry_after is not None  # without a Retry-After: the short backoff
