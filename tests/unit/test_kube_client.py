"""The client factory reads the proxy environment once and turns off aiohttp's per-request environment lookups
(netrc and proxy variables, each in a worker thread), without losing HTTPS_PROXY/NO_PROXY support."""

from __future__ import annotations

from pathlib import Path

import pytest
from kubernetes_asyncio import client

from syncer.kube.client import connect, resolve_env_proxy

KUBECONFIG = """\
apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://10.0.0.1:6443", insecure-skip-tls-verify: true}}]
users: [{name: u, user: {token: abc}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
current-context: c
"""

PROXY_VARS = [f"{v}_{p}" for v in ("HTTPS", "HTTP", "ALL", "NO") for p in ("PROXY", "proxy")]
PROXY_VARS += [v.lower() for v in PROXY_VARS]


@pytest.fixture(autouse=True)
def no_proxy_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in PROXY_VARS:
        monkeypatch.delenv(var, raising=False)


def _cfg(host: str = "https://10.0.0.1:6443", proxy: str | None = None) -> client.Configuration:
    cfg = client.Configuration()
    cfg.host, cfg.proxy = host, proxy
    return cfg


def test_https_proxy_from_the_environment_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    cfg = _cfg()
    resolve_env_proxy(cfg)
    assert cfg.proxy == "http://proxy.example:3128"


def test_no_proxy_exempts_the_api_server(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("NO_PROXY", "10.0.0.1,.cluster.local")
    cfg = _cfg()
    resolve_env_proxy(cfg)
    assert cfg.proxy is None


def test_a_kubeconfig_proxy_wins_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    cfg = _cfg(proxy="http://from-kubeconfig:8080")
    resolve_env_proxy(cfg)
    assert cfg.proxy == "http://from-kubeconfig:8080"


def test_without_proxy_variables_there_is_no_proxy() -> None:
    cfg = _cfg()
    resolve_env_proxy(cfg)
    assert cfg.proxy is None


async def test_connected_client_does_no_per_request_environment_lookups(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(KUBECONFIG)
    async with connect(kubeconfig) as api:
        assert api.rest_client.pool_manager.trust_env is False
        assert api.rest_client.proxy == "http://proxy.example:3128"
