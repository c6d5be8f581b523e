"""The HTTPS listener the virtual API server dials as the kubelet of every node vcsync owns. Each new connection's
first request head is read here: upgrade requests (exec, attach, port-forward; SPDY or WebSocket, which aiohttp's
parser would not hand over raw) become byte tunnels, everything else is served by aiohttp. Both paths share one
admission: authenticate, authorize like a kubelet, then map the virtual pod to this vcluster's host pod."""

from __future__ import annotations

import asyncio
import contextlib
import json
import ssl
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import aiohttp
from aiohttp import web
from kubernetes_asyncio import client

from syncer import metrics
from syncer.config import Config
from syncer.kube.api import ApiError, KubeApi
from syncer.kubelet import tls
from syncer.kubelet.auth import KUBELET_API_ADMIN, Gatekeeper, apiserver_kubelet_binding
from syncer.kubelet.egress import EgressProxy
from syncer.kubelet.nodepaths import NodePaths
from syncer.kubelet.paths import BadRequest, authz_verb, log_query, node_subresource, pod_request
from syncer.kubelet.streams import as_streams, join, open_host_stream
from syncer.kubelet.targets import PodTarget, Refused, pod_target, virtual_pod
from syncer.log import get_logger
from syncer.ratelimit import TokenBucket
from vocab.flagvalues import parse_bind_address
from vocab.resources import CLUSTERROLEBINDINGS, PODS

log = get_logger("kubelet")
MAX_HEAD = 64 * 1024


class KubeletServer:
    def __init__(self, config: Config, engine: Any, host_client: client.ApiClient, virtual_client: client.ApiClient):
        self.config = config
        self.engine = engine
        self.names = engine.context.names
        self.vpods = engine.declare("virtual", PODS)
        self.hpods = engine.declare("host", PODS)
        # connections handed over from the egress socket -> the node they were opened for (uvloop's transports take
        # no weak references, so closed ones are dropped as new ones arrive)
        self._node_of: dict[asyncio.BaseTransport, str] = {}
        self._egress: EgressProxy | None = None
        self.host_client = host_client
        timeout = config.request_timeout
        # Own budgets: tenants' debugging must not eat the sync's rate limit, and reviews are not gated writes.
        self.host_api = KubeApi(
            host_client, "host", bucket=TokenBucket(config.host_qps, config.host_burst), request_timeout=timeout
        )
        self.virtual_api = KubeApi(
            virtual_client,
            "virtual",
            bucket=TokenBucket(config.virtual_qps, config.virtual_burst),
            request_timeout=timeout,
        )
        self.gate = Gatekeeper(self.virtual_api)
        self.nodes = NodePaths(engine, self.host_api, node_stats=config.kubelet_node_stats)
        self._server: asyncio.Server | None = None
        self._http: web.Server | None = None
        self._tunnels: set[asyncio.Task[None]] = set()
        self._streams: dict[str, set[Callable[[], None]]] = defaultdict(set)  # host pod key -> how to end its streams
        self.hpods.add_handler(self._end_streams_of_deleted_pod)
        self._ready = asyncio.Event()
        self._ca_task: asyncio.Task[None] | None = None
        self._context: ssl.SSLContext | None = None

    # ---- lifecycle -------------------------------------------------------------------------------------------
    async def start(self) -> None:
        """Listen (an unusable address raises OSError at once); the client CA is loaded in the background, and
        requests are answered 503 until it and the caches are there."""
        bind = parse_bind_address(self.config.kubelet_bind_address)
        if bind is None:
            return
        config = self.config
        self._context = tls.server_context(
            config.kubelet_tls_cert_file, config.kubelet_tls_private_key_file, config.kubelet_address
        )
        self._http = web.Server(self._serve_http, handler_cancellation=True, access_log=None)
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: _Front(self), bind[0] or None, bind[1], ssl=self._context)
        self._ca_task = asyncio.create_task(self._load_client_ca(), name="kubelet-client-ca")
        if config.kubelet_egress_socket:
            self._egress = EgressProxy(
                config.kubelet_egress_socket,
                self._context,
                self.nodes.node_at,
                lambda node: _Front(self, node),
                config.request_timeout,
            )
            await self._egress.start()
        log.info("kubelet endpoint listening", address=config.kubelet_bind_address, advertised=config.kubelet_endpoint)

    async def _load_client_ca(self) -> None:
        delay = 1.0
        while True:
            try:
                ca = await tls.client_ca(self.virtual_api, self.config.kubelet_client_ca_file)
                if ca is not None:
                    break
                log.info("the virtual API server has not published its client CA yet", retry_in_s=delay)
            except (ApiError, OSError, TimeoutError) as e:
                log.warning("cannot read the kubelet client CA yet", error=str(e), retry_in_s=delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)
        if ca:
            tls.require_client_ca(self._context, ca)
        else:
            log.warning("no client CA for the kubelet endpoint: only bearer tokens authenticate")
        if self.config.kubelet_apiserver_user:
            await self._bind_apiserver_user(self.config.kubelet_apiserver_user)
        self._ready.set()  # ready: requests are answered from now on

    async def _bind_apiserver_user(self, user: str) -> None:
        """Let the virtual API server's kubelet client use this kubelet (as kubeadm binds it): created when missing,
        never changed afterwards, so a tenant's own edit stands and a restart makes no write."""
        binding = apiserver_kubelet_binding(user)
        if self.config.dry_run:
            log.info("dry run: would bind the API server's kubelet client if missing", user=user)
            return
        try:
            if await self.virtual_api.get(CLUSTERROLEBINDINGS, None, binding["metadata"]["name"]) is None:
                await self.virtual_api.create(CLUSTERROLEBINDINGS, None, binding)
                log.info("bound the API server's kubelet client", user=user, role=KUBELET_API_ADMIN)
        except ApiError as e:
            if not e.already_exists:
                log.warning("cannot bind the API server's kubelet client", user=user, error=str(e))

    async def stop(self) -> None:
        if self._server is None:
            return
        self._server.close()
        if self._egress is not None:
            await self._egress.stop()
        for task in [*self._tunnels, *([self._ca_task] if self._ca_task else [])]:
            task.cancel()
        if self._http is not None:
            await self._http.shutdown(1.0)

    # ---- streams end with their host pod ----------------------------------------------------------------------
    @contextlib.contextmanager
    def _ended_with_pod(self, target: PodTarget, end: Callable[[], None]) -> Iterator[None]:
        key = f"{target.host_namespace}/{target.host_name}"
        self._streams[key].add(end)
        try:
            yield
        finally:
            self._streams[key].discard(end)
            if not self._streams[key]:
                del self._streams[key]

    def _end_streams_of_deleted_pod(self, old: dict[str, Any] | None, new: dict[str, Any] | None) -> None:
        if new is None and old is not None:
            for end in list(self._streams.get(f"{old['metadata']['namespace']}/{old['metadata']['name']}", ())):
                end()

    # ---- connection hand-over (called by _Front) ---------------------------------------------------------------
    def take_http(self, transport: asyncio.Transport, buffered: bytes, node: str) -> None:
        assert self._http is not None
        for closed in [t for t in self._node_of if t.is_closing()]:
            del self._node_of[closed]
        self._node_of[transport] = node
        protocol = self._http()
        transport.set_protocol(protocol)
        protocol.connection_made(transport)
        protocol.data_received(buffered)

    def take_upgrade(self, transport: asyncio.Transport, buffered: bytes, node: str) -> None:
        reader, writer = as_streams(transport, buffered)
        task = asyncio.create_task(self._serve_upgrade(reader, writer, node), name="kubelet-stream")
        self._tunnels.add(task)
        task.add_done_callback(self._tunnels.discard)

    def _node_by_host(self, authority: str) -> str:
        """On the direct port, the node a request is for by the address it was sent to (a node Service's ClusterIP,
        distinct per node); "" when that address is not exactly one node's."""
        if authority.startswith("["):
            host = authority[1:].partition("]")[0]
        else:
            host = authority.partition(":")[0] if authority.count(":") <= 1 else authority
        return self.nodes.node_at(host) or "" if host else ""

    # ---- admission -------------------------------------------------------------------------------------------
    async def _admit(self, method: str, path: str, peercert: Any, authorization: str, node: str) -> PodTarget | str:
        """The host pod a pod request reaches, or the node-level path that may be served; raises Refused. `node` is
        the node the connection is for, when known."""
        if not (self.engine.caches_synced.is_set() and self._ready.is_set()):
            raise Refused(503, "the kubelet is starting")
        try:
            request = pod_request(path)
            verb = authz_verb(method)
        except BadRequest as e:
            raise Refused(400, str(e)) from e
        user = await self.gate.authenticate(peercert, authorization)
        if user is None:
            raise Refused(401, "Unauthorized")
        vpod = self.vpods.get(f"{request.namespace}/{request.pod}") if request else None
        node = ((vpod or {}).get("spec") or {}).get("nodeName", "") if request else node
        subresources = self.nodes.subresources(path) or (node_subresource(path),)
        if not await self.gate.authorize(user, verb, node, subresources):
            attrs = f"user={user.name}, verb={verb}, resource=nodes, subresource={subresources[-1]}"
            raise Refused(403, f"Forbidden ({attrs})")
        if request is None:
            if not self.nodes.subresources(path):
                raise Refused(404, f"{path} not found")
            if path != "/healthz" and not node:
                raise Refused(404, f"{path} is served per node, through the egress socket (--kubelet-egress-socket)")
            return path
        return pod_target(virtual_pod(self.vpods, request), request, self.hpods, self.names)

    # ---- plain HTTP: logs and node paths ---------------------------------------------------------------------
    async def _serve_http(self, request: web.BaseRequest) -> web.StreamResponse:
        started, endpoint = time.monotonic(), _endpoint(request.path)
        status = 500
        try:
            if request.headers.get("Upgrade"):
                raise Refused(400, "upgrade requests must open a new connection")
            peercert = request.transport.get_extra_info("peercert") if request.transport else None
            authorization = request.headers.get("Authorization", "")
            node = (self._node_of.get(request.transport, "") if request.transport else "") or self._node_by_host(
                request.host
            )
            admitted = await self._admit(request.method, request.path, peercert, authorization, node)
            if isinstance(admitted, str):
                status = 200
                return await self.nodes.answer(admitted, node)
            if admitted.request.endpoint != "containerLogs":
                raise Refused(400, f"{admitted.request.endpoint} needs an upgrade request (SPDY or WebSocket)")
            status = 200
            return await self._logs(request, admitted)
        except Refused as e:
            status = e.status
            return web.Response(status=e.status, text=e.message, headers={"Connection": "close"})
        except (ValueError, aiohttp.ClientError, OSError, TimeoutError) as e:  # a host answer we cannot use
            status = 502
            log.warning("kubelet request failed", path=request.path, error=str(e) or type(e).__name__)
            return web.Response(status=502, text="the host cluster's answer could not be used")
        finally:
            _observe(endpoint, status, started, request.method, request.path)

    async def _logs(self, request: web.BaseRequest, target: PodTarget) -> web.StreamResponse:
        try:
            query = log_query(target.request.container, list(parse_qsl(request.query_string, keep_blank_values=True)))
        except BadRequest as e:
            raise Refused(400, str(e)) from e
        path = PODS.path(target.host_namespace, target.host_name, "log")
        streams = metrics.KUBELET_STREAMS.labels("containerLogs")
        streams.inc()  # from the request on: a followed log may send nothing for a long time
        try:
            async with self.host_api.stream(path, query) as upstream:
                response = web.StreamResponse(headers={"Content-Type": "text/plain"})
                await response.prepare(request)
                with self._ended_with_pod(target, upstream.close), contextlib.suppress(aiohttp.ClientError):
                    async for chunk in upstream.content.iter_any():
                        await response.write(chunk)
                await response.write_eof()
                return response
        except ApiError as e:
            raise Refused(e.status, target.scrub(e.message)) from e
        finally:
            streams.dec()

    # ---- upgrades: exec, attach, port-forward ----------------------------------------------------------------
    async def _serve_upgrade(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, node: str) -> None:
        started, status, method, path = time.monotonic(), 500, "", ""
        try:
            method, target_url, headers = _parse_request(await reader.readuntil(b"\r\n\r\n"))
            path, query = urlsplit(target_url).path, parse_qsl(urlsplit(target_url).query, keep_blank_values=True)
            header = {name.lower(): value for name, value in headers}
            peercert, authorization = writer.get_extra_info("peercert"), header.get("authorization", "")
            node = node or self._node_by_host(header.get("host", ""))
            admitted = await self._admit(method, path, peercert, authorization, node)
            if isinstance(admitted, str) or admitted.request.endpoint == "containerLogs":
                raise Refused(400, f"{path} does not take an upgrade request")
            try:
                host = await open_host_stream(
                    self.host_client, method, admitted, query, headers, self.config.request_timeout
                )
            except BadRequest as e:
                raise Refused(400, str(e)) from e
            status = host.status
            if host.status != 101:
                raise Refused(host.status, admitted.scrub(_message(host.body)))
            writer.write(host.head)
            assert host.reader is not None and host.writer is not None
            metrics.KUBELET_STREAMS.labels(admitted.request.endpoint).inc()
            try:
                with self._ended_with_pod(admitted, host.writer.close):
                    await join(reader, writer, host.reader, host.writer)
            finally:
                metrics.KUBELET_STREAMS.labels(admitted.request.endpoint).dec()
        except Refused as e:
            status = e.status
            _write_plain(writer, e.status, e.message)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError, ConnectionError):
            status = 400
        except Exception:  # answered, logged and counted; never a crash of the endpoint
            log.exception("kubelet stream failed", path=path)
            _write_plain(writer, 500, "internal error")
        finally:
            with contextlib.suppress(Exception):
                writer.close()
            _observe(_endpoint(path), status, started, method, path)


class _Front(asyncio.Protocol):
    """Reads a new connection's first request head, then hands the connection to the tunnel or to aiohttp. `node` is
    the node the connection was opened for (known through the egress socket; "" on the direct port)."""

    def __init__(self, server: KubeletServer, node: str = "") -> None:
        self.server, self.node = server, node
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        if self.buffer:  # through start_tls, data may arrive before connection_made
            self.data_received(b"")

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if self.transport is None:
            return
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            if len(self.buffer) > MAX_HEAD:
                self.transport.close()
            return
        if _is_upgrade(self.buffer[:end]):
            self.server.take_upgrade(self.transport, self.buffer, self.node)
        else:
            self.server.take_http(self.transport, self.buffer, self.node)


def _is_upgrade(head: bytes) -> bool:
    fields = {}
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        fields[name.strip().lower()] = value.strip().lower()
    tokens = {token.strip() for token in fields.get(b"connection", b"").split(b",")}
    return b"upgrade" in tokens and bool(fields.get(b"upgrade"))


def _parse_request(head: bytes) -> tuple[str, str, list[tuple[str, str]]]:
    request_line, *lines = head.decode("latin-1").rstrip("\r\n").split("\r\n")
    method, target, version = request_line.split(" ")
    if not version.startswith("HTTP/1."):
        raise ValueError(f"unsupported protocol {version!r}")
    headers = []
    for line in lines:
        name, _, value = line.partition(":")
        headers.append((name.strip(), value.strip()))
    return method, target, headers


def _message(body: bytes) -> str:
    """The message of a Kubernetes Status body, or the body as text."""
    with contextlib.suppress(ValueError):
        doc = json.loads(body)
        if isinstance(doc, dict) and doc.get("message"):
            return str(doc["message"])
    return body.decode(errors="replace").strip()[:1000]


def _write_plain(writer: asyncio.StreamWriter, status: int, text: str) -> None:
    body = text.encode()
    head = f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}\r\nContent-Type: text/plain; charset=utf-8\r\n"
    head += f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    with contextlib.suppress(Exception):
        writer.write(head.encode() + body)


_REASONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    502: "Bad Gateway",
    503: "Service Unavailable",
}


def _endpoint(path: str) -> str:
    """A bounded label for metrics: the first path segment of known endpoints, else "other"."""
    first = path.strip("/").split("/")[0]
    return first if first in ("containerLogs", "exec", "attach", "portForward", "pods", "healthz") else "other"


def _observe(endpoint: str, status: int, started: float, method: str, path: str) -> None:
    metrics.KUBELET_REQUESTS.labels(endpoint, str(status)).inc()
    log.info(
        "kubelet request",
        endpoint=endpoint,
        method=method,
        code=status,
        duration_ms=round((time.monotonic() - started) * 1000, 1),
        path=path.split("?")[0][:200],
    )
