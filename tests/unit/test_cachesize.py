"""The cache-size split served at /debug/caches: every object counted once, stores largest first."""

from __future__ import annotations

import sys

from syncer.cache import Store
from syncer.cachesize import cache_sizes, deep_size


def _pod(name: str, shared: str) -> dict:
    return {"metadata": {"name": name, "namespace": "ns", "labels": {"app": shared}}, "spec": {"containers": []}}


def test_deep_size_counts_a_shared_string_once() -> None:
    shared = "x" * 1000
    seen: set[int] = set()
    first = deep_size(_pod("a", shared), seen)
    second = deep_size(_pod("b", shared), seen)
    assert first - second >= sys.getsizeof(shared)


def test_cache_sizes_lists_stores_largest_first_with_their_total() -> None:
    small, big = Store("configmaps", "host"), Store("pods", "virtual")
    small.upsert(_pod("one", "a"))
    for i in range(3):
        big.upsert(_pod(f"p{i}", f"label-{i}"))
    split = cache_sizes([small, big])
    assert [(row["kind"], row["objects"]) for row in split["stores"]] == [("pods", 3), ("configmaps", 1)]
    assert split["total_bytes"] == sum(row["bytes"] for row in split["stores"]) > 0
