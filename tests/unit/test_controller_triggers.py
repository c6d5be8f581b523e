"""Which keys a change to another object requeues (SPEC §9.3): a new fake Node requeues exactly the pods whose
host copies run on it, so their binding does not wait for a retry, and its heartbeats requeue nothing."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from syncer.cache import Store
from syncer.controller import Controller
from syncer.kube.resources import Resource
from translators.names import NameTranslator
from translators.pod_sync import KIND as PODS_KIND

Obj = dict[str, Any]


class Engine:
    """Just the stores and naming a Controller reads while it is wired; no API and no workers."""

    def __init__(self) -> None:
        self._stores: dict[tuple[str, Resource], Store] = {}
        self.context = SimpleNamespace(names=NameTranslator(suffix="vc", target_namespace="host-ns"))

    def store(self, side: str, res: Resource) -> Store:
        return self._stores.setdefault((side, res), Store(res.plural, side))


def host_pod(name: str, vns: str, node: str | None) -> Obj:
    annotations = {"vcluster.loft.sh/object-name": name, "vcluster.loft.sh/object-namespace": vns}
    spec = {"nodeName": node} if node else {}
    meta = {"name": f"{name}-x-{vns}-x-vc", "namespace": "host-ns", "annotations": annotations}
    return {"metadata": meta, "spec": spec}


def node(name: str, rv: str = "1") -> Obj:
    return {"metadata": {"name": name, "resourceVersion": rv}}


def wired_pods_controller() -> tuple[Controller, Engine]:
    engine = Engine()
    for res, indexes in PODS_KIND.host_indexes.items():
        for name, func in indexes.items():
            engine.store("host", res).add_index(name, func)
    controller = Controller(PODS_KIND, engine, workers=1)
    controller.wire()
    return controller, engine


async def queued(controller: Controller) -> set[str]:
    keys = set()
    while len(controller.queue):
        key = await controller.queue.get()
        controller.queue.done(key)
        keys.add(key)
    return keys


async def test_a_new_node_requeues_the_pods_whose_host_copies_run_on_it() -> None:
    controller, engine = wired_pods_controller()
    hpods = engine.store("host", PODS_KIND.resource)
    for pod in (host_pod("a", "ns1", "n1"), host_pod("b", "ns2", "n1"), host_pod("c", "ns1", "n2")):
        hpods.upsert(pod)
    await queued(controller)
    engine.store("virtual", next(t.resource for t in PODS_KIND.triggers if t.added_only)).upsert(node("n1"))
    assert await queued(controller) == {"ns1/a", "ns2/b"}


async def test_node_updates_and_deletions_requeue_no_pods() -> None:
    controller, engine = wired_pods_controller()
    engine.store("host", PODS_KIND.resource).upsert(host_pod("a", "ns1", "n1"))
    nodes = engine.store("virtual", next(t.resource for t in PODS_KIND.triggers if t.added_only))
    nodes.upsert(node("n1"))
    await queued(controller)
    nodes.upsert(node("n1", rv="2"))  # a heartbeat
    nodes.remove(node("n1", rv="2"))
    assert await queued(controller) == set()
