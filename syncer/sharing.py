"""Equal parts of cached objects, held once. A Deployment's pods carry the same containers, tolerations and labels,
every host object the same owner reference, every pod on a node the same host IPs; decoded separately, each copy
would be kept apart (6.5 of the 19 KB the caches held per benchmark pod). Short strings are interned as well, but
only in parts not met before: a part found in the table was interned when it entered, so most of an object is not
walked (walking every decoded object was 13% of vcsync's CPU under cProfile, which inflates such walks; with two
smaller cuts, moving it saved 2.4% unprofiled). Cached objects are never changed in place (translators clone what
they change), so one part can serve every object that has it."""

from __future__ import annotations

import sys
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import orjson

SECTIONS = frozenset(("metadata", "spec", "status"))
SHARED_MAX = 512  # encoded bytes; longer parts (a unique annotation set, a big status) are rarely equal
TABLE_SIZE = 512  # parts remembered per store, least recently met dropped first: common parts stay
SHARED_STRING_MAX = 64  # longer values (certificates, Secret data, uids in annotations) are rarely shared


def share_strings(value: Any) -> Any:
    """Every short string value under `value` interned, in place: thousands of cached objects then share one
    "Running", one "True", one image name... (orjson already shares dict keys). With the keys, this halves a cached
    pod (measured: 14.6 -> 7.7 KB for a Running pod with its managedFields)."""
    _replace_values(value, _strings_shared)
    return value


def _strings_shared(_: Any, value: Any) -> Any:
    return share_strings(value)


def _replace_values(container: dict[str, Any] | list[Any], replace: Callable[[Any, Any], Any]) -> None:
    """Short strings of a dict or list interned, each dict or list in it swapped for `replace(key or index, value)`,
    in place."""
    intern, limit = sys.intern, SHARED_STRING_MAX
    entries = container.items() if type(container) is dict else enumerate(container)
    for key, value in entries:
        kind = type(value)
        if kind is str:
            if len(value) <= limit:
                container[key] = intern(value)
        elif kind is dict or kind is list:
            container[key] = replace(key, value)


class Parts:
    """One store's table of parts met recently, by their JSON encoding."""

    def __init__(self, size: int = TABLE_SIZE) -> None:
        self._table: OrderedDict[bytes, Any] = OrderedDict()
        self._size = size

    def share(self, obj: dict[str, Any]) -> dict[str, Any]:
        """`obj`, in place, with each dict or list directly under its metadata, spec and status replaced by an equal
        one met before when there is one, and the short strings of the rest interned."""
        _replace_values(obj, self._top_level)
        return obj

    def _top_level(self, name: str, value: Any) -> Any:
        if name in SECTIONS and type(value) is dict:
            _replace_values(value, self._held)
            return value
        return share_strings(value)

    def _held(self, _: str, value: Any) -> Any:
        encoded = orjson.dumps(value)
        if len(encoded) > SHARED_MAX:
            return share_strings(value)
        table = self._table
        held = table.get(encoded)
        if held is not None:
            table.move_to_end(encoded)
            return held
        table[encoded] = share_strings(value)
        if len(table) > self._size:
            table.popitem(last=False)
        return value
