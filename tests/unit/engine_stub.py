"""The part of the Engine that controllers read while they are wired: stores, naming and configuration. No API
and no workers, so which keys a cache change requeues can be checked without a server."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from syncer.cache import Store
from translators.names import NameTranslator
from vocab.resources import Resource

TARGET = "host-ns"
SUFFIX = "vc"


class EngineStub:
    def __init__(self) -> None:
        self._stores: dict[tuple[str, Resource], Store] = {}
        self.config = SimpleNamespace(target_namespace=TARGET)
        self.context = SimpleNamespace(names=NameTranslator(suffix=SUFFIX, target_namespace=TARGET))

    def declare(self, side: str, res: Resource, namespace: str | None = None, selector: str | None = None) -> Store:
        return self._stores.setdefault((side, res), Store(res.plural, side))

    store = declare

    def has_store(self, side: str, res: Resource) -> bool:
        return (side, res) in self._stores


def host_twin(kind: str, name: str, vns: str, **spec: Any) -> dict[str, Any]:
    """A managed host object of this vcluster for virtual vns/name."""
    annotations = {"vcluster.loft.sh/object-name": name, "vcluster.loft.sh/object-namespace": vns}
    meta = {"name": f"{name}-x-{vns}-x-{SUFFIX}", "namespace": TARGET, "annotations": annotations}
    return {"kind": kind, "metadata": meta, "spec": spec}


async def drain(queue: Any) -> set[str]:
    """The keys waiting in a work queue, taken out."""
    keys = set()
    while len(queue):
        key = await queue.get()
        queue.done(key)
        keys.add(key)
    return keys
