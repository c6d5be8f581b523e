"""HTTP endpoints for the kubelet and Prometheus (SPEC §9.8, §10): /healthz is 200 while the event loop answers
(a 1 s watchdog tick younger than 10 s), /readyz once the initial sync is done (standbys: once caches sync),
/metrics on its own port, with /debug/caches (syncer.cachesize). Either address may be `0` to disable it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from vocab.flagvalues import parse_bind_address

WATCHDOG_PERIOD, WATCHDOG_STALE = 1.0, 10.0


class HealthServer:
    def __init__(self, ready: Callable[[], bool], caches: Callable[[], dict[str, Any]] = dict) -> None:
        self._ready = ready
        self._caches = caches
        self._last_tick = time.monotonic()
        self._runners: list[web.AppRunner] = []
        self._watchdog: asyncio.Task[None] | None = None
        self.ports: dict[str, int] = {}

    async def _tick(self) -> None:
        while True:
            self._last_tick = time.monotonic()
            await asyncio.sleep(WATCHDOG_PERIOD)

    async def _healthz(self, _: web.Request) -> web.Response:
        healthy = time.monotonic() - self._last_tick < WATCHDOG_STALE
        return web.Response(status=200 if healthy else 500, text="ok" if healthy else "event loop stalled")

    async def _readyz(self, _: web.Request) -> web.Response:
        return web.Response(status=200, text="ok") if self._ready() else web.Response(status=503, text="not ready")

    async def _metrics(self, _: web.Request) -> web.Response:
        return web.Response(body=generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def _debug_caches(self, _: web.Request) -> web.Response:
        return web.json_response(self._caches())

    async def start(self, health_address: str, metrics_address: str) -> None:
        self._watchdog = asyncio.create_task(self._tick(), name="watchdog")
        await self._serve(
            "health", health_address, [web.get("/healthz", self._healthz), web.get("/readyz", self._readyz)]
        )
        metrics = [web.get("/metrics", self._metrics), web.get("/debug/caches", self._debug_caches)]
        await self._serve("metrics", metrics_address, metrics)

    async def _serve(self, what: str, address: str, routes: list[web.RouteDef]) -> None:
        bind = parse_bind_address(address)
        if bind is None:
            return
        app = web.Application()
        app.add_routes(routes)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, bind[0] or None, bind[1])
        await site.start()
        self._runners.append(runner)
        self.ports[what] = runner.addresses[0][1]

    async def stop(self) -> None:
        if self._watchdog:
            self._watchdog.cancel()
        for runner in self._runners:
            await runner.cleanup()
