"""Small async helpers tests use to read and write objects as plain dicts (so assertions look like the YAML a
user would see), with 404 as None."""

from __future__ import annotations

import json
from typing import Any

from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException

Obj = dict[str, Any]


class Core:
    """CoreV1 calls on plain dicts for one cluster."""

    def __init__(self, api: client.ApiClient) -> None:
        self.v1 = client.CoreV1Api(api)

    async def get(self, kind: str, namespace: str, name: str) -> Obj | None:
        read = getattr(self.v1, f"read_namespaced_{kind}")
        try:
            resp = await read(name, namespace, _preload_content=False)
        except ApiException as e:
            if e.status == 404:
                return None
            raise
        if resp.status == 404:  # without preloading, kubernetes_asyncio does not raise on 404
            return None
        return json.loads(await resp.read())

    async def create(self, kind: str, namespace: str, body: Obj) -> Obj:
        create = getattr(self.v1, f"create_namespaced_{kind}")
        return await _checked(await create(namespace, body, _preload_content=False))

    async def patch(self, kind: str, namespace: str, name: str, body: Obj) -> Obj:
        patch = getattr(self.v1, f"patch_namespaced_{kind}")
        return await _checked(await patch(name, namespace, body, _preload_content=False))

    async def delete(self, kind: str, namespace: str, name: str) -> None:
        delete = getattr(self.v1, f"delete_namespaced_{kind}")
        try:
            await delete(name, namespace)
        except ApiException as e:
            if e.status != 404:
                raise

    async def events_for(self, namespace: str, name: str) -> list[Obj]:
        events = await self.v1.list_namespaced_event(
            namespace, field_selector=f"involvedObject.name={name}", _preload_content=False
        )
        return json.loads(await events.read())["items"]


async def _checked(resp: Any) -> Obj:
    """The decoded body; without preloading kubernetes_asyncio does not raise on an error status, so this does."""
    data = await resp.read()
    if resp.status >= 300:
        error = ApiException(status=resp.status, reason=resp.reason)
        error.body = data.decode(errors="replace")
        raise error
    return json.loads(data)


def pod(
    name: str,
    *,
    env_configmap: str | None = None,
    env_from_secret: str | None = None,
    volume_configmap: str | None = None,
) -> Obj:
    """A pod that references ConfigMaps/Secrets the way tenants do (it stays Pending: nothing schedules it)."""
    container: Obj = {"name": "app", "image": "busybox"}
    if env_configmap:
        container["env"] = [{"name": "A", "valueFrom": {"configMapKeyRef": {"name": env_configmap, "key": "a"}}}]
    if env_from_secret:
        container["envFrom"] = [{"secretRef": {"name": env_from_secret}}]
    spec: Obj = {"containers": [container], "automountServiceAccountToken": False}
    if volume_configmap:
        spec["volumes"] = [{"name": "v", "configMap": {"name": volume_configmap}}]
    return {"metadata": {"name": name}, "spec": spec}


class Any_:
    """Plain-dict access to any resource by its API path, e.g. `/apis/policy/v1/namespaces/x/poddisruptionbudgets`."""

    def __init__(self, api: client.ApiClient) -> None:
        self.api = api

    async def call(self, method: str, path: str, body: Obj | None = None, patch: bool = False) -> Obj | None:
        content = "application/merge-patch+json" if patch else "application/json"
        resp = await self.api.call_api(
            path,
            method,
            header_params={"Content-Type": content, "Accept": "application/json"},
            body=body,
            auth_settings=["BearerToken"],
            _preload_content=False,
        )
        data = await resp.read()
        if resp.status == 404:
            return None
        if resp.status >= 300:
            raise AssertionError(f"{method} {path}: {resp.status} {data[:300]!r}")
        return json.loads(data)
