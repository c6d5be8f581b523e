"""How many bytes each cache holds: RSS alone cannot say whether memory goes to pods, Events or the interpreter.
Served as JSON at /debug/caches on the metrics port, computed only when asked (one walk over every cached object),
so the benchmark and an operator chasing memory see the split without a profiler."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Any


def deep_size(value: Any, seen: set[int]) -> int:
    """Bytes of `value` and everything it holds, each object counted once across calls sharing `seen` (strings
    shared between objects are counted where they are first met)."""
    size = 0
    stack = [value]
    while stack:
        item = stack.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        size += sys.getsizeof(item)
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple | set | frozenset):
            stack.extend(item)
    return size


def cache_sizes(stores: Iterable[Any]) -> dict[str, Any]:
    """Per store (kind, side), its object count and bytes, largest first, and their total."""
    seen: set[int] = set()
    rows = []
    for store in stores:
        objects = store.values()
        held = sum(deep_size(obj, seen) for obj in objects)
        rows.append({"kind": store.kind, "side": store.side, "objects": len(objects), "bytes": held})
    rows.sort(key=lambda row: -row["bytes"])
    return {"total_bytes": sum(row["bytes"] for row in rows), "stores": rows}
