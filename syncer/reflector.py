"""Keeps one Store equal to the server: paged LIST, then WATCH from the list's resourceVersion with bookmarks.
End of stream, and a stream idle for --watch-idle-timeout (WatchIdle), re-watch from the last version seen; 410 Gone
re-lists (the store emits only the difference); other errors back off 0.8 s doubling to 30 s with jitter, a 429 at
least its Retry-After. The first watch after an idle stream or an error checks that the server's storage did not go
back in time (etcd wiped or restored), which a watch would not tell. `synced` is set after the first complete LIST."""

from __future__ import annotations

import asyncio
import random
import time

import aiohttp

from syncer import metrics
from syncer.cache import Store
from syncer.kube.api import ApiError, KubeApi, WatchIdle
from syncer.log import get_logger
from syncer.ratelimit import Backoff
from vocab.resources import Resource

log = get_logger("reflector")
PAGE_SIZE = 500
RETRY_AFTER_MAX = 60.0  # seconds: the longest a Retry-After from a throttling server is honoured


class Reflector:
    def __init__(
        self,
        api: KubeApi,
        res: Resource,
        store: Store,
        *,
        namespace: str | None = None,
        label_selector: str = "",
        field_selector: str = "",
    ) -> None:
        self.api, self.res, self.store = api, res, store
        self.namespace, self.label_selector, self.field_selector = namespace, label_selector, field_selector
        self.resource_version = ""
        self.synced = asyncio.Event()
        self.list_seconds = 0.0  # how long the last complete LIST took, pages and store included
        self._reconnecting = False

    async def run(self) -> None:
        backoff = Backoff(0.8, 30.0, jitter=0.25, reset_after=120.0)
        while True:
            try:
                if not self.resource_version:
                    await self._list()
                elif self._reconnecting:
                    await self._relist_if_storage_went_back()
                self._reconnecting = False
                await self._watch()
                self._restarted("timeout")
            except ApiError as e:
                if e.gone or e.version_too_new:
                    log.info(
                        "resource version expired; re-listing" if e.gone else "storage went back; re-listing",
                        cluster=self.api.cluster,
                        kind=self.res.plural,
                        resource_version=self.resource_version,
                    )
                    self.resource_version = ""
                    self._restarted("gone" if e.gone else "storage_back")
                    continue
                await self._back_off(backoff, e)
            except WatchIdle as e:  # a dead connection, not a failing server: at once, on a fresh connection
                log.warning(
                    "watch stalled; watching again",
                    cluster=self.api.cluster,
                    kind=self.res.plural,
                    error=str(e),
                    resource_version=self.resource_version,
                )
                self._restarted("idle")
                self._reconnecting = True
            except (aiohttp.ClientError, TimeoutError, OSError, ValueError) as e:
                await self._back_off(backoff, e)

    async def _list(self) -> None:
        started = time.monotonic()
        kept: list[tuple[str, dict | None]] = []
        continue_token = ""
        while True:
            page = await self.api.list_page(
                self.res,
                self.namespace,
                label_selector=self.label_selector,
                field_selector=self.field_selector,
                continue_token=continue_token,
                limit=PAGE_SIZE,
            )
            for item in page.get("items") or ():
                item.setdefault("apiVersion", self.res.api_version)
                item.setdefault("kind", self.res.kind)
                kept.append(self.store.keep(item))
            continue_token = page["metadata"].get("continue", "")
            if not continue_token:
                break
        self.store.replace(kept)
        self.resource_version = page["metadata"]["resourceVersion"]
        self.list_seconds = time.monotonic() - started
        self.synced.set()

    async def _watch(self) -> None:
        timeout = random.randrange(300, 600)
        async for event in self.api.watch(
            self.res,
            self.namespace,
            resource_version=self.resource_version,
            timeout_seconds=timeout,
            label_selector=self.label_selector,
            field_selector=self.field_selector,
        ):
            obj = event["object"]
            kind = event["type"]
            if kind == "DELETED":
                self.store.remove(obj)
            elif kind in ("ADDED", "MODIFIED"):
                self.store.upsert(obj)
            self.resource_version = obj["metadata"]["resourceVersion"]

    async def _relist_if_storage_went_back(self) -> None:
        """A cached watch from a version the server's storage has not reached yet waits silently until it gets
        there, so after a lost connection compare with the server's current version first: if it is behind ours,
        what the store holds is history, and a fresh LIST replaces it. (Versions are compared as the etcd revisions
        they are; anything else is left to the watch.)"""
        page = await self.api.list_page(
            self.res, self.namespace, label_selector=self.label_selector, field_selector=self.field_selector, limit=1
        )
        current, ours = page["metadata"].get("resourceVersion", ""), self.resource_version
        if current.isdigit() and ours.isdigit() and int(current) < int(ours):
            log.info(
                "storage went back; re-listing",
                cluster=self.api.cluster,
                kind=self.res.plural,
                resource_version=ours,
                server_resource_version=current,
            )
            self._restarted("storage_back")
            await self._list()

    def _restarted(self, reason: str) -> None:
        metrics.WATCH_RESTARTS.labels(self.api.cluster, self.res.plural, reason).inc()

    async def _back_off(self, backoff: Backoff, error: Exception) -> None:
        self._restarted("error")
        self._reconnecting = True
        delay = backoff.next()
        if isinstance(error, ApiError) and error.retry_after:  # a throttling server says when: not sooner
            delay = max(delay, min(error.retry_after, RETRY_AFTER_MAX))
        log.warning(
            "watch failed; retrying",
            cluster=self.api.cluster,
            kind=self.res.plural,
            error=str(error) or type(error).__name__,
            retry_in_s=round(delay, 2),
        )
        await asyncio.sleep(delay)
