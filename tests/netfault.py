"""Network faults between vcsync and a real API server: a loopback TCP relay that can black-hole the connections it
holds (`stall`), as a NAT or load balancer that lost their state does, while new connections get through."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from pathlib import Path

import yaml


@dataclass(eq=False)
class _Link:
    """One relayed connection: the client's side and the server's side."""

    writers: tuple[asyncio.StreamWriter, asyncio.StreamWriter]
    stalled: bool = field(default=False)

    def close(self) -> None:
        for writer in self.writers:
            writer.close()


class Relay:
    """Relays every connection to 127.0.0.1:`port` byte for byte (TLS passes through untouched). Use `async with`."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self._links: set[_Link] = set()
        self._server: asyncio.Server | None = None

    @property
    def port(self) -> int:
        assert self._server, "the relay is not started"
        return self._server.sockets[0].getsockname()[1]

    def stall(self) -> int:
        """Every connection open now stops forwarding in both directions, closes included, but stays open: what
        either side sends is dropped. Connections opened later are relayed. Returns how many were stalled."""
        for link in self._links:
            link.stalled = True
        return len(self._links)

    def kubeconfig(self, source: Path, path: Path) -> Path:
        """A copy of the kubeconfig `source` whose clusters are reached through this relay."""
        config = yaml.safe_load(source.read_text())
        for cluster in config["clusters"]:
            cluster["cluster"]["server"] = f"https://127.0.0.1:{self.port}"
        path.write_text(yaml.safe_dump(config))
        return path

    async def __aenter__(self) -> Relay:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server
        self._server.close()
        for link in list(self._links):
            link.close()
        await self._server.wait_closed()

    async def _accept(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            server_reader, server_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            client_writer.close()
            return
        link = _Link((client_writer, server_writer))
        self._links.add(link)
        try:
            await asyncio.gather(_pump(link, client_reader, server_writer), _pump(link, server_reader, client_writer))
        finally:
            self._links.discard(link)
            link.close()


async def _pump(link: _Link, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy one direction until its end of stream, which is passed on as a half-close; a stalled link drops both."""
    try:
        while data := await reader.read(65536):
            if not link.stalled:
                writer.write(data)
                await writer.drain()
        if not link.stalled and writer.can_write_eof():
            with contextlib.suppress(OSError):
                writer.write_eof()
    except OSError:  # a reset on either side ends the link, as it would the real connection
        link.close()
