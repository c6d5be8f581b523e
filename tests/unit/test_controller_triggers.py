"""Which keys a change to another object requeues (SPEC §9.3): a new fake Node requeues exactly the pods whose
host copies run on it, so their binding does not wait for a retry, and its heartbeats requeue nothing; a host
event that arrived before the object it is about is looked at again when that object arrives."""

from __future__ import annotations

import datetime as dt
from typing import Any

from syncer.controller import Controller
from syncer.eventsync import EventSync
from tests.unit.engine_stub import TARGET, EngineStub, drain, host_twin
from translators.configmaps import KIND as CONFIGMAPS_KIND
from translators.pod_sync import KIND as PODS_KIND
from vocab.resources import PODS

Obj = dict[str, Any]


def host_pod(name: str, vns: str, node: str | None) -> Obj:
    return host_twin("Pod", name, vns, **({"nodeName": node} if node else {}))


def node(name: str, rv: str = "1") -> Obj:
    return {"metadata": {"name": name, "resourceVersion": rv}}


def wired_pods_controller() -> tuple[Controller, EngineStub]:
    engine = EngineStub()
    for res, indexes in PODS_KIND.host_indexes.items():
        for name, func in indexes.items():
            engine.store("host", res).add_index(name, func)
    controller = Controller(PODS_KIND, engine, workers=1)
    controller.wire()
    return controller, engine


async def test_a_new_node_requeues_the_pods_whose_host_copies_run_on_it() -> None:
    controller, engine = wired_pods_controller()
    hpods = engine.store("host", PODS_KIND.resource)
    for pod in (host_pod("a", "ns1", "n1"), host_pod("b", "ns2", "n1"), host_pod("c", "ns1", "n2")):
        hpods.upsert(pod)
    await drain(controller.queue)
    engine.store("virtual", next(t.resource for t in PODS_KIND.triggers if t.added_only)).upsert(node("n1"))
    assert await drain(controller.queue) == {"ns1/a", "ns2/b"}


async def test_node_updates_and_deletions_requeue_no_pods() -> None:
    controller, engine = wired_pods_controller()
    engine.store("host", PODS_KIND.resource).upsert(host_pod("a", "ns1", "n1"))
    nodes = engine.store("virtual", next(t.resource for t in PODS_KIND.triggers if t.added_only))
    nodes.upsert(node("n1"))
    await drain(controller.queue)
    nodes.upsert(node("n1", rv="2"))  # a heartbeat
    nodes.remove(node("n1", rv="2"))
    assert await drain(controller.queue) == set()


def host_event(name: str, about: Obj) -> Obj:
    meta = about["metadata"]
    involved = {"apiVersion": "v1", "kind": about["kind"], "name": meta["name"], "namespace": meta["namespace"]}
    return {"metadata": {"name": name, "namespace": TARGET}, "involvedObject": involved, "reason": "Scheduled"}


def wired_event_sync() -> tuple[EventSync, EngineStub]:
    engine = EngineStub()
    for side in ("host", "virtual"):
        engine.declare(side, PODS)
    events = EventSync(engine, workers=1)
    events.wire()
    return events, engine


async def test_an_event_that_came_before_its_host_object_is_looked_at_again_when_the_object_arrives() -> None:
    events, engine = wired_event_sync()
    hpod = host_pod("a", "ns1", None)
    events.host_events.upsert(host_event("a.1", hpod))
    events.host_events.upsert(host_event("other.1", host_pod("other", "ns1", None)))
    await drain(events.queue)
    engine.store("host", PODS).upsert(hpod)
    assert await drain(events.queue) == {"a.1"}


async def test_an_event_that_came_before_the_virtual_object_is_looked_at_again_when_it_arrives() -> None:
    events, engine = wired_event_sync()
    events.host_events.upsert(host_event("a.1", host_pod("a", "ns1", None)))
    await drain(events.queue)
    engine.store("virtual", PODS).upsert({"metadata": {"name": "a", "namespace": "ns1", "resourceVersion": "1"}})
    assert await drain(events.queue) == {"a.1"}
    engine.store("virtual", PODS).upsert({"metadata": {"name": "a", "namespace": "ns1", "resourceVersion": "2"}})
    assert await drain(events.queue) == set()


def virtual_copy(name: str, vns: str, about: str) -> Obj:
    involved = {"apiVersion": "v1", "kind": "Pod", "namespace": vns, "name": about}
    return {"metadata": {"name": name, "namespace": vns}, "involvedObject": involved, "reason": "Scheduled"}


async def test_a_deleted_objects_events_leave_both_caches_and_the_others_stay() -> None:
    events, engine = wired_event_sync()
    gone, kept = host_pod("a", "ns1", None), host_pod("b", "ns1", None)
    vgone = {"metadata": {"name": "a", "namespace": "ns1", "resourceVersion": "1"}}
    for obj in (gone, kept):
        engine.store("host", PODS).upsert(obj)
    engine.store("virtual", PODS).upsert(vgone)
    events.host_events.upsert(host_event("a.1", gone))
    events.host_events.upsert(host_event("b.1", kept))
    events.virtual_events.upsert(virtual_copy("a.1", "ns1", "a"))
    events.virtual_events.upsert(virtual_copy("b.1", "ns1", "b"))
    engine.store("host", PODS).remove(gone)
    engine.store("virtual", PODS).remove(vgone)
    assert events.host_events.keys() == [f"{TARGET}/b.1"]
    assert events.virtual_events.keys() == ["ns1/b.1"]


def test_events_about_kinds_never_copied_stay_out_of_both_caches() -> None:
    events, _ = wired_event_sync()
    involved = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "namespace": "ns1", "name": "web-1"}
    for store in (events.host_events, events.virtual_events):
        store.upsert({"metadata": {"name": "web-1.1", "namespace": "ns1"}, "involvedObject": involved})
        assert len(store) == 0


async def test_an_old_host_event_without_its_object_leaves_the_cache_and_a_young_one_waits() -> None:
    events, _ = wired_event_sync()
    old = host_event("a.1", host_pod("a", "ns1", None)) | {"lastTimestamp": "2020-01-01T00:00:00Z"}
    young = host_event("b.1", host_pod("b", "ns1", None)) | {"eventTime": dt.datetime.now(dt.UTC).isoformat()}
    for event in (old, young):
        events.host_events.upsert(event)
        assert await events.reconcile(event["metadata"]["name"]) == "unchanged"
    assert events.host_events.keys() == [f"{TARGET}/b.1"]  # b's pod may still come: events can come first


def test_at_start_virtual_copies_of_objects_gone_leave_the_cache() -> None:
    engine = EngineStub()
    for side in ("host", "virtual"):
        engine.declare(side, PODS)
    engine.store("virtual", PODS).upsert({"metadata": {"name": "b", "namespace": "ns1", "resourceVersion": "1"}})
    events = EventSync(engine, workers=1)
    events.virtual_events.upsert(virtual_copy("a.1", "ns1", "a"))
    events.virtual_events.upsert(virtual_copy("b.1", "ns1", "b"))
    events.wire()
    assert events.virtual_events.keys() == ["ns1/b.1"]


def test_an_update_translates_the_body_only_for_kinds_that_compare_it() -> None:
    pods, _ = wired_pods_controller()
    assert pods._body_compared is False  # pods: metadata only; mutable spec fields go through `existing`
    assert Controller(CONFIGMAPS_KIND, EngineStub(), workers=1)._body_compared is True
