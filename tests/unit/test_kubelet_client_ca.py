"""Where vcsync's kubelet endpoint takes the CA for client certificates from. In the chart's pod vcsync starts with
the virtual API server and often asks before that server has published its authentication ConfigMap: that is "not
yet", never "no CA", or the API server's own kubelet client (`kubectl logs`, `exec`) would be refused for good."""

from __future__ import annotations

from typing import Any

from syncer.kubelet.tls import client_ca


class Published:
    def __init__(self, configmap: dict[str, Any] | None) -> None:
        self.configmap = configmap

    async def get(self, res: Any, namespace: str | None, name: str) -> dict[str, Any] | None:
        assert (namespace, name) == ("kube-system", "extension-apiserver-authentication")
        return self.configmap


async def test_a_configmap_not_published_yet_means_ask_again() -> None:
    assert await client_ca(Published(None), "") is None


async def test_the_published_client_ca_is_used() -> None:
    assert await client_ca(Published({"data": {"client-ca-file": "PEM"}}), "") == "PEM"


async def test_an_api_server_without_a_client_ca_leaves_bearer_tokens_only() -> None:
    assert await client_ca(Published({"data": {"requestheader-client-ca-file": "x"}}), "") == ""
