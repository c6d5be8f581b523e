"""With owner references on (the target namespace is vcsync's own), the vcluster Service owns every host object.
Once it is gone (`helm uninstall` deletes it first, then the garbage collector deletes the copies) vcsync creates
nothing: a copy re-created behind the collector would carry no owner and stay on the host for good. Whether the
Service is gone (seen, then absent) is the Engine's to say; see test_owner_seen_then_absent_is_gone."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from syncer.controller import Controller
from syncer.engine import Engine
from tests.unit.engine_stub import EngineStub
from translators.configmaps import KIND as CONFIGMAPS_KIND

Obj = dict[str, Any]
OWNER = {"apiVersion": "v1", "kind": "Service", "name": "vc", "uid": "u-service"}


class HostSide:
    dry_run = False

    def __init__(self) -> None:
        self.created: list[str] = []

    async def create(self, res: Any, namespace: str | None, body: Obj, **_: Any) -> Obj:
        self.created.append(body["metadata"]["name"])
        return body


def controller_with_owner(owner: Obj | None) -> Controller:
    engine = EngineStub()
    engine.owner_gone = lambda: owner is None
    engine.owner_reference = lambda: owner
    engine.host_api = HostSide()
    return Controller(CONFIGMAPS_KIND, engine, workers=1)


def desired() -> Obj:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg-x-ns-x-vc", "namespace": "host-ns"}}


async def test_no_host_object_is_created_while_the_owner_service_is_gone() -> None:
    controller = controller_with_owner(None)
    assert await controller._create("ns/cfg", {}, desired()) == "held"
    assert controller.engine.host_api.created == []
    assert len(controller.queue) == 0  # looked at again later, not at once


async def test_host_objects_are_created_while_the_owner_service_exists() -> None:
    controller = controller_with_owner(OWNER)
    await controller._create("ns/cfg", {}, desired())
    assert controller.engine.host_api.created == ["cfg-x-ns-x-vc"]


def test_owner_seen_then_absent_is_gone_and_never_seen_is_not() -> None:
    services: dict[str, Obj] = {}
    engine = SimpleNamespace(
        config=SimpleNamespace(set_owner=True), _owner_seen=False, vcluster_service=lambda: services.get("vc")
    )
    assert not Engine.owner_gone(engine)  # vcsync run without a vcluster Service: objects without owner
    services["vc"] = {"metadata": {"name": "vc", "uid": "u"}}
    Engine._note_owner(engine, None, services["vc"])  # the own-Service cache's handler
    assert Engine.owner_reference(engine) == OWNER | {"name": "vc", "uid": "u"}
    assert not Engine.owner_gone(engine)
    del services["vc"]
    assert Engine.owner_gone(engine)
