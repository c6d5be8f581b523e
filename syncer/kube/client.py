"""The one place that builds kubernetes_asyncio clients. A client must be created inside the running event loop
(its aiohttp session binds to it), so this is an async context manager, never a module-level object."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import yaml
from kubernetes_asyncio import client, config


def _check_kubeconfig(path: str | Path) -> None:
    """A readable YAML file with clusters, so a wrong path gets a plain message instead of the client's own."""
    doc = yaml.safe_load(Path(path).read_text())
    if not isinstance(doc, dict) or not doc.get("clusters"):
        raise ValueError(f"{path} is not a kubeconfig file (no clusters)")


async def load_configuration(kubeconfig: str | Path | None) -> client.Configuration:
    """Configuration from a kubeconfig file, or the in-cluster service account when `kubeconfig` is empty."""
    cfg = client.Configuration()
    if kubeconfig:
        _check_kubeconfig(kubeconfig)
        await config.load_kube_config(config_file=str(kubeconfig), client_configuration=cfg, persist_config=False)
    else:
        config.load_incluster_config(client_configuration=cfg)
    return cfg


@contextlib.asynccontextmanager
async def connect(kubeconfig: str | Path | None) -> AsyncIterator[client.ApiClient]:
    api = client.ApiClient(configuration=await load_configuration(kubeconfig))
    try:
        yield api
    finally:
        await api.close()
