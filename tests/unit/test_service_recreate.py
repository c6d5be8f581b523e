"""vcsync recreates a virtual Service to give it the host ClusterIP (delete, then create). The tenant may delete it
at any moment of that: whichever delete lands first, the tenant's deletion stands and the host copy goes."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from syncer.controller import Controller
from tests.unit.engine_stub import EngineStub
from translators.kind import Write
from translators.metadata import desired_host_metadata
from translators.services import KIND as SERVICES_KIND
from vocab.resources import SERVICES

Obj = dict[str, Any]
KEY = "ns/web"


class VirtualSide:
    """What the controller asks of the virtual API in these tests, answered from a dict."""

    def __init__(self, objects: dict[str, Obj]) -> None:
        self.objects = objects
        self.writes: list[str] = []

    async def get(self, res: Any, namespace: str | None, name: str) -> Obj | None:
        return self.objects.get(f"{namespace}/{name}")

    async def delete(self, res: Any, namespace: str | None, name: str, **_: Any) -> bool:
        self.writes.append(f"delete {namespace}/{name}")
        return self.objects.pop(f"{namespace}/{name}", None) is not None

    async def create(self, res: Any, namespace: str | None, body: Obj, **_: Any) -> Obj:
        self.writes.append(f"create {namespace}/{body['metadata']['name']}")
        self.objects[f"{namespace}/{body['metadata']['name']}"] = body
        return body


class HostSide(SimpleNamespace):
    dry_run = False

    async def delete(self, res: Any, namespace: str | None, name: str, **_: Any) -> bool:
        self.deleted.append(name)
        return True


def controller_over(virtual: VirtualSide) -> Controller:
    engine = EngineStub()
    engine.virtual_api, engine.host_api = virtual, HostSide(deleted=[])
    return Controller(SERVICES_KIND, engine, workers=1)


def host_copy(controller: Controller, vsvc: Obj) -> Obj:
    names = controller.names
    meta = desired_host_metadata(vsvc, None, names=names, api_version="v1", kind="Service")
    return {"apiVersion": "v1", "kind": "Service", "metadata": meta | {"uid": "h1", "resourceVersion": "5"}}


def recreate_steps() -> list[Write]:
    body = {"metadata": {"name": "web", "namespace": "ns"}, "spec": {"clusterIP": "10.0.0.9"}}
    return [
        Write("virtual", "delete", SERVICES, "ns", "web", uid="u1", why="ip"),
        Write("virtual", "create", SERVICES, "ns", "web", body, why="ip"),
    ]


async def test_a_service_the_tenant_deleted_first_is_not_created_again() -> None:
    virtual = VirtualSide({})  # the tenant's delete landed before ours
    controller = controller_over(virtual)
    await controller._run(KEY, None, recreate_steps())
    assert virtual.writes == ["delete ns/web"]
    assert KEY not in controller._recreating


async def test_a_recreated_service_the_tenant_deleted_before_the_cache_saw_it_counts_as_deleted() -> None:
    vsvc = {"metadata": {"name": "web", "namespace": "ns", "uid": "u1"}}
    virtual = VirtualSide({KEY: vsvc})
    controller = controller_over(virtual)
    controller.hstore.upsert(host_copy(controller, vsvc))
    await controller._run(KEY, None, recreate_steps())
    assert virtual.writes == ["delete ns/web", "create ns/web"] and controller._recreating[KEY] is None
    assert await controller.reconcile(KEY) == "unchanged"  # still there: the cache will catch up
    del virtual.objects[KEY]  # the tenant deletes it; the cache never saw it
    await controller.reconcile(KEY)
    assert KEY not in controller._recreating
    assert controller.engine.host_api.deleted == ["web-x-ns-x-vc"]
