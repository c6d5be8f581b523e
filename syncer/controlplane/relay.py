"""The test host cluster's way to its kubelets: its API server's egress selector sends every kubelet connection as an
HTTP CONNECT to this unix socket, and every tunnel goes to kwok's one kubelet server on loopback. So host nodes keep
their own (documentation-range) InternalIPs, which the API server's node proxy accepts, and no packet ever leaves
this machine. A real node (node.py) is the exception: tunnels to its IP go to that address itself, its kubelet.
`python -m syncer.controlplane.relay SOCKET 127.0.0.1:PORT [DIRECT_IP ...]`."""

from __future__ import annotations

import asyncio
import sys

from syncer.kubelet.streams import join


def _requested(head: bytes) -> tuple[str, int]:
    """The address of `CONNECT host:port HTTP/1.1`."""
    host, _, port = head.split(b" ", 2)[1].decode().rpartition(":")
    return host.strip("[]"), int(port)


async def _tunnel(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, target: tuple[str, int], direct: frozenset[str]
) -> None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
        if not head.startswith(b"CONNECT "):
            writer.write(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
            return
        requested = _requested(head)
        up_reader, up_writer = await asyncio.open_connection(*(requested if requested[0] in direct else target))
    except (OSError, ValueError, IndexError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
        writer.write(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
        writer.close()
        return
    writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
    await join(reader, writer, up_reader, up_writer)


async def serve(socket_path: str, target: tuple[str, int], direct: frozenset[str] = frozenset()) -> None:
    server = await asyncio.start_unix_server(lambda r, w: _tunnel(r, w, target, direct), socket_path)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    host, _, port = sys.argv[2].rpartition(":")
    asyncio.run(serve(sys.argv[1], (host, int(port)), frozenset(sys.argv[3:])))
