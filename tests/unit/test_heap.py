"""The heap trimmer: it waits for the caches, trims at both milestones and then on its period."""

from __future__ import annotations

import asyncio

import pytest

from syncer import memtrim


async def test_trims_after_the_caches_then_after_the_initial_sync_then_periodically(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    trims: list[str] = []
    synced, done = asyncio.Event(), asyncio.Event()
    monkeypatch.setattr(memtrim, "_malloc_trim", lambda: lambda: trims.append("trim"))
    task = asyncio.create_task(memtrim.trim_forever(synced, done, period=0.05))
    await asyncio.sleep(0.1)
    assert trims == []  # nothing before the caches are filled
    synced.set()
    await asyncio.sleep(0.01)
    assert len(trims) == 1
    done.set()
    await asyncio.sleep(0.12)
    task.cancel()
    assert len(trims) >= 3


def test_glibc_has_malloc_trim() -> None:
    trim = memtrim._malloc_trim()
    assert trim is not None
    trim()
