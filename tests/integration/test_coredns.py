"""`--coredns` against the real clusters: the virtual cluster gets a CoreDNS whose Deployment becomes Available on
kwok, `kube-system/kube-dns` takes the host ClusterIP that tenant pods use as nameserver, a deleted Deployment comes
back while a tenant's own label survives a repair, a restarted syncer writes nothing for it, and without the flag
nothing is created. The virtual cluster is shared with the other tests, which need the `kube-dns` Service (the
session's placeholder, which the apply takes over): each test starts and ends without the other CoreDNS objects."""

from __future__ import annotations

import pytest
from kubernetes_asyncio import client

from tests.conftest import COREDNS, POD_SYNC, S
from tests.integration.test_sync_configmaps_secrets import create_pod
from tests.kube import Any_
from tests.support import eventually
from translators.names import host_name

pytestmark = pytest.mark.controlplane

NS = "kube-system"
DEPLOYMENT = COREDNS["deployment"]
SERVICE = f"/api/v1/namespaces/{NS}/services/kube-dns"
POD_LABEL = "k8s-app=kube-dns"


async def _available(virtual_api: client.ApiClient) -> dict:
    async def probe():
        deployment = await Any_(virtual_api).call("GET", DEPLOYMENT)
        conditions = {c["type"]: c["status"] for c in ((deployment or {}).get("status") or {}).get("conditions") or []}
        return deployment if conditions.get("Available") == "True" else None

    return await eventually(probe, 90, "the CoreDNS Deployment to be Available")


async def test_coredns_becomes_available_and_pods_resolve_through_the_host_cluster_ip(
    no_coredns, vcluster_service, run_syncer, virtual_api, v, h, virtual_namespace, host_namespace
):
    await run_syncer("--coredns", *POD_SYNC)
    deployment = await _available(virtual_api)
    assert deployment["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "vcsync"
    assert deployment["status"]["availableReplicas"] == 1
    hpods = await h.v1.list_namespaced_pod(host_namespace, label_selector=POD_LABEL)
    assert [p.status.phase for p in hpods.items] == ["Running"]  # an ordinary synced pod on a kwok node

    copy = await eventually(lambda: h.get("service", host_namespace, host_name("kube-dns", NS, S)), 30, "host copy")

    async def same_ip():
        service = await v.get("service", NS, "kube-dns")
        return service if service["spec"]["clusterIP"] == copy["spec"]["clusterIP"] else None

    service = await eventually(same_ip, 30, "kube-dns to take its host copy's ClusterIP")
    ports = {p["name"]: (p["port"], p["protocol"], p["targetPort"]) for p in service["spec"]["ports"]}
    assert ports == {"dns": (53, "UDP", 1053), "dns-tcp": (53, "TCP", 1053), "metrics": (9153, "TCP", 9153)}

    await create_pod(
        v, virtual_namespace, {"metadata": {"name": "app"}, "spec": {"containers": [{"name": "c", "image": "x"}]}}
    )
    hpod = await eventually(lambda: h.get("pod", host_namespace, host_name("app", virtual_namespace, S)), 30, "pod")
    assert hpod["spec"]["dnsPolicy"] == "None"
    assert hpod["spec"]["dnsConfig"]["nameservers"] == [copy["spec"]["clusterIP"]]


async def test_a_deleted_deployment_comes_back_and_a_tenants_own_label_survives_a_repair(
    no_coredns, vcluster_service, run_syncer, virtual_api
):
    api = Any_(virtual_api)
    await run_syncer("--coredns", *POD_SYNC)
    first = await eventually(lambda: api.call("GET", DEPLOYMENT), 30, "the CoreDNS Deployment")

    await api.call("DELETE", DEPLOYMENT)

    async def back():
        deployment = await api.call("GET", DEPLOYMENT)
        return deployment if deployment and deployment["metadata"]["uid"] != first["metadata"]["uid"] else None

    await eventually(back, 30, "the deleted Deployment to come back")

    # a declared field (replicas) and the tenant's own label change together: the repair keeps the label
    await api.call("PATCH", DEPLOYMENT, {"metadata": {"labels": {"team": "platform"}}, "spec": {"replicas": 3}}, True)

    async def repaired():
        deployment = await api.call("GET", DEPLOYMENT)
        return deployment if deployment["spec"]["replicas"] == 1 else None

    deployment = await eventually(repaired, 30, "replicas to be set back to the declared 1")
    assert deployment["metadata"]["labels"]["team"] == "platform"
    managers = {entry["manager"] for entry in deployment["metadata"]["managedFields"]}
    assert "vcsync" in managers


async def test_a_restarted_syncer_writes_nothing_for_coredns(no_coredns, vcluster_service, run_syncer, virtual_api):
    api = Any_(virtual_api)
    syncer = await run_syncer("--coredns", *POD_SYNC)
    await _available(virtual_api)
    await syncer.settle()
    paths = [*COREDNS.values(), SERVICE]
    before = {path: (await api.call("GET", path))["metadata"] for path in paths}
    await syncer.stop()

    restarted = await run_syncer("--coredns", *POD_SYNC)
    await restarted.settle()
    after = {path: (await api.call("GET", path))["metadata"] for path in paths}
    for path in paths:
        if path == DEPLOYMENT:  # pod status flowing up may move the Deployment's status, never its spec
            assert after[path]["generation"] == before[path]["generation"]
            assert after[path]["uid"] == before[path]["uid"]
        else:
            assert after[path]["resourceVersion"] == before[path]["resourceVersion"], path
    assert await restarted.metric("vcsync_sync_total", kind="coredns", result="changed") == 0
    assert await restarted.metric("vcsync_sync_total", kind="coredns", result="unchanged") >= 1
    assert "apply coredns object" not in restarted.log_text()


async def test_without_the_flag_nothing_is_created(no_coredns, vcluster_service, run_syncer, virtual_api):
    syncer = await run_syncer(*POD_SYNC)
    await syncer.settle()
    api = Any_(virtual_api)
    assert {kind: await api.call("GET", path) for kind, path in COREDNS.items()} == dict.fromkeys(COREDNS)
    assert await syncer.metric("vcsync_sync_total", kind="coredns") == 0
