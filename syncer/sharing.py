"""Equal parts of cached objects, held once. A Deployment's pods carry the same containers, tolerations and labels,
every host object the same owner reference, every pod on a node the same host IPs; decoded separately, each copy
would be kept apart (6.5 of the 19 KB the caches held per benchmark pod). Cached objects are never changed in
place (translators clone what they change), so one part can serve every object that has it."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import orjson

SECTIONS = ("metadata", "spec", "status")
SHARED_MAX = 512  # encoded bytes; longer parts (a unique annotation set, a big status) are rarely equal
TABLE_SIZE = 512  # parts remembered per store, least recently met dropped first: common parts stay


class Parts:
    """One store's table of parts met recently, by their JSON encoding."""

    def __init__(self, size: int = TABLE_SIZE) -> None:
        self._table: OrderedDict[bytes, Any] = OrderedDict()
        self._size = size

    def share(self, obj: dict[str, Any]) -> dict[str, Any]:
        """`obj` with each dict or list directly under its metadata, spec and status replaced by an equal one met
        before, when there is one."""
        for name in SECTIONS:
            section = obj.get(name)
            if type(section) is not dict:
                continue
            for key, value in section.items():
                if type(value) is dict or type(value) is list:
                    section[key] = self._held(value)
        return obj

    def _held(self, value: Any) -> Any:
        encoded = orjson.dumps(value)
        if len(encoded) > SHARED_MAX:
            return value
        table = self._table
        held = table.get(encoded)
        if held is not None:
            table.move_to_end(encoded)
            return held
        table[encoded] = value
        if len(table) > self._size:
            table.popitem(last=False)
        return value
