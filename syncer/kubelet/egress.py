"""The virtual API server's way to its kubelets: an HTTP CONNECT proxy on a unix socket, named in the API server's
egress selector for "cluster". A CONNECT to the address of a node vcsync owns is answered by this kubelet endpoint
itself, over TLS inside the tunnel and knowing which node was meant — so nodes can carry their host node's IP (as
vcluster's fake nodes do), node-level paths know their node, and the API server's node proxy (which refuses loopback
addresses) works. Any other target (webhooks, aggregated APIs) is relayed as the API server would have dialed it."""

from __future__ import annotations

import asyncio
import contextlib
import os
import ssl
from collections.abc import Callable

from syncer.kubelet.streams import as_streams, join
from syncer.log import get_logger

log = get_logger("kubelet")
MAX_HEAD = 16 * 1024


class EgressProxy:
    def __init__(
        self,
        path: str,
        context: ssl.SSLContext,
        node_at: Callable[[str], str | None],
        serve: Callable[[str], asyncio.Protocol],
        connect_timeout: float,
    ) -> None:
        self.path, self.context, self.node_at, self.serve = path, context, node_at, serve
        self.connect_timeout = connect_timeout
        self._server: asyncio.Server | None = None
        self._inode = 0
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_unix_server(lambda: _Connect(self), self.path)  # replaces a stale socket
        os.chmod(self.path, 0o600)
        self._inode = os.stat(self.path).st_ino
        log.info("kubelet egress socket listening", path=self.path)

    async def stop(self) -> None:
        if self._server is None:
            return
        self._server.close()
        for task in self._tasks:
            task.cancel()
        with contextlib.suppress(OSError):
            if os.stat(self.path).st_ino == self._inode:  # another vcsync may have taken the path since
                os.unlink(self.path)

    def spawn(self, coro) -> None:
        task = asyncio.create_task(coro, name="kubelet-egress")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def tunnel(self, transport: asyncio.Transport, target: str) -> None:
        """Answer one CONNECT: TLS to our kubelet for a node of ours, else a relay to `target`."""
        host, _, port = target.rpartition(":")
        host = host.strip("[]")
        node = self.node_at(host)
        if node is not None:
            transport.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            protocol = self.serve(node)  # buffers what arrives before connection_made
            tls = await asyncio.get_running_loop().start_tls(transport, protocol, self.context, server_side=True)
            if tls is not None:
                protocol.connection_made(tls)
            return
        await self._relay(transport, host, port)

    async def _relay(self, transport: asyncio.Transport, host: str, port: str) -> None:
        try:
            upstream = await asyncio.wait_for(asyncio.open_connection(host, int(port)), self.connect_timeout)
        except (OSError, ValueError, TimeoutError) as e:
            transport.write(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
            transport.close()
            log.info("kubelet egress relay failed", target=f"{host}:{port}", error=str(e))
            return
        reader, writer = as_streams(transport)
        transport.resume_reading()
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        await join(reader, writer, *upstream)


class _Connect(asyncio.Protocol):
    """Reads the CONNECT request head, then hands the connection to EgressProxy.tunnel."""

    def __init__(self, proxy: EgressProxy) -> None:
        self.proxy = proxy
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        assert self.transport is not None
        self.buffer += data
        if b"\r\n\r\n" not in self.buffer:
            if len(self.buffer) > MAX_HEAD:
                self.transport.close()
            return
        method, _, rest = self.buffer.partition(b" ")
        target = rest.split(b" ", 1)[0].decode("latin-1")
        head_end = self.buffer.index(b"\r\n\r\n") + 4
        if method != b"CONNECT" or self.buffer[head_end:]:
            self.transport.write(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
            self.transport.close()
            return
        self.transport.pause_reading()  # the client waits for our answer; the tunnel resumes reading
        self.proxy.spawn(self.proxy.tunnel(self.transport, target))
