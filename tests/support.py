"""Test helpers: waiting by short polls with a deadline (never fixed sleeps), fresh namespaces, the command line."""

from __future__ import annotations

import asyncio
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import yaml
from kubernetes_asyncio import client

from syncer.controlplane import ClusterPair

T = TypeVar("T")


async def eventually(probe: Callable[[], Awaitable[T | None]], timeout: float, what: str, every: float = 0.2) -> T:
    """Await `probe()` until it returns something truthy, and return it; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            result = await probe()
            if result:
                return result
        except Exception as e:
            last_error = e
        await asyncio.sleep(every)
    raise AssertionError(
        f"timed out after {timeout}s waiting for {what}" + (f" (last error: {last_error})" if last_error else "")
    )


async def fresh_namespace(api: client.ApiClient, test_name: str) -> AsyncIterator[str]:
    """A namespace named after the test, deleted (without waiting) afterwards."""
    name = f"t-{test_name[:40].lower().replace('_', '-').replace('[', '-').strip('-]')}-{uuid.uuid4().hex[:6]}"
    core = client.CoreV1Api(api)
    await core.create_namespace({"metadata": {"name": name}})
    yield name
    # a pooled connection may have died with a restarted apiserver: retry the delete briefly
    await eventually(lambda: core.delete_namespace(name, _preload_content=False), 30, f"deleting namespace {name}")


async def others_gone(api: client.ApiClient, mine: str, timeout: float = 90) -> None:
    """Wait until no other test's namespace is still terminating, so a test that counts writes sees only its own."""
    core = client.CoreV1Api(api)

    async def quiet():
        names = [n.metadata.name for n in (await core.list_namespace()).items]
        return not [n for n in names if n.startswith("t-") and n != mine]

    await eventually(quiet, timeout, "other tests' namespaces to finish terminating")


async def vcsync(*args: str, kubeconfig: Path | str) -> tuple[int, str, str]:
    """Run the `vcsync` command line (pause, resume) against a cluster; (exit code, stdout, stderr)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "syncer.cli",
        *args,
        "--kubeconfig",
        str(kubeconfig),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 150)
    return proc.returncode or 0, out.decode(), err.decode()


def token_kubeconfig(pair: ClusterPair, namespace: str, account: str, path: Path) -> Path:
    """A host kubeconfig that authenticates as `namespace/account` (TokenRequest), trusting the host's CA."""
    request = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {"expirationSeconds": 3600}}
    token = pair.host.api("POST", f"/api/v1/namespaces/{namespace}/serviceaccounts/{account}/token", request)
    admin = yaml.safe_load(pair.host.kubeconfig.read_text())
    server = admin["clusters"][0]["cluster"]  # the test clusters embed their CA (certificate-authority-data)
    cluster = {"server": server["server"], "certificate-authority-data": server["certificate-authority-data"]}
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "host", "cluster": cluster}],
                "users": [{"name": account, "user": {"token": token["status"]["token"]}}],
                "contexts": [{"name": "host", "context": {"cluster": "host", "user": account}}],
                "current-context": "host",
            }
        )
    )
    return path
