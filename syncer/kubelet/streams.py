"""exec, attach and port-forward: the virtual API server's upgrade request is re-issued to the host API server for the
host pod (with vcsync's host credentials and only the protocol-negotiation headers), and once the host answers 101 the
two connections are joined byte for byte, so SPDY and WebSocket, stdin, resize and exit codes pass untouched."""

from __future__ import annotations

import asyncio
import contextlib
from urllib.parse import urlencode

from kubernetes_asyncio import client

from syncer.kube.upgrade import Upgraded, UpgradeError, open_upgrade
from syncer.kubelet.paths import STREAMS, stream_query
from syncer.kubelet.targets import PodTarget, Refused
from vocab.resources import PODS

# Only these request headers go to the host: they negotiate the protocol. The caller's credentials never do.
_NEGOTIATION = (
    "upgrade",
    "connection",
    "x-stream-protocol-version",
    "sec-websocket-key",
    "sec-websocket-version",
    "sec-websocket-protocol",
    "sec-websocket-extensions",
)
CHUNK = 64 * 1024
MAX_HEAD = 64 * 1024  # a request head read from the streams


def host_request_headers(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(name, value) for name, value in headers if name.lower() in _NEGOTIATION]


async def open_host_stream(
    host_client: client.ApiClient,
    method: str,
    target: PodTarget,
    query: list[tuple[str, str]],
    headers: list[tuple[str, str]],
    timeout: float,
) -> Upgraded:
    """The host API server's answer to the upgrade request for `target`; a refusal when it cannot be reached."""
    subresource = STREAMS[target.request.endpoint]
    path = PODS.path(target.host_namespace, target.host_name, subresource)
    path += "?" + urlencode(stream_query(target.request, query))
    try:
        return await open_upgrade(host_client, method, path, host_request_headers(headers), connect_timeout=timeout)
    except UpgradeError as e:
        raise Refused(502, f"the host cluster did not answer: {e}") from e


def as_streams(
    transport: asyncio.Transport, buffered: bytes = b""
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Streams over a transport taken from another protocol (`buffered`: what that protocol had already read)."""
    reader = asyncio.StreamReader(limit=MAX_HEAD)
    protocol = asyncio.StreamReaderProtocol(reader)
    transport.set_protocol(protocol)
    protocol.connection_made(transport)
    reader.feed_data(buffered)
    return reader, asyncio.StreamWriter(transport, protocol, reader, asyncio.get_running_loop())


async def join(
    client_reader: asyncio.StreamReader,
    client_writer: asyncio.StreamWriter,
    host_reader: asyncio.StreamReader,
    host_writer: asyncio.StreamWriter,
) -> None:
    """Copy both ways until either side ends, then close both (TLS cannot half-close)."""
    pumps = [
        asyncio.create_task(_pump(client_reader, host_writer)),
        asyncio.create_task(_pump(host_reader, client_writer)),
    ]
    try:
        await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in pumps:
            task.cancel()
        for writer in (client_writer, host_writer):
            writer.close()
        for task in pumps:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError, OSError):
        while data := await reader.read(CHUNK):
            writer.write(data)
            await writer.drain()
