"""Heap care: no cyclic collections while the caches fill, then what is alive is frozen out of every collection's
walk and the heap trimmed, at both milestones and then on a period, with an occasional full collection."""

from __future__ import annotations

import asyncio
import gc
import weakref

import pytest

from syncer import heap


@pytest.fixture
def trims(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    done: list[str] = []
    monkeypatch.setattr(heap, "_malloc_trim", lambda: lambda: done.append("trim"))
    yield done
    gc.unfreeze()
    gc.enable()


async def test_no_collections_until_the_caches_are_in_then_frozen_and_trimmed(trims: list[str]) -> None:
    synced, done = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(heap.tend(synced, done, period=5.0))
    await asyncio.sleep(0.01)
    assert not gc.isenabled() and trims == []  # the caches are filling
    synced.set()
    await asyncio.sleep(0.01)
    assert gc.isenabled() and len(trims) == 1
    assert gc.get_freeze_count() > 0  # what was alive then no longer takes part in collections
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


class Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the cyclic collector frees it


def test_a_full_tidy_frees_garbage_that_was_frozen(trims: list[str]) -> None:
    node = Node()
    gone = weakref.ref(node)
    heap._tidy(heap._malloc_trim(), full=False)  # alive when frozen
    del node
    gc.collect()
    assert gone() is not None  # frozen: ordinary collections do not walk it
    heap._tidy(heap._malloc_trim(), full=True)
    assert gone() is None and trims == ["trim", "trim"]


async def test_every_period_freezes_and_trims(monkeypatch: pytest.MonkeyPatch) -> None:
    fourth = asyncio.Event()
    count = [0]

    def trim() -> None:
        count[0] += 1
        if count[0] == 4:
            fourth.set()

    monkeypatch.setattr(heap, "_malloc_trim", lambda: trim)
    synced, done = asyncio.Event(), asyncio.Event()
    synced.set()
    done.set()
    task = asyncio.create_task(heap.tend(synced, done, period=0.01))
    await asyncio.wait_for(fourth.wait(), 5)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert gc.isenabled()
    gc.unfreeze()


async def test_collections_come_back_when_the_caches_are_slow(trims: list[str]) -> None:
    task = asyncio.create_task(heap.tend(asyncio.Event(), asyncio.Event(), period=0.02))
    await asyncio.sleep(0.05)
    assert gc.isenabled()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


def test_glibc_has_malloc_trim() -> None:
    heap._malloc_trim()()
