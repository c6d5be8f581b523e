"""Tenant workloads on a real node (`pytest --real-node`, a session of its own): the host cluster has containerd,
a kubelet and kube-proxy next to its kwok nodes (syncer/controlplane/node.py), and vcsync sends every synced pod
there. A virtual Deployment runs real containers, its pods answer HTTP at the IPs vcsync reports, `kubectl logs` and
`exec` from the virtual cluster reach the real kubelet, and a virtual Service answers another tenant pod through the
host's kube-proxy, by ClusterIP and by name through the CoreDNS vcsync keeps in the virtual cluster."""

from __future__ import annotations

import aiohttp
import pytest
from kubernetes_asyncio import client

from syncer.controlplane.node import NAME, NODE_SELECTOR, TAINT, TOLERATION, VCLUSTER_SERVICE_IP
from tests.conftest import POD_SYNC, S
from tests.integration.test_kubelet import Kubectl
from tests.integration.test_sync_configmaps_secrets import create_pod
from tests.kube import Core
from tests.support import eventually
from translators.names import host_name

pytestmark = [pytest.mark.controlplane, pytest.mark.real_node]
SERVE = ["sh", "-c", "echo serving on 8080; exec python3 -m http.server 8080"]


def on_the_real_node(image: str, command: list[str], **spec: object) -> dict:
    """A pod spec for the real node: its taint tolerated, the local image only (there is no registry)."""
    container = {"name": "main", "image": image, "imagePullPolicy": "Never", "command": command}
    return {"nodeSelector": NODE_SELECTOR, "tolerations": [TOLERATION], "containers": [container], **spec}


@pytest.fixture
def images(cluster_pair) -> tuple[str, str]:
    """The workload image (the Debian base) and the CoreDNS image, both in the real node's containerd."""
    base, coredns = cluster_pair.host.real_node.images[-2:]
    return base, coredns


@pytest.fixture
def image(images: tuple[str, str]) -> str:
    return images[0]


@pytest.fixture
async def syncer(run_syncer, cluster_pair, h: Core, host_namespace: str, images: tuple[str, str], no_coredns):
    """vcsync as a chart install runs it, with every synced pod sent to the real node: CoreDNS (the local image) in
    the virtual cluster, and the vcluster Service in front of the virtual API server, at the IP its certificate
    names, so CoreDNS's pod reaches it."""
    port = cluster_pair.virtual.port
    spec = {"clusterIP": VCLUSTER_SERVICE_IP, "ports": [{"name": "https", "port": 443, "targetPort": port}]}
    await h.create("service", host_namespace, {"metadata": {"name": S}, "spec": spec})
    subset = {"addresses": [{"ip": cluster_pair.host.real_node.ip}], "ports": [{"name": "https", "port": port}]}
    await h.create("endpoints", host_namespace, {"metadata": {"name": S}, "subsets": [subset]})
    yield await run_syncer(
        *POD_SYNC,
        "--coredns",
        f"--coredns-image={images[1]}",
        f"--enforce-toleration={TAINT}:NoSchedule",
        f"--node-selector=kubernetes.io/hostname={NAME}",
    )
    await h.delete("service", host_namespace, S)  # its IP is the next test's: not after the namespace is gone

    async def released():
        return await h.get("service", host_namespace, S) is None

    await eventually(released, 30, "the vcluster Service to be deleted")


@pytest.fixture
async def web(syncer, virtual_api, virtual_namespace: str, image: str) -> dict:
    """A virtual Deployment of one real HTTP server, Available; returns its virtual pod."""
    apps = client.AppsV1Api(virtual_api)
    labels = {"app": "web"}
    template = {"metadata": {"labels": labels}, "spec": on_the_real_node(image, SERVE)}
    body = {"metadata": {"name": "web"}, "spec": {"selector": {"matchLabels": labels}, "template": template}}
    await apps.create_namespaced_deployment(virtual_namespace, body)
    await available(apps, "web", virtual_namespace)
    pods = await client.CoreV1Api(virtual_api).list_namespaced_pod(virtual_namespace, label_selector="app=web")
    return pods.items[0].to_dict()


async def available(apps: client.AppsV1Api, name: str, namespace: str) -> None:
    async def ready():
        d = await apps.read_namespaced_deployment(name, namespace)
        return d if (d.status.available_replicas or 0) >= 1 else None

    await eventually(ready, 120, f"Deployment {namespace}/{name} to be Available on the real node")


async def web_service(v: Core, h: Core, virtual_namespace: str, host_namespace: str) -> str:
    """A virtual Service in front of `web`; returns its ClusterIP once vcsync has given it the host copy's."""
    spec = {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]}
    await v.create("service", virtual_namespace, {"metadata": {"name": "web"}, "spec": spec})

    async def host_ip_in_the_virtual_cluster():
        hsvc = await h.get("service", host_namespace, host_name("web", virtual_namespace, S))
        vsvc = await v.get("service", virtual_namespace, "web")
        same = hsvc and vsvc and vsvc["spec"]["clusterIP"] == hsvc["spec"]["clusterIP"]
        return vsvc["spec"]["clusterIP"] if same else None

    return await eventually(host_ip_in_the_virtual_cluster, 60, "the virtual Service to carry its host ClusterIP")


async def run_to_completion(v: Core, namespace: str, name: str, image: str, code: str) -> dict:
    """A tenant pod on the real node running `python3 -c code`; returns it once it has ended."""
    body = on_the_real_node(image, ["python3", "-c", code], restartPolicy="Never")
    await create_pod(v, namespace, {"metadata": {"name": name}, "spec": body})

    async def finished():
        pod = await v.get("pod", namespace, name)
        return pod if pod["status"].get("phase") in ("Succeeded", "Failed") else None

    return await eventually(finished, 90, f"the tenant pod {name} to finish")


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
    web: dict, v: Core, h: Core, virtual_namespace: str, host_namespace: str, image: str, cluster_pair
) -> None:
    ip = await web_service(v, h, virtual_namespace, host_namespace)
    fetch = (  # kube-proxy programs the Service's rules a moment after vcsync made it: retried for 30 s
        "import time, urllib.request as u\n"
        "for attempt in range(30):\n"
        "    try:\n"
        f"        print(u.urlopen('http://{ip}/', timeout=5).status)\n"
        "        break\n"
        "    except OSError:\n"
        "        time.sleep(1)\n"
    )
    pod = await run_to_completion(v, virtual_namespace, "client", image, fetch)
    logs = await Kubectl(cluster_pair, virtual_namespace).run("logs", "client")
    assert logs[1].split() == ["200"], logs
    assert pod["status"]["phase"] == "Succeeded", pod["status"]


async def test_a_tenant_pod_resolves_a_virtual_service_by_name_with_the_virtual_clusters_coredns(
    web: dict, v: Core, h: Core, virtual_api, virtual_namespace: str, host_namespace: str, image: str, cluster_pair
) -> None:
    ip = await web_service(v, h, virtual_namespace, host_namespace)
    await available(client.AppsV1Api(virtual_api), "coredns", "kube-system")
    # CoreDNS learns of the Service from its own watch a moment later (until then `web` falls through the search path
    # to this machine's resolver, which answers for any name), and kube-proxy its rules: both retried for 60 s.
    code = (
        "import socket, time, urllib.request as u\n"
        "for attempt in range(60):\n"
        "    try:\n"
        f"        if socket.gethostbyname('web') == '{ip}':\n"
        "            print(socket.gethostbyname('web'), u.urlopen('http://web/', timeout=5).status)\n"
        "            break\n"
        "    except OSError:\n"
        "        pass\n"
        "    time.sleep(1)\n"
    )
    pod = await run_to_completion(v, virtual_namespace, "resolver", image, code)
    logs = await Kubectl(cluster_pair, virtual_namespace).run("logs", "resolver")
    assert pod["status"]["phase"] == "Succeeded", (pod["status"], logs)
    assert logs[1].split() == [ip, "200"]  # `web` in the pod's own namespace, by its search path
