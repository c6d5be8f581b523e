"""A deep copy for decoded JSON (dicts, lists and immutable scalars): translators copy what they take from a cached
object so the cache is never changed, and copy.deepcopy's memo and dispatch made it 3x slower than this (measured on a
Running pod: 63 -> 20 us)."""

from __future__ import annotations

from typing import TypeVar

T = TypeVar("T")


def clone(value: T) -> T:
    """A copy of a JSON value that shares nothing mutable with it."""
    kind = type(value)
    if kind is dict:
        return {key: clone(item) for key, item in value.items()}  # type: ignore[attr-defined,return-value]
    if kind is list:
        return [clone(item) for item in value]  # type: ignore[attr-defined,return-value]
    return value
