"""The one place that builds kubernetes_asyncio clients. A client must be created inside the running event loop
(its aiohttp session binds to it), so this is an async context manager, never a module-level object."""

from __future__ import annotations

import contextlib
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

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


def resolve_env_proxy(cfg: client.Configuration) -> None:
    """Set the proxy that HTTPS_PROXY/NO_PROXY (and friends) give for the API server, unless the kubeconfig set
    one: the environment is read once here instead of on every request (see `_stop_env_lookups`)."""
    if cfg.proxy:
        return
    host = urlsplit(cfg.host).hostname or ""
    if urllib.request.proxy_bypass_environment(host):
        return
    proxies = urllib.request.getproxies_environment()
    cfg.proxy = proxies.get(urlsplit(cfg.host).scheme or "https") or proxies.get("all") or None


def _stop_env_lookups(api: client.ApiClient) -> None:
    """kubernetes_asyncio builds its aiohttp session with trust_env=True, which makes aiohttp look up ~/.netrc and
    the proxy variables in a worker thread on *every* request: two thread hops per API call, about 15% of the
    syncer's CPU under load (measured with py-spy). The proxy is resolved once instead (`resolve_env_proxy`)."""
    session = api.rest_client.pool_manager
    if not hasattr(session, "_trust_env"):
        raise RuntimeError("aiohttp.ClientSession has no _trust_env: check syncer.kube.client against this aiohttp")
    session._trust_env = False


@contextlib.asynccontextmanager
async def connect(kubeconfig: str | Path | None) -> AsyncIterator[client.ApiClient]:
    cfg = await load_configuration(kubeconfig)
    resolve_env_proxy(cfg)
    api = client.ApiClient(configuration=cfg)
    _stop_env_lookups(api)
    try:
        yield api
    finally:
        await api.close()
