"""The kubelet's node-level paths for one of vcsync's nodes: /healthz, /pods (this vcluster's pods on the node, from
vcsync's cache) and, opt-in, the host node's figures (/stats/summary, /metrics/resource, /metrics/cadvisor) rewritten
to this vcluster's pods under virtual names. Also which node an address means, for CONNECTs on the egress socket."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from syncer.kube.api import ApiError, KubeApi
from syncer.kubelet.nodestats import rewrite_prometheus, rewrite_summary
from syncer.kubelet.targets import Refused
from translators.fakenodes import NODE_INDEX, internal_ips, is_fake_node, node_of
from translators.markers import is_managed
from translators.nodes import removable
from vocab.resources import NODES, PODS

ADDRESS_INDEX = "internal-ip"  # virtual nodes by InternalIP: which node a CONNECT through the egress socket is for
# node paths and the nodes/<subresource> they are authorized as (fine-grained ones falling back to nodes/proxy)
_ALWAYS = {"/healthz": ("healthz", "proxy"), "/pods": ("pods", "proxy")}
_NODE_STATS = {"/stats/summary": ("stats",), "/metrics/resource": ("metrics",), "/metrics/cadvisor": ("metrics",)}
RESOURCE_METRICS_PATH = "metrics.k8s.io/resource-metrics-path"
MAX_NODE_ANSWER = 32 * 1024 * 1024


class NodePaths:
    def __init__(self, engine: Any, host_api: KubeApi, *, node_stats: bool) -> None:
        self.names = engine.context.names
        self.vpods = engine.declare("virtual", PODS)
        self.hpods = engine.declare("host", PODS)
        self.vnodes = engine.declare("virtual", NODES)
        self.vpods.add_index(NODE_INDEX, node_of)
        self.vnodes.add_index(ADDRESS_INDEX, internal_ips)
        self.host_api = host_api
        self.paths = {**_ALWAYS, **(_NODE_STATS if node_stats else {})}

    def subresources(self, path: str) -> tuple[str, ...]:
        """What a served node path is authorized as; () for a path not served here."""
        return self.paths.get(path, ())

    async def answer(self, path: str, node: str) -> web.Response:
        """The answer to an admitted node path for `node`."""
        if path == "/healthz":
            return web.Response(text="ok")
        if path == "/pods":
            pods = sorted(self.vpods.by_index(NODE_INDEX, node), key=lambda p: p["metadata"]["uid"])
            return web.json_response({"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": pods})
        host_path = await self._host_path(path, node)
        body = await self._read_host(NODES.path(None, node, "proxy") + host_path)
        if path == "/stats/summary":
            return web.json_response(rewrite_summary(json.loads(body), self._virtual_pod_of))
        text = rewrite_prometheus(body.decode(errors="replace"), self._virtual_pod_of)
        return web.Response(text=text, content_type="text/plain", charset="utf-8")

    async def _host_path(self, path: str, node: str) -> str:
        """The host kubelet path for `path`; resource metrics where the host node's
        metrics.k8s.io/resource-metrics-path annotation says (as metrics-server reads it), else the kubelet's own."""
        if path != "/metrics/resource":
            return path
        host_node = await self.host_api.get(NODES, None, node)
        annotations = ((host_node or {}).get("metadata") or {}).get("annotations") or {}
        return annotations.get(RESOURCE_METRICS_PATH, path)

    async def _read_host(self, path: str) -> bytes:
        try:
            async with self.host_api.stream(path, []) as upstream:
                return await upstream.content.read(MAX_NODE_ANSWER)
        except ApiError as e:
            raise Refused(502 if e.status >= 500 else e.status, "the host node's kubelet did not answer") from e

    def _virtual_pod_of(self, namespace: str, name: str) -> dict[str, Any] | None:
        """The virtual pod behind host pod namespace/name, when that host pod is this vcluster's."""
        host = self.hpods.get(f"{namespace}/{name}")
        if host is None or not is_managed(host, names=self.names, api_version="v1", kind="Pod"):
            return None
        virtual = self.names.to_virtual(host)
        return self.vpods.get(f"{virtual[0]}/{virtual[1]}") if virtual and virtual[0] else None

    def node_at(self, address: str) -> str | None:
        """The node of ours (fake or mirrored) that advertises `address`; None when there is none or several."""
        nodes = [n for n in self.vnodes.by_index(ADDRESS_INDEX, address) if is_fake_node(n) or removable(n)]
        return nodes[0]["metadata"]["name"] if len(nodes) == 1 else None
