"""The engine keeps going when the API servers do not: watches survive host and virtual apiserver restarts, and a
410 Gone after an etcd compaction re-lists without missing a change or writing twice. Dry run writes nothing."""

from __future__ import annotations

import json
import signal

import aiohttp
import pytest

from syncer.controlplane import Cluster
from tests.integration.test_sync_configmaps_secrets import S, create_pod, gone_from_host, on_host
from tests.kube import Any_
from tests.support import eventually, others_gone, token_kubeconfig
from translators.names import host_name

pytestmark = pytest.mark.controlplane
FORCED = {"vcluster.loft.sh/force-sync": "true"}


async def compact_etcd(cluster: Cluster) -> int:
    """Compact the cluster's etcd at its current revision (through etcd's JSON gateway); returns the revision."""
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{cluster.etcd_url}/v3/kv/range", json={"key": "AA=="}) as resp:
            revision = int((await resp.json())["header"]["revision"])
        async with session.post(
            f"{cluster.etcd_url}/v3/kv/compaction", json={"revision": str(revision), "physical": True}
        ) as resp:
            assert resp.status == 200, await resp.text()
    return revision


async def test_watches_survive_host_and_virtual_apiserver_restarts(
    run_syncer, cluster_pair, v, h, virtual_namespace, host_namespace
):
    vns, t = virtual_namespace, host_namespace
    syncer = await run_syncer()
    for cluster in (cluster_pair.virtual, cluster_pair.host):
        await cluster.restart_async("kube-apiserver")
        name = f"after-{cluster.role}-restart"
        await v.create("config_map", vns, {"metadata": {"name": name, "annotations": FORCED}, "data": {"a": "1"}})
        await on_host(h, "config_map", t, name, vns, timeout=60)
    assert await syncer.metric("vcsync_watch_restarts_total") >= 2


@pytest.mark.parametrize("side", ["virtual", "host"])
async def test_syncing_goes_on_across_an_etcd_restart_and_writes_each_change_once(
    side, run_syncer, cluster_pair, v, h, virtual_api, virtual_namespace, host_namespace
):
    vns, t = virtual_namespace, host_namespace
    await others_gone(virtual_api, vns)  # their host copies' deletion would count as writes here
    syncer = await run_syncer()
    await v.create("config_map", vns, {"metadata": {"name": "before", "annotations": FORCED}, "data": {"a": "1"}})
    await on_host(h, "config_map", t, "before", vns)
    await syncer.settle()
    written = await _host_writes_done(syncer)

    await getattr(cluster_pair, side).restart_async("etcd")  # the API server stays up and reconnects

    await v.create("config_map", vns, {"metadata": {"name": "after", "annotations": FORCED}, "data": {"b": "2"}})
    await v.patch("config_map", vns, "before", {"data": {"a": "2"}})
    await on_host(h, "config_map", t, "after", vns, timeout=60)
    await eventually(
        lambda: _host_value(h, t, vns, "before", "a", "2"), 60, "the update made after the restart on the host"
    )
    await syncer.settle()
    assert await _host_writes_done(syncer) - written == 2  # one create, one update: nothing twice


async def _host_writes_done(syncer) -> float:
    """Host writes that succeeded (those refused while etcd was away are retried, not repeated)."""
    verbs = {"create": "201", "patch": "200", "update": "200", "delete": "200"}
    return sum(
        [await syncer.metric("vcsync_api_requests_total", cluster="host", verb=v, code=c) for v, c in verbs.items()]
    )


async def _host_value(h, t: str, vns: str, name: str, key: str, value: str) -> bool:
    copy = await h.get("config_map", t, host_name(name, vns, S))
    return bool(copy) and copy.get("data", {}).get(key) == value


async def test_relist_after_an_etcd_compaction_misses_no_change_and_writes_once(
    run_syncer, cluster_pair, v, h, virtual_api, virtual_namespace, host_namespace
):
    vns, t = virtual_namespace, host_namespace
    await others_gone(virtual_api, vns)
    await v.create("config_map", vns, {"metadata": {"name": "old", "annotations": FORCED}, "data": {"a": "1"}})
    syncer = await run_syncer()
    await on_host(h, "config_map", t, "old", vns)
    changes = {"kind": "configmaps", "result": "changed"}
    before = await syncer.metric("vcsync_sync_total", **changes)

    syncer.send(signal.SIGSTOP)  # it must not see these changes on its open watch: cut that first
    try:
        await cluster_pair.virtual.restart_async("kube-apiserver")
        await v.delete("config_map", vns, "old")
        await v.create("config_map", vns, {"metadata": {"name": "new", "annotations": FORCED}, "data": {"b": "2"}})
        await compact_etcd(cluster_pair.virtual)
        await cluster_pair.virtual.restart_async("kube-apiserver")  # a fresh watch cache: old versions are gone
    finally:
        syncer.send(signal.SIGCONT)

    await on_host(h, "config_map", t, "new", vns, timeout=60)
    await gone_from_host(h, "config_map", t, "old", vns)
    assert await syncer.metric("vcsync_watch_restarts_total", cluster="virtual", reason="gone") >= 1
    assert await syncer.metric("vcsync_sync_total", **changes) - before == 2  # one create, one delete: none twice


async def test_dry_run_logs_the_writes_it_would_make_and_makes_none(
    run_syncer, v, h, virtual_namespace, host_namespace
):
    vns, t = virtual_namespace, host_namespace
    await v.create("config_map", vns, {"metadata": {"name": "cfg", "annotations": FORCED}, "data": {"a": "1"}})
    syncer = await run_syncer("--dry-run")

    async def logged():
        return next((e for e in syncer.log_entries() if e.get("host_name") == host_name("cfg", vns, S)), None)

    entry = await eventually(logged, 30, "the intended create in the log")
    assert entry["result"] == "dry_run" and entry["action"] == "create" and "data.a" in json.dumps(entry)
    assert await h.get("config_map", t, host_name("cfg", vns, S)) is None
    assert await syncer.writes() == 0


async def test_a_create_the_host_keeps_refusing_is_reported_with_its_reason_not_as_flapping(
    pod_syncer, v, h, virtual_namespace, host_namespace
):
    vns, t = virtual_namespace, host_namespace
    quota = {"metadata": {"name": "no-pods"}, "spec": {"hard": {"pods": "0"}}}
    await h.create("resource_quota", t, quota)
    await eventually(lambda: _quota_counted(h, t), 30, "the host's quota controller to count the namespace")
    await create_pod(v, vns, {"metadata": {"name": "web"}, "spec": {"containers": [{"name": "c", "image": "x"}]}})

    async def refused_often():
        return await pod_syncer.metric("vcsync_sync_errors_total", kind="pods", reason="quota") >= 8

    await eventually(refused_often, 60, "eight refused creates")
    messages = [e["message"] for e in await v.events_for(vns, "web") if e["type"] == "Warning"]
    assert any("exceeded quota" in m for m in messages), messages
    assert not any("changing too often" in m for m in messages), messages
    assert await pod_syncer.metric("vcsync_flapping_total") == 0

    await h.delete("resource_quota", t, "no-pods")
    await on_host(h, "pod", t, "web", vns, timeout=60)  # the backoff's next attempt succeeds


async def _quota_counted(h, t: str) -> bool:
    quota = await h.get("resource_quota", t, "no-pods")
    return bool(quota and (quota.get("status") or {}).get("hard"))


async def test_a_kind_syncs_while_another_kinds_cache_cannot_fill(
    run_syncer, cluster_pair, host_api, v, h, virtual_namespace, host_namespace, tmp_path
):
    """Each kind's controller starts once the caches it reads are filled, not after every cache: with an identity
    that may not list host Events, the event cache never fills, yet ConfigMaps sync. /readyz stays 503 all along:
    ready still means every cache filled and every key seen once."""
    vns, t = virtual_namespace, host_namespace
    rbac = "/apis/rbac.authorization.k8s.io/v1"
    role = {
        "metadata": {"name": "no-events"},
        "rules": [
            {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["*"]},
            {"apiGroups": [""], "resources": ["services"], "verbs": ["get", "list", "watch"]},
        ],
    }
    binding = {
        "metadata": {"name": "no-events"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "no-events"},
        "subjects": [{"kind": "ServiceAccount", "name": "no-events", "namespace": t}],
    }
    await h.create("service_account", t, {"metadata": {"name": "no-events"}})
    await Any_(host_api).call("POST", f"{rbac}/namespaces/{t}/roles", role)
    await Any_(host_api).call("POST", f"{rbac}/namespaces/{t}/rolebindings", binding)
    kubeconfig = token_kubeconfig(cluster_pair, t, "no-events", tmp_path / "no-events.kubeconfig")
    others = (
        "services",
        "secrets",
        "endpoints",
        "pods",
        "persistentvolumeclaims",
        "fake-nodes",
        "fake-persistentvolumes",
    )
    syncer = await run_syncer(
        f"--host-kubeconfig={kubeconfig}", f"--sync={','.join('-' + k for k in others)}", wait=False
    )
    await v.create("config_map", vns, {"metadata": {"name": "early", "annotations": FORCED}, "data": {"a": "1"}})
    copy = await on_host(h, "config_map", t, "early", vns)
    assert copy["data"] == {"a": "1"}
    assert (await syncer._get(syncer.health_port, "/readyz"))[0] == 503
    assert "events is forbidden" in syncer.log_text()
