"""--watch-idle-timeout: a watch stream that delivers nothing raises WatchIdle (through the real aiohttp transport, from
a loopback server that goes silent), and the reflector takes it as a restart that watches again from where it was."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from kubernetes_asyncio import client

from syncer import metrics
from syncer.cache import Store
from syncer.kube.api import KubeApi, WatchIdle
from syncer.ratelimit import TokenBucket
from syncer.reflector import Reflector
from vocab.resources import CONFIGMAPS

EVENT = b'{"type":"BOOKMARK","object":{"kind":"ConfigMap","metadata":{"resourceVersion":"7"}}}\n'
CHUNKED_EVENT = f"{len(EVENT):x}\r\n".encode() + EVENT + b"\r\n"


async def _silent_server(headers: bool) -> asyncio.Server:
    """Answers one request with a chunked 200 and one event (or with nothing at all), then never writes again."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        if headers:
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
            writer.write(CHUNKED_EVENT)
        await reader.read()  # until the client gives up and closes
        writer.close()

    return await asyncio.start_server(serve, "127.0.0.1", 0)


@pytest.mark.parametrize("headers", [True, False], ids=["after-an-event", "before-the-headers"])
async def test_a_watch_that_delivers_nothing_for_the_idle_timeout_raises_watch_idle(headers: bool) -> None:
    server = await _silent_server(headers)
    cfg = client.Configuration()
    cfg.host = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    events: list[dict[str, Any]] = []
    async with server, client.ApiClient(configuration=cfg) as api_client:
        api = KubeApi(api_client, "host", bucket=TokenBucket(100, 100), request_timeout=5, watch_idle_timeout=0.3)
        with pytest.raises(WatchIdle):
            async with asyncio.timeout(5):
                async for event in api.watch(CONFIGMAPS, "ns", resource_version="5", timeout_seconds=300):
                    events.append(event)
    assert len(events) == (1 if headers else 0)


class _StallingApi:
    """Lists at version 5 (the server is at 9 when asked again); its first watch delivers one change and stalls,
    later watches block."""

    cluster = "host"

    def __init__(self) -> None:
        self.list_limits: list[int] = []
        self.watched_from: list[str] = []
        self.watching_again = asyncio.Event()

    async def list_page(self, res: Any, namespace: Any, *, limit: int, **_: Any) -> dict[str, Any]:
        self.list_limits.append(limit)
        return {"items": [], "metadata": {"resourceVersion": "5" if len(self.list_limits) == 1 else "9"}}

    async def watch(self, res: Any, namespace: Any, *, resource_version: str, **_: Any) -> AsyncIterator[dict]:
        self.watched_from.append(resource_version)
        if len(self.watched_from) == 1:
            yield {"type": "ADDED", "object": {"metadata": {"name": "a", "namespace": "ns", "resourceVersion": "6"}}}
            raise WatchIdle("no event or bookmark for 120s")
        self.watching_again.set()
        await asyncio.Event().wait()


async def test_the_reflector_watches_again_from_where_the_stalled_watch_was_without_a_relist() -> None:
    api = _StallingApi()
    store = Store("configmaps", "host")
    idle = metrics.WATCH_RESTARTS.labels("host", "configmaps", "idle")
    before = idle._value.get()
    task = asyncio.create_task(Reflector(api, CONFIGMAPS, store).run())  # type: ignore[arg-type]
    try:
        await asyncio.wait_for(api.watching_again.wait(), 5)
    finally:
        task.cancel()
    assert api.watched_from == ["5", "6"]
    assert api.list_limits == [500, 1]  # the first LIST, then only the one-item storage check: no relist
    assert store.get("ns/a") is not None
    assert idle._value.get() - before == 1
