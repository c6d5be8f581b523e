"""Rows of the fault table that need more than a restart: the syncer killed in the middle of a burst of pods, a
host watch that comes back 410 Gone after changes vcsync never saw, and a host watch whose connection stalls (a
black-holing NAT, played by tests.netfault's relay). Each row asserts convergence and that nothing was done twice."""

from __future__ import annotations

import signal

import pytest
from kubernetes_asyncio import client

from tests.conftest import POD_SYNC, S
from tests.integration.test_sync_configmaps_secrets import on_host
from tests.integration.test_sync_resilience import FORCED, compact_etcd
from tests.netfault import Relay
from tests.support import eventually, others_gone
from tests.syncer_process import WRITE_VERBS as VERBS
from translators.names import host_name

pytestmark = pytest.mark.controlplane
BURST = 200
IDLE, REQUEST, SLACK = 5, 3, 15  # the stalled-watch row: --watch-idle-timeout, --request-timeout, slack (s)


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


async def test_a_stalled_host_watch_is_dropped_and_resumed_without_a_relist(
    run_syncer, cluster_pair, v, h, virtual_api, virtual_namespace, host_namespace, tmp_path
):
    vns, t = virtual_namespace, host_namespace
    await others_gone(virtual_api, vns)  # their host copies' deletion would count as writes here
    await v.create("config_map", vns, {"metadata": {"name": "cfg", "annotations": FORCED}, "data": {"a": "1"}})
    async with Relay(cluster_pair.host.port) as relay:
        kubeconfig = relay.kubeconfig(cluster_pair.host.kubeconfig, tmp_path / "host-via-relay.kubeconfig")
        syncer = await run_syncer(
            f"--host-kubeconfig={kubeconfig}", f"--watch-idle-timeout={IDLE}s", f"--request-timeout={REQUEST}s"
        )
        await on_host(h, "config_map", t, "cfg", vns)
        await syncer.settle()
        idle = {"cluster": "host", "kind": "configmaps", "reason": "idle"}
        restarts, written = await syncer.metric("vcsync_watch_restarts_total", **idle), await _answered_writes(syncer)

        assert relay.stall() > 0  # vcsync's open host connections, its watches among them, now deliver nothing
        await h.delete("config_map", t, host_name("cfg", vns, S))  # a host admin, straight to the API server

        await on_host(h, "config_map", t, "cfg", vns, timeout=IDLE + REQUEST + SLACK)
        await syncer.settle()
        assert await syncer.metric("vcsync_watch_restarts_total", **idle) > restarts
        assert await _answered_writes(syncer) - written == 1  # the one re-create
        for reason in ("gone", "storage_back"):  # the ways to a relist: none taken
            assert await syncer.metric("vcsync_watch_restarts_total", reason=reason) == 0
        assert "re-listing" not in syncer.log_text()
        await syncer.stop()


async def _answered_writes(syncer) -> float:
    """Host writes that reached the host: those sent into a stalled connection time out (code "error") unseen."""
    failed = [await syncer.metric("vcsync_api_requests_total", cluster="host", verb=v, code="error") for v in VERBS]
    return await syncer.writes("host") - sum(failed)


async def _at_least(pods, count: int) -> bool:
    return len(await pods()) >= count
