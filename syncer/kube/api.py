"""Plain-dict requests and watches against one API server, wrapping kubernetes_asyncio's transport once.
It fixes the client's traps here and nowhere else: every request has a timeout (watches an idle timeout, so a
stalled stream raises WatchIdle), non-2xx statuses always raise (also without preloading), watch ERROR events
(410 Gone) raise instead of being yielded, and writes pass the leader gate, the rate limit and dry-run."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import urlencode

import aiohttp
import orjson
from kubernetes_asyncio import client

from syncer import metrics
from syncer.log import get_logger
from syncer.ratelimit import TokenBucket
from vocab.resources import Resource

log = get_logger("api")

WRITE_VERBS = {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}
PATCH_TYPES = {
    "merge": "application/merge-patch+json",
    "json": "application/json-patch+json",
    "strategic": "application/strategic-merge-patch+json",
    "apply": "application/apply-patch+yaml",  # server-side apply; a JSON body is valid YAML
}


class ApiError(Exception):
    """A non-2xx answer (or a watch ERROR event), with the server's Status reason and message."""

    def __init__(self, status: int, reason: str = "", message: str = "", retry_after: float | None = None) -> None:
        super().__init__(f"{status} {reason}: {message}".strip())
        self.status, self.reason, self.message, self.retry_after = status, reason, message, retry_after

    @classmethod
    def from_status(cls, code: int, body: bytes | dict[str, Any], retry_after: str | None = None) -> ApiError:
        doc = body if isinstance(body, dict) else _decode(body)
        after = float(retry_after) if retry_after and retry_after.isdigit() else None
        return cls(doc.get("code", code), doc.get("reason", ""), doc.get("message", str(doc)[:300]), after)

    @property
    def not_found(self) -> bool:
        return self.status == 404

    @property
    def already_exists(self) -> bool:
        return self.status == 409 and self.reason == "AlreadyExists"

    @property
    def gone(self) -> bool:
        return self.status == 410 or self.reason in ("Expired", "Gone")

    @property
    def version_too_new(self) -> bool:
        """The server has no such resourceVersion yet: its etcd went back in time (wiped, restored)."""
        return "Too large resource version" in self.message


class WatchIdle(Exception):
    """A watch delivered nothing, not even a bookmark, for the idle timeout: its connection is taken as dead (a
    black-holing NAT or load balancer keeps it open) and closed, so the caller can watch again on a fresh one."""


class NotLeader(Exception):
    """A write was attempted without a fresh lease: refused before it reaches the server."""


def parse_json(data: bytes) -> Any:
    """orjson's C decoder (2.5x the stdlib's), exact for every number an API server sends (it decodes even custom
    resources' numbers to int64 or float64); the stdlib's for anything orjson refuses, so nothing new fails."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return json.loads(data)


def _encode(body: Any) -> bytes:
    """A request body as JSON: orjson, or the stdlib for what orjson refuses (integers beyond 64 bits)."""
    try:
        return orjson.dumps(body)
    except TypeError:
        return json.dumps(body).encode()


def _decode(body: bytes) -> dict[str, Any]:
    try:
        doc = parse_json(body)
    except ValueError:
        return {"message": body[:300].decode(errors="replace")}
    return doc if isinstance(doc, dict) else {"message": str(doc)[:300]}


class KubeApi:
    def __init__(
        self,
        api_client: client.ApiClient,
        cluster: str,
        *,
        bucket: TokenBucket,
        request_timeout: float = 30.0,
        watch_idle_timeout: float = 150.0,
        write_gate: Callable[[], None] | None = None,
        dry_run: bool = False,
    ) -> None:
        self._client = api_client
        self.cluster = cluster
        self._bucket = bucket
        self._timeout = request_timeout
        self._idle_timeout = watch_idle_timeout
        self._write_gate = write_gate
        self.dry_run = dry_run

    # ---- transport -----------------------------------------------------------------------------------------
    async def _open(
        self,
        method: str,
        path: str,
        *,
        query: list[tuple[str, str]] | None = None,
        body: Any = None,
        content_type: str = "application/json",
        timeout: aiohttp.ClientTimeout | None = None,
        accept: str = "application/json",
    ) -> aiohttp.ClientResponse:
        """The request as kubernetes_asyncio's REST client would send it (its aiohttp session, TLS, proxy and token),
        without its generic layer: call_api walks every header, query and body value to "sanitize" it and the stdlib
        encodes the body: about 5% of vcsync's CPU under load (measured with cProfile); orjson encodes here."""
        rest, cfg = self._client.rest_client, self._client.configuration
        headers = {**self._client.default_headers, "Content-Type": content_type, "Accept": accept}
        if auth := (await cfg.auth_settings()).get("BearerToken"):  # refreshed by the client when it expires
            headers[auth["key"]] = auth["value"]
        options: dict[str, Any] = {}
        if rest.proxy:
            options["proxy"] = rest.proxy
            options["proxy_headers"] = rest.proxy_headers
        if rest.server_hostname:
            options["server_hostname"] = rest.server_hostname
        return await rest.pool_manager.request(
            method,
            cfg.host + path + (f"?{urlencode(query)}" if query else ""),
            headers=headers,
            data=None if body is None else _encode(body),
            timeout=timeout or aiohttp.ClientTimeout(total=self._timeout),
            **options,
        )

    async def request(
        self,
        method: str,
        path: str,
        *,
        verb: str,
        query: list[tuple[str, str]] | None = None,
        body: Any = None,
        content_type: str = "application/json",
    ) -> dict[str, Any]:
        """One rate-limited request; returns the decoded body, raises ApiError on any non-2xx answer."""
        await self._bucket.acquire()
        if method in WRITE_VERBS:
            self._pass_gate(verb, path)  # after the wait for a token, which may outlast the renew deadline
            log.debug("api write", cluster=self.cluster, verb=verb, path=path)
        started = time.monotonic()
        code = "error"
        try:
            resp = await self._open(method, path, query=query, body=body, content_type=content_type)
            try:
                data = await resp.read()
                code = str(resp.status)
                if resp.status >= 300:
                    raise ApiError.from_status(resp.status, data, resp.headers.get("Retry-After"))
                return _decode(data) if data else {}
            finally:
                resp.release()
        finally:
            metrics.API_REQUESTS.labels(self.cluster, verb, code).inc()
            metrics.API_DURATION.labels(self.cluster, verb).observe(time.monotonic() - started)

    def _pass_gate(self, verb: str, path: str) -> None:
        """The leader gate for one write: a refusal is counted and logged before NotLeader propagates."""
        if self._write_gate is not None:
            try:
                self._write_gate()
            except NotLeader:
                metrics.WRITES_REFUSED.labels(self.cluster).inc()
                log.warning("write refused: not the leader", cluster=self.cluster, verb=verb, path=path)
                raise

    # ---- reads ---------------------------------------------------------------------------------------------
    async def get(self, res: Resource, namespace: str | None, name: str) -> dict[str, Any] | None:
        try:
            return await self.request("GET", res.path(namespace, name), verb="get")
        except ApiError as e:
            if e.not_found:
                return None
            raise

    async def list_page(
        self,
        res: Resource,
        namespace: str | None = None,
        *,
        label_selector: str = "",
        field_selector: str = "",
        limit: int = 500,
        continue_token: str = "",
    ) -> dict[str, Any]:
        query = [("limit", str(limit))]
        if label_selector:
            query.append(("labelSelector", label_selector))
        if field_selector:
            query.append(("fieldSelector", field_selector))
        if continue_token:
            query.append(("continue", continue_token))
        return await self.request("GET", res.path(namespace), verb="list", query=query)

    async def watch(
        self,
        res: Resource,
        namespace: str | None,
        *,
        resource_version: str,
        timeout_seconds: int,
        label_selector: str = "",
        field_selector: str = "",
    ) -> AsyncIterator[dict[str, Any]]:
        """Yield watch events (bookmarks included) until the server ends the stream; ERROR events raise, and so does
        a stream that delivers nothing for the idle timeout (WatchIdle). The server sends bookmarks on one-minute ticks
        to watches that allow them (skipping ticks until its cache passes the watch's first version), so a healthy
        watch is never idle for long."""
        query = [
            ("watch", "true"),
            ("allowWatchBookmarks", "true"),
            ("resourceVersion", resource_version),
            ("timeoutSeconds", str(timeout_seconds)),
        ]
        if label_selector:
            query.append(("labelSelector", label_selector))
        if field_selector:
            query.append(("fieldSelector", field_selector))
        idle = self._idle_timeout
        timeout = aiohttp.ClientTimeout(total=None, connect=self._timeout, sock_read=idle)  # also the headers' wait
        await self._bucket.acquire()
        try:
            resp = await self._open("GET", res.path(namespace), query=query, timeout=timeout)
        except aiohttp.SocketTimeoutError as e:
            raise WatchIdle(f"no answer for {idle:g}s") from e
        metrics.API_REQUESTS.labels(self.cluster, "watch", str(resp.status)).inc()
        try:
            if resp.status >= 300:
                raise ApiError.from_status(resp.status, await resp.read(), resp.headers.get("Retry-After"))
            async for line in _lines(resp.content):
                event = parse_json(line)
                if event.get("type") == "ERROR":
                    raise ApiError.from_status(500, event.get("object") or {})
                yield event
        except aiohttp.SocketTimeoutError as e:
            resp.close()  # never back into the pool
            raise WatchIdle(f"no event or bookmark for {idle:g}s") from e
        finally:
            resp.release()

    @contextlib.asynccontextmanager
    async def stream(self, path: str, query: list[tuple[str, str]]) -> AsyncIterator[aiohttp.ClientResponse]:
        """A GET whose body is read as it arrives (pod logs), with no read timeout; a non-2xx answer raises ApiError.
        Leaving the block closes the connection, which ends the server's side of a followed stream too."""
        await self._bucket.acquire()
        timeout = aiohttp.ClientTimeout(total=None, connect=self._timeout, sock_read=None)
        resp = await self._open("GET", path, query=query, timeout=timeout, accept="*/*")
        metrics.API_REQUESTS.labels(self.cluster, "stream", str(resp.status)).inc()
        try:
            if resp.status >= 300:
                raise ApiError.from_status(resp.status, await resp.read())
            yield resp
        finally:
            resp.close()

    # ---- writes --------------------------------------------------------------------------------------------
    def _dry(self, body: Any) -> dict[str, Any] | None:
        """In dry run, what a write would have returned (the body); None when the write must really happen.
        The intended write itself is logged by the caller, which knows the kind and names."""
        if not self.dry_run:
            return None
        return dict(body) if isinstance(body, dict) else {}

    async def create(
        self, res: Resource, namespace: str | None, body: dict[str, Any], subresource: str | None = None
    ) -> dict[str, Any]:
        path = res.path(namespace, body["metadata"]["name"], subresource) if subresource else res.path(namespace)
        if (dry := self._dry(body)) is not None:
            return dry
        return await self.request("POST", path, verb="create", body=body)

    async def patch(
        self,
        res: Resource,
        namespace: str | None,
        name: str,
        patch: Any,
        *,
        subresource: str | None = None,
        patch_type: str = "merge",
    ) -> dict[str, Any]:
        path = res.path(namespace, name, subresource)
        if (dry := self._dry(patch)) is not None:
            return dry
        return await self.request("PATCH", path, verb="patch", body=patch, content_type=PATCH_TYPES[patch_type])

    async def apply(
        self, res: Resource, namespace: str | None, body: dict[str, Any], *, field_manager: str
    ) -> dict[str, Any]:
        """Server-side apply of `body` as `field_manager`, forcing: fields another manager set are taken over, fields
        `body` leaves out stay as they are (and keep their owners)."""
        path = res.path(namespace, body["metadata"]["name"])
        if (dry := self._dry(body)) is not None:
            return dry
        query = [("fieldManager", field_manager), ("force", "true")]
        return await self.request(
            "PATCH", path, verb="patch", query=query, body=body, content_type=PATCH_TYPES["apply"]
        )

    async def replace(self, res: Resource, namespace: str | None, name: str, body: dict[str, Any]) -> dict[str, Any]:
        path = res.path(namespace, name)
        if (dry := self._dry(body)) is not None:
            return dry
        return await self.request("PUT", path, verb="update", body=body)

    async def delete(
        self,
        res: Resource,
        namespace: str | None,
        name: str,
        *,
        grace_seconds: int | None = None,
        uid: str | None = None,
        resource_version: str | None = None,
    ) -> bool:
        """Delete with optional grace and UID/resourceVersion preconditions; False if it was already gone."""
        body: dict[str, Any] = {"kind": "DeleteOptions", "apiVersion": "v1"}
        if grace_seconds is not None:
            body["gracePeriodSeconds"] = grace_seconds
        preconditions = {k: v for k, v in (("uid", uid), ("resourceVersion", resource_version)) if v}
        if preconditions:
            body["preconditions"] = preconditions
        path = res.path(namespace, name)
        if self._dry(body) is not None:
            return True
        try:
            await self.request("DELETE", path, verb="delete", body=body)
        except ApiError as e:
            if e.not_found:
                return False
            raise
        return True


async def _lines(stream: aiohttp.StreamReader) -> AsyncIterator[bytes]:
    """Split a chunked stream into lines without aiohttp's per-line size limit (objects can be ~1.5 MiB)."""
    buffer = b""
    async for chunk in stream.iter_any():
        buffer += chunk
        *lines, buffer = buffer.split(b"\n")
        for line in lines:
            if line.strip():
                yield line
    if buffer.strip():
        yield buffer
