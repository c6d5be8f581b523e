"""Observation by watch: a background list+watch of one resource that stamps every event with the monotonic time it
was delivered, and trackers that wait (with deadlines, never sleeps) until given keys have been seen in some state.
A watch is connected before `start` returns, so what a scenario does next is observed live, not replayed."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable, Iterable
from typing import Any

from bench.kube import BenchApiError, Http, Obj, lines

WATCH_TIMEOUT = 600
Handler = Callable[[str, Obj, float], None]


def meta(obj: Obj) -> Obj:
    return obj.get("metadata") or {}


class Watcher:
    """List, then watch from the list's resourceVersion, re-watching when the server ends the stream and re-listing
    after 410 Gone. Handlers get (type, object, delivery time); the initial list is delivered as ADDED."""

    def __init__(self, http: Http, resource_path: str, *, labels: str = "", fields: str = "") -> None:
        self.http = http
        self.path = resource_path
        self.query = [(k, v) for k, v in (("labelSelector", labels), ("fieldSelector", fields)) if v]
        self.handlers: list[Handler] = []
        self.objects: dict[str, Obj] = {}
        self._task: asyncio.Task[None] | None = None
        self._rv = ""

    def on(self, handler: Handler) -> Watcher:
        self.handlers.append(handler)
        return self

    async def start(self) -> Watcher:
        stream = await self._relist_and_open()
        self._task = asyncio.create_task(self._run(stream), name=f"watch {self.path}")
        return self

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

    async def __aenter__(self) -> Watcher:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _relist_and_open(self) -> Any:
        listed = await self.http.call("GET", self.path, query=self.query)
        assert listed is not None
        self._rv = meta(listed)["resourceVersion"]
        now = time.monotonic()
        seen = set()
        for item in listed.get("items") or ():
            key = f"{meta(item).get('namespace', '')}/{meta(item)['name']}"
            seen.add(key)
            self._deliver("ADDED", item, now)
        for key in set(self.objects) - seen:
            self._deliver("DELETED", self.objects[key], now)
        return await self.http.watch_stream(self.path, [*self.query, ("resourceVersion", self._rv)], WATCH_TIMEOUT)

    async def _run(self, stream: Any) -> None:
        while True:
            try:
                try:
                    async for line in lines(stream.content):
                        event = json.loads(line)
                        kind, obj = event.get("type"), event.get("object") or {}
                        if kind == "ERROR":
                            raise BenchApiError("WATCH", self.path, int(obj.get("code") or 500), line)
                        self._rv = meta(obj).get("resourceVersion") or self._rv
                        if kind != "BOOKMARK":
                            self._deliver(kind, obj, time.monotonic())
                finally:
                    stream.release()
                query = [*self.query, ("resourceVersion", self._rv)]
                stream = await self.http.watch_stream(self.path, query, WATCH_TIMEOUT)
            except BenchApiError as e:
                if e.status != 410:
                    raise
                stream = await self._relist_and_open()

    def _deliver(self, kind: str, obj: Obj, at: float) -> None:
        key = f"{meta(obj).get('namespace', '')}/{meta(obj)['name']}"
        if kind == "DELETED":
            self.objects.pop(key, None)
        else:
            self.objects[key] = obj
        for handler in self.handlers:
            handler(kind, obj, at)

    def check(self) -> None:
        """Raise the watch task's error, if it died."""
        if self._task and self._task.done() and not self._task.cancelled() and self._task.exception():
            raise self._task.exception()  # type: ignore[misc]


class Seen:
    """First delivery time of each object (by a key function) once `match` holds for it; `gone` tracks deletions.
    `wait` returns when every expected key has been seen, or raises TimeoutError naming what is missing."""

    def __init__(self, key: Callable[[Obj], str | None], match: Callable[[Obj], bool] = lambda _: True) -> None:
        self.key = key
        self.match = match
        self.times: dict[str, float] = {}
        self.live: set[str] = set()
        self._changed = asyncio.Event()

    def __call__(self, kind: str, obj: Obj, at: float) -> None:
        key = self.key(obj)
        if key is None:
            return
        if kind == "DELETED":
            self.live.discard(key)
        else:
            self.live.add(key)
            if key not in self.times and self.match(obj):
                self.times[key] = at
        self._changed.set()

    async def _until(
        self, done: Callable[[], bool], timeout: float, what: Callable[[], str], *watchers: Watcher
    ) -> None:
        deadline = time.monotonic() + timeout
        while not done():
            for watcher in watchers:
                watcher.check()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what()}")
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), min(remaining, 5.0))

    async def wait(self, keys: Iterable[str], timeout: float, what: str, *watchers: Watcher) -> dict[str, float]:
        wanted = set(keys)

        def missing() -> str:
            left = sorted(wanted - self.times.keys())
            return f"{what}: {len(left)} of {len(wanted)} missing, e.g. {left[:3]}"

        await self._until(lambda: wanted <= self.times.keys(), timeout, missing, *watchers)
        return {k: self.times[k] for k in wanted}

    async def wait_gone(self, timeout: float, what: str, *watchers: Watcher) -> None:
        await self._until(lambda: not self.live, timeout, lambda: f"{what}: {len(self.live)} left", *watchers)
