"""Upgraded connections (HTTP 101) to an API server, for exec, attach and port-forward: SPDY or WebSocket sessions
that kubernetes_asyncio cannot carry. The request is written on a TLS stream of our own with the client's own
credentials and trust; after a 101 the caller gets the raw stream and the response head exactly as received."""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit

from kubernetes_asyncio import client

MAX_HEAD = 64 * 1024
MAX_ERROR_BODY = 1024 * 1024


class UpgradeError(Exception):
    """The API server could not be reached or answered with something that is not HTTP."""


@dataclass
class Upgraded:
    """The API server's answer: on 101 `reader`/`writer` carry the upgraded stream, otherwise `body` is the error."""

    status: int
    head: bytes
    headers: dict[str, str]
    body: bytes = b""
    reader: asyncio.StreamReader | None = None
    writer: asyncio.StreamWriter | None = None


def ssl_context(cfg: client.Configuration) -> ssl.SSLContext:
    """The same trust and client certificate kubernetes_asyncio's REST client uses for `cfg`."""
    context = ssl.create_default_context(cafile=cfg.ssl_ca_cert)
    if cfg.cert_file:
        context.load_cert_chain(cfg.cert_file, keyfile=cfg.key_file)
    if not cfg.verify_ssl:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


async def open_upgrade(
    api_client: client.ApiClient,
    method: str,
    path: str,
    headers: list[tuple[str, str]],
    *,
    connect_timeout: float,
) -> Upgraded:
    """Send `method path` (path with query) with the upgrade `headers` and the client's credentials; read the answer's
    head. The caller owns the returned connection (close it)."""
    cfg = api_client.configuration
    url = urlsplit(cfg.host)
    port = url.port or 443
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(url.hostname, port, ssl=ssl_context(cfg), limit=MAX_HEAD), connect_timeout
        )
    except (OSError, TimeoutError, ssl.SSLError) as e:
        raise UpgradeError(f"cannot connect to {url.hostname}:{port}: {e}") from e
    auth = (await cfg.auth_settings()).get("BearerToken")
    lines = [f"{method} {url.path.rstrip('/')}{path} HTTP/1.1", f"Host: {url.netloc}", "Content-Length: 0"]
    if auth:
        lines.append(f"Authorization: {auth['value']}")
    lines += [f"{name}: {value}" for name, value in headers]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
    try:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), connect_timeout)
        status, parsed = _parse_head(head)
    except (OSError, TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as e:
        writer.close()
        raise UpgradeError(f"no valid answer from {url.hostname}:{port}: {e}") from e
    if status == 101:
        return Upgraded(status, head, parsed, reader=reader, writer=writer)
    try:
        body = await asyncio.wait_for(_read_body(reader, parsed), connect_timeout)
    except (OSError, TimeoutError, asyncio.IncompleteReadError, ValueError):
        body = b""
    finally:
        writer.close()
    return Upgraded(status, head, parsed, body=body)


def _parse_head(head: bytes) -> tuple[int, dict[str, str]]:
    status_line, *header_lines = head.decode("latin-1").rstrip("\r\n").split("\r\n")
    version, _, rest = status_line.partition(" ")
    if not version.startswith("HTTP/"):
        raise ValueError(f"not an HTTP answer: {status_line[:80]!r}")
    headers: dict[str, str] = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(rest.split(" ", 1)[0]), headers


async def _read_body(reader: asyncio.StreamReader, headers: dict[str, str]) -> bytes:
    """An error answer's body (Content-Length, chunked, or until EOF), at most MAX_ERROR_BODY bytes."""
    if "content-length" in headers:
        return await reader.readexactly(min(int(headers["content-length"]), MAX_ERROR_BODY))
    if headers.get("transfer-encoding", "").lower() != "chunked":
        return await reader.read(MAX_ERROR_BODY)
    body = b""
    while len(body) < MAX_ERROR_BODY:
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
        if size == 0:
            break
        body += await reader.readexactly(size)
        await reader.readexactly(2)
    return body
