"""Rows of the fault table that need more than a restart: the syncer killed in the middle of a burst of pods and a
host watch that comes back 410 Gone after changes vcsync never saw. Each row asserts convergence and that nothing
was done twice."""

from __future__ import annotations

import signal

import pytest
from kubernetes_asyncio import client

from tests.conftest import POD_SYNC, S
from tests.integration.test_sync_configmaps_secrets import on_host
from tests.integration.test_sync_resilience import FORCED, compact_etcd
from tests.support import eventually
from translators.names import host_name

pytestmark = pytest.mark.controlplane
BURST = 200


async def test_sigkill_in_the_middle_of_a_burst_then_a_restart_gives_every_pod_exactly_once(
    run_syncer, vcluster_service, virtual_api, v, h, virtual_namespace, host_namespace
):
    vns, t = virtual_namespace, host_namespace
    syncer = await run_syncer(*POD_SYNC)
    labels = {"app": "burst"}
    spec = {
        "replicas": BURST,
        "selector": {"matchLabels": labels},
        "template": {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "c", "image": "app"}]}},
    }
    await client.AppsV1Api(virtual_api).create_namespaced_deployment(vns, {"metadata": {"name": "burst"}, "spec": spec})

    async def host_pods() -> list[dict]:
        pods = await h.v1.list_namespaced_pod(t, label_selector=f"vcluster.loft.sh/managed-by={S}")
        return [p.to_dict() for p in pods.items]

    await eventually(lambda: _at_least(host_pods, BURST // 4), 60, "a quarter of the burst on the host")
    await syncer.stop(signal.SIGKILL)
    killed_at = len(await host_pods())
    assert killed_at < BURST, "the burst was over before the kill: the row proves nothing"

    await run_syncer(*POD_SYNC)

    async def all_running():
        vpods = [p.to_dict() for p in (await v.v1.list_namespaced_pod(vns)).items]
        running = [p for p in vpods if p["status"]["phase"] == "Running"]
        return vpods if len(vpods) == BURST and len(running) == BURST else None

    vpods = await eventually(all_running, 180, f"{BURST} virtual pods Running")
    hpods = await host_pods()
    assert len(hpods) == BURST  # no pod twice, none missing
    by_uid = {p["metadata"]["annotations"]["vcluster.loft.sh/uid"] for p in hpods}
    assert by_uid == {p["metadata"]["uid"] for p in vpods}  # each host pod is the copy of a live virtual pod


async def test_a_host_watch_gone_after_compaction_repairs_what_changed_while_it_was_away(
    run_syncer, cluster_pair, v, h, virtual_namespace, host_namespace
):
    vns, t = virtual_namespace, host_namespace
    for name in ("deleted", "edited"):
        await v.create("config_map", vns, {"metadata": {"name": name, "annotations": FORCED}, "data": {"a": "1"}})
    syncer = await run_syncer()
    for name in ("deleted", "edited"):
        await on_host(h, "config_map", t, name, vns)

    syncer.send(signal.SIGSTOP)  # it must not see these changes on its open watch
    try:
        await cluster_pair.host.restart_async("kube-apiserver")
        await h.delete("config_map", t, host_name("deleted", vns, S))
        await h.patch("config_map", t, host_name("edited", vns, S), {"data": {"a": "changed by a host admin"}})
        await compact_etcd(cluster_pair.host)
        await cluster_pair.host.restart_async("kube-apiserver")  # a fresh watch cache: old versions are gone
    finally:
        syncer.send(signal.SIGCONT)

    await on_host(h, "config_map", t, "deleted", vns, timeout=60)
    await on_host(h, "config_map", t, "edited", vns, timeout=60, data={"a": "1"})
    assert await syncer.metric("vcsync_watch_restarts_total", cluster="host", reason="gone") >= 1


async def _at_least(pods, count: int) -> bool:
    return len(await pods()) >= count
