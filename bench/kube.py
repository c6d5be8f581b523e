"""The benchmark's own API client: plain-dict requests and raw watch streams through kubernetes_asyncio's transport.
It is deliberately not vcsync's client, so the floor measurements share nothing with the code under test except
the HTTP stack, and watch streams report when they are connected (so no event is replayed late)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterable
from typing import Any

import aiohttp
from kubernetes_asyncio import client

from syncer.ratelimit import TokenBucket

Obj = dict[str, Any]
REQUEST_TIMEOUT = 30.0
PATCH_TYPES = {"merge": "application/merge-patch+json", "strategic": "application/strategic-merge-patch+json"}


class BenchApiError(RuntimeError):
    def __init__(self, method: str, path: str, status: int, body: bytes) -> None:
        super().__init__(f"{method} {path}: HTTP {status}: {body[:300].decode(errors='replace')}")
        self.status = status
        self.body = body


class Http:
    """Requests to one API server as the cluster admin, optionally paced by a token bucket."""

    def __init__(self, api_client: client.ApiClient, name: str, bucket: TokenBucket | None = None) -> None:
        self.client = api_client
        self.name = name
        self.bucket = bucket

    def paced(self, qps: float, burst: int) -> Http:
        """The same connection pool behind a fresh client-side rate limit (QPS/burst as vcsync's flags)."""
        return Http(self.client, self.name, TokenBucket(qps, burst))

    async def _open(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        query: Iterable[tuple[str, str]] = (),
        content_type: str = "application/json",
        timeout: aiohttp.ClientTimeout | None = None,
    ) -> aiohttp.ClientResponse:
        return await self.client.call_api(
            path,
            method,
            query_params=list(query),
            header_params={"Content-Type": content_type, "Accept": "application/json"},
            body=body,
            auth_settings=["BearerToken"],
            _preload_content=False,
            _request_timeout=timeout or aiohttp.ClientTimeout(total=REQUEST_TIMEOUT),
        )

    async def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        query: Iterable[tuple[str, str]] = (),
        patch: str = "",
        allow: tuple[int, ...] = (),
    ) -> Obj | None:
        """One request; returns the decoded body, None for a status in `allow`, raises on any other non-2xx."""
        if self.bucket:
            await self.bucket.acquire()
        content_type = PATCH_TYPES[patch] if patch else "application/json"
        resp = await self._open(method, path, body=body, query=query, content_type=content_type)
        try:
            data = await resp.read()
        finally:
            resp.release()
        if resp.status in allow:
            return None
        if resp.status >= 300:
            raise BenchApiError(method, path, resp.status, data)
        return json.loads(data) if data else {}

    async def create(self, path: str, body: Obj) -> float:
        """POST and return the monotonic time the API server's answer was read (the acknowledgement)."""
        await self.call("POST", path, body)
        return time.monotonic()

    async def open_stream(self, path: str, query: list[tuple[str, str]]) -> aiohttp.ClientResponse:
        """A GET whose body keeps coming (a followed log); the caller closes it."""
        timeout = aiohttp.ClientTimeout(total=None, connect=REQUEST_TIMEOUT, sock_read=None)
        return await self._open("GET", path, query=query, timeout=timeout)

    async def watch_stream(
        self, path: str, query: list[tuple[str, str]], timeout_seconds: int
    ) -> aiohttp.ClientResponse:
        """Open a watch; when this returns the server has accepted it, so later changes arrive live."""
        query = [*query, ("watch", "true"), ("allowWatchBookmarks", "true"), ("timeoutSeconds", str(timeout_seconds))]
        timeout = aiohttp.ClientTimeout(total=None, connect=REQUEST_TIMEOUT, sock_read=timeout_seconds + 30)
        resp = await self._open("GET", path, query=query, timeout=timeout)
        if resp.status >= 300:
            data = await resp.read()
            resp.release()
            raise BenchApiError("WATCH", path, resp.status, data)
        return resp


async def lines(stream: aiohttp.StreamReader) -> AsyncIterator[bytes]:
    """Newline-separated watch events, without aiohttp's per-line size limit."""
    buffer = bytearray()
    async for chunk in stream.iter_any():
        buffer += chunk
        while (end := buffer.find(b"\n")) >= 0:
            line = bytes(buffer[:end])
            del buffer[: end + 1]
            if line.strip():
                yield line
    if buffer.strip():
        yield bytes(buffer)


# ---- paths and bodies ------------------------------------------------------------------------------------------
def path(plural: str, namespace: str | None = None, name: str = "", sub: str = "", group: str = "") -> str:
    base = f"/apis/{group}" if group else "/api/v1"
    if namespace:
        base += f"/namespaces/{namespace}"
    base += f"/{plural}"
    if name:
        base += f"/{name}"
    if sub:
        base += f"/{sub}"
    return base


def pod(name: str, *, configmap: str = "", secret: str = "") -> Obj:
    """A tenant-like pod (baseline pod security, no token mount so no token Secrets are synced), optionally using
    one ConfigMap and one Secret by reference."""
    container: Obj = {"name": "app", "image": "registry.k8s.io/pause:3.10"}
    if configmap:
        container["env"] = [{"name": "A", "valueFrom": {"configMapKeyRef": {"name": configmap, "key": "a"}}}]
    if secret:
        container["envFrom"] = [{"secretRef": {"name": secret}}]
    spec = {"containers": [container], "automountServiceAccountToken": False, "terminationGracePeriodSeconds": 0}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"app": "bench"}}, "spec": spec}


def configmap(name: str) -> Obj:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"a": "1" * 64}}


def secret(name: str) -> Obj:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, "stringData": {"b": "2" * 64}}


def pod_set(prefix: str, index: int) -> list[tuple[str, Obj]]:
    """The three objects of bulk pod number `index`: its ConfigMap, its Secret, then the pod using both."""
    name = f"{prefix}-{index}"
    return [
        ("configmaps", configmap(f"{name}-cfg")),
        ("secrets", secret(f"{name}-sec")),
        ("pods", pod(name, configmap=f"{name}-cfg", secret=f"{name}-sec")),
    ]


async def ensure_namespace(http: Http, name: str) -> None:
    await http.call("POST", path("namespaces"), {"metadata": {"name": name}}, allow=(409,))


async def run_bounded(jobs: Iterable[Any], limit: int) -> list[Any]:
    """Await coroutines with at most `limit` in flight, in order of submission; returns their results."""
    semaphore = asyncio.Semaphore(limit)

    async def one(job: Any) -> Any:
        async with semaphore:
            return await job

    return await asyncio.gather(*(one(job) for job in jobs))
