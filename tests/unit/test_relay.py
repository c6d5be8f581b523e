"""The host cluster's kubelet relay: tunnels to kwok's nodes all end at kwok's one kubelet server, tunnels to the real
node's IP end at that address itself (its kubelet)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from syncer.controlplane.relay import serve
from tests.support import eventually


async def _named_server(name: bytes, host: str) -> tuple[asyncio.Server, int]:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(name)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, host, 0)
    return server, server.sockets[0].getsockname()[1]


async def _through(socket: Path, target: str) -> bytes:
    reader, writer = await asyncio.open_unix_connection(str(socket))
    writer.write(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode())
    head = await reader.readuntil(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    body = await reader.read()
    writer.close()
    return body


async def test_tunnels_go_to_kwok_except_those_to_the_real_node(tmp_path: Path) -> None:
    kwok, kwok_port = await _named_server(b"kwok", "127.0.0.1")
    real, real_port = await _named_server(b"real kubelet", "127.0.0.2")  # the real node's address, here on loopback
    socket = tmp_path / "relay.sock"
    relay = asyncio.create_task(serve(str(socket), ("127.0.0.1", kwok_port), frozenset({"127.0.0.2"})))
    try:

        async def listening() -> bool:
            return socket.exists()

        await eventually(listening, 5, "the relay's socket", every=0.01)
        assert await _through(socket, "198.51.100.10:10250") == b"kwok"
        assert await _through(socket, f"127.0.0.2:{real_port}") == b"real kubelet"
    finally:
        relay.cancel()
        kwok.close()
        real.close()
