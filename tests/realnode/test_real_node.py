"""Tenant workloads on a real node (`pytest --real-node`, a session of its own): the host cluster has containerd,
a kubelet and kube-proxy next to its kwok nodes (syncer/controlplane/node.py). A virtual Deployment runs real
containers, its pods answer HTTP at the IPs vcsync reports, `kubectl logs` and `exec` from the virtual cluster reach
the real kubelet, and a virtual Service answers another tenant pod through the host's kube-proxy."""

from __future__ import annotations

import aiohttp
import pytest
from kubernetes_asyncio import client

from syncer.controlplane.node import NODE_SELECTOR, TOLERATION
from tests.conftest import S
from tests.integration.test_kubelet import Kubectl
from tests.integration.test_sync_configmaps_secrets import create_pod
from tests.kube import Core
from tests.support import eventually
from translators.names import host_name

pytestmark = [pytest.mark.controlplane, pytest.mark.real_node]
SERVE = "echo serving on 8080; exec python3 -m http.server 8080"


def on_the_real_node(image: str, command: str, **spec: object) -> dict:
    """A pod spec for the real node: its taint tolerated, the local image only (there is no registry)."""
    container = {"name": "main", "image": image, "imagePullPolicy": "Never", "command": ["sh", "-c", command]}
    return {"nodeSelector": NODE_SELECTOR, "tolerations": [TOLERATION], "containers": [container], **spec}


@pytest.fixture
def image(cluster_pair) -> str:
    return cluster_pair.host.real_node.images[-1]


@pytest.fixture
async def web(pod_syncer, virtual_api, virtual_namespace: str, image: str) -> dict:
    """A virtual Deployment of one real HTTP server, Available; returns its virtual pod."""
    apps = client.AppsV1Api(virtual_api)
    labels = {"app": "web"}
    template = {"metadata": {"labels": labels}, "spec": on_the_real_node(image, SERVE)}
    body = {"metadata": {"name": "web"}, "spec": {"selector": {"matchLabels": labels}, "template": template}}
    await apps.create_namespaced_deployment(virtual_namespace, body)

    async def available():
        d = await apps.read_namespaced_deployment("web", virtual_namespace)
        return d if (d.status.available_replicas or 0) == 1 else None

    await eventually(available, 120, "the virtual Deployment to be Available on the real node")
    pods = await client.CoreV1Api(virtual_api).list_namespaced_pod(virtual_namespace, label_selector="app=web")
    return pods.items[0].to_dict()


async def test_a_virtual_deployment_runs_real_containers_that_answer_at_their_pod_ip(web: dict) -> None:
    assert web["spec"]["node_name"] == NODE_SELECTOR["kubernetes.io/hostname"]
    ip = web["status"]["pod_ip"]
    assert ip.startswith("10.244.")  # the real node's CNI range, not kwok's
    async with aiohttp.ClientSession() as session, session.get(f"http://{ip}:8080/") as resp:
        assert resp.status == 200 and "Directory listing" in await resp.text()


async def test_kubectl_logs_and_exec_in_the_virtual_cluster_reach_the_real_kubelet(
    web: dict, cluster_pair, virtual_namespace: str
) -> None:
    kubectl = Kubectl(cluster_pair, virtual_namespace)
    name = web["metadata"]["name"]
    code, out, err = await kubectl.run("logs", name)
    assert code == 0 and "serving on 8080" in out, err
    code, out, err = await kubectl.run("exec", name, "--", "cat", "/proc/1/cmdline")
    assert code == 0 and out.split("\0")[:3] == ["python3", "-m", "http.server"], err  # the container's PID 1
    code, out, err = await kubectl.run("exec", name, "--", "sh", "-c", "exit 3")
    assert code == 3, err


async def test_a_virtual_service_answers_another_tenant_pod_through_kube_proxy(
    web: dict, v: Core, h: Core, virtual_namespace: str, host_namespace: str, image: str
) -> None:
    service = {
        "metadata": {"name": "web"},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]},
    }
    await v.create("service", virtual_namespace, service)

    async def host_ip_in_the_virtual_cluster():
        hsvc = await h.get("service", host_namespace, host_name("web", virtual_namespace, S))
        vsvc = await v.get("service", virtual_namespace, "web")
        same = hsvc and vsvc and vsvc["spec"]["clusterIP"] == hsvc["spec"]["clusterIP"]
        return vsvc["spec"]["clusterIP"] if same else None

    ip = await eventually(host_ip_in_the_virtual_cluster, 60, "the virtual Service to carry its host ClusterIP")
    fetch = f"import urllib.request as u; print(u.urlopen('http://{ip}/', timeout=10).status)"
    body = on_the_real_node(image, f'python3 -c "{fetch}"', restartPolicy="Never")
    await create_pod(v, virtual_namespace, {"metadata": {"name": "client"}, "spec": body})

    async def finished():
        pod = await v.get("pod", virtual_namespace, "client")
        return pod if pod["status"].get("phase") in ("Succeeded", "Failed") else None

    pod = await eventually(finished, 90, "the tenant client pod to finish")
    assert pod["status"]["phase"] == "Succeeded", pod["status"]
