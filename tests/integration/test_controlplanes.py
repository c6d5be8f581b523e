"""The test control planes are real: both API servers answer, the virtual controller-manager creates pods that
nobody schedules, the host schedules pods onto kwok nodes that make them Running, TokenRequest works."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException

from syncer.controlplane import Cluster, assets
from tests.support import eventually, fresh_namespace

pytestmark = pytest.mark.controlplane


async def test_both_clusters_report_the_pinned_version(host_api, virtual_api):
    pinned = assets.pinned_versions()["KUBERNETES_VERSION"]
    for api in (host_api, virtual_api):
        version = await client.VersionApi(api).get_code()
        assert version.git_version == pinned


async def test_virtual_deployment_gets_pending_unscheduled_pods(virtual_api, virtual_namespace):
    labels = {"app": "web"}
    deployment = {
        "metadata": {"name": "web"},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}},
        },
    }
    await client.AppsV1Api(virtual_api).create_namespaced_deployment(virtual_namespace, deployment)
    core = client.CoreV1Api(virtual_api)

    async def two_pods():
        pods = (await core.list_namespaced_pod(virtual_namespace, label_selector="app=web")).items
        return pods if len(pods) == 2 else None

    pods = await eventually(two_pods, 60, "the virtual controller-manager to create 2 pods")
    for pod in pods:
        assert pod.status.phase == "Pending"
        assert pod.spec.node_name is None  # no scheduler in the virtual cluster: vcsync plays that part


async def test_host_pod_is_scheduled_to_a_kwok_node_and_runs_with_an_ip(host_api, host_namespace):
    core = client.CoreV1Api(host_api)
    pod = {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}}
    await core.create_namespaced_pod(host_namespace, pod)

    async def running():
        p = await core.read_namespaced_pod("p", host_namespace)
        return p if p.status.phase == "Running" and p.status.pod_ip else None

    p = await eventually(running, 60, "the host pod to be Running with an IP")
    assert p.spec.node_name in ("kwok-node-0", "kwok-node-1")  # kwok-node-2 is tainted
    assert p.status.host_ip.startswith("198.51.100.")


async def test_host_nodes_have_distinct_labels_and_one_taint(host_api):
    nodes = (await client.CoreV1Api(host_api).list_node()).items
    assert sorted(n.metadata.labels["pool"] for n in nodes) == ["a", "b", "c"]
    assert [n.metadata.name for n in nodes if n.spec.taints] == ["kwok-node-2"]
    assert all(c.status == "True" for n in nodes for c in n.status.conditions if c.type == "Ready")


@pytest.fixture(params=["host", "virtual"])
async def either_side(request, cluster_pair):
    """(api, namespace) on the host, then on the virtual cluster."""
    cluster: Cluster = getattr(cluster_pair, request.param)
    async with cluster.client() as api:
        async for namespace in fresh_namespace(api, request.node.name):
            yield api, namespace


async def test_token_request_issues_a_token_the_api_server_accepts(either_side):
    api, namespace = either_side
    core, auth = client.CoreV1Api(api), client.AuthenticationV1Api(api)
    await core.create_namespaced_service_account(namespace, {"metadata": {"name": "robot"}})
    audience = "https://kubernetes.default.svc.cluster.local"
    token = await core.create_namespaced_service_account_token(
        "robot", namespace, {"spec": {"audiences": [audience], "expirationSeconds": 600}}
    )
    review = await auth.create_token_review({"spec": {"token": token.status.token, "audiences": [audience]}})
    assert review.status.authenticated is True
    assert review.status.user.username == f"system:serviceaccount:{namespace}:robot"


async def test_a_retrying_client_survives_a_host_apiserver_restart(host_cluster, host_api, host_namespace):
    core = client.CoreV1Api(host_api)
    old_pid = host_cluster.components["kube-apiserver"].pid
    restart = asyncio.create_task(host_cluster.restart_async("kube-apiserver"))
    failures = 0

    async def create(i: int) -> None:
        nonlocal failures
        while True:
            try:
                await core.create_namespaced_config_map(
                    host_namespace, {"metadata": {"name": f"cm-{i}"}}, _request_timeout=5
                )
                return
            except (TimeoutError, ApiException, OSError, aiohttp.ClientError) as e:
                if isinstance(e, ApiException) and e.status == 409:
                    return  # the write landed just before the connection dropped
                failures += 1
                await asyncio.sleep(0.2)

    i = 0
    while not restart.done():
        await asyncio.wait_for(create(i), 120)
        i += 1
    await restart
    await asyncio.wait_for(create(i), 30)
    assert host_cluster.components["kube-apiserver"].pid != old_pid
    names = {cm.metadata.name for cm in (await core.list_namespaced_config_map(host_namespace)).items}
    assert {f"cm-{n}" for n in range(i + 1)} <= names
