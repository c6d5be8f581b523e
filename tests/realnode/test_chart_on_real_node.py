"""The chart, installed for real on the real node (`pytest --real-node`): images of the project's own etcd,
kube-apiserver and kube-controller-manager and of vcsync, built here (hack/image) and loaded into the node. Its
StatefulSet becomes Ready with real containers; in the virtual cluster it serves, a Deployment becomes Available, a
tenant pod resolves its Service by name through the CoreDNS vcsync keeps and is answered through the host's
kube-proxy, and `kubectl logs` reaches it; `helm uninstall` leaves nothing of the release behind."""

from __future__ import annotations

import base64
import os
import subprocess
from pathlib import Path

import pytest
import yaml

from syncer.controlplane import ClusterPair
from syncer.controlplane.assets import run_hack
from syncer.controlplane.node import NAME, TAINT, TOLERATION
from tests.chart.chart import CHART, RELEASE, find_helm
from tests.integration.test_kubelet import Kubectl
from tests.support import eventually

pytestmark = [pytest.mark.controlplane, pytest.mark.real_node]
SERVICE_IP = "10.96.0.150"  # pinned, so the serving certificate names it from the start (README: Install with Helm)


def _values(images: dict[str, str], coredns: str) -> dict:
    def image(ref: str) -> dict:
        repository, _, tag = ref.rpartition(":")
        return {"repository": repository, "tag": tag, "pullPolicy": "Never"}

    return {
        "service": {"clusterIP": SERVICE_IP},
        "persistence": {"enabled": False},  # no volume provisioner on the test host
        "nodeSelector": {"kubernetes.io/hostname": NAME},
        "tolerations": [TOLERATION],
        "syncer": {
            "image": image(images["vcsync"]),
            "flags": {
                "enforceToleration": [f"{TAINT}:NoSchedule"],
                "nodeSelector": f"kubernetes.io/hostname={NAME}",
                "corednsImage": coredns,
            },
        },
        "controlPlane": {
            "serviceCIDR": "10.96.0.0/16",
            "etcd": {"image": image(images["etcd"])},
            "apiserver": {"image": image(images["kube-apiserver"])},
            "controllerManager": {"image": image(images["kube-controller-manager"])},
        },
    }


def _tenant_objects(image: str) -> str:
    container = {"name": "web", "image": image, "imagePullPolicy": "Never"}
    labels = {"app": "web"}
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [container | {"command": ["python3", "-m", "http.server", "8080"]}]},
            },
        },
    }
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web"},
        "spec": {"selector": labels, "ports": [{"port": 80, "targetPort": 8080}]},
    }
    fetch = (
        "import socket, time, urllib.request as u\n"
        "deadline = time.time() + 60\n"
        "while time.time() < deadline:\n"
        "    try:\n"
        "        print(socket.gethostbyname('web'), u.urlopen('http://web/', timeout=5).status)\n"
        "        break\n"
        "    except OSError:\n"
        "        time.sleep(1)\n"
    )
    client = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "client"},
        "spec": {"restartPolicy": "Never", "containers": [container | {"command": ["python3", "-c", fetch]}]},
    }
    return yaml.safe_dump_all([deployment, service, client])


async def test_the_chart_runs_a_virtual_cluster_whose_tenant_app_resolves_and_answers(
    cluster_pair: ClusterPair, host_namespace: str, tmp_path: Path
) -> None:
    node = cluster_pair.host.real_node
    assert node is not None
    built = [run_hack("image/build.sh"), *run_hack("image/controlplane.sh").split()]
    node.load_images(built)
    images = {"vcsync": built[0], **{ref.split("/")[1].split(":")[0]: ref for ref in built[1:]}}
    base, coredns = node.images[-2:]
    values = tmp_path / "values.yaml"
    values.write_text(yaml.safe_dump(_values(images, coredns)))
    homes = {f"HELM_{d}_HOME": str(tmp_path / d.lower()) for d in ("CACHE", "CONFIG", "DATA")}
    env = {**os.environ, **homes, "KUBECONFIG": str(cluster_pair.host.kubeconfig)}

    def helm(*args: str) -> None:
        result = subprocess.run(
            [str(find_helm()), *args, "-n", host_namespace], capture_output=True, text=True, env=env, timeout=300
        )
        assert result.returncode == 0, result.stderr

    helm("install", RELEASE, str(CHART), "-f", str(values), "--wait", "--timeout=180s")
    secret = cluster_pair.host.api("GET", f"/api/v1/namespaces/{host_namespace}/secrets/{RELEASE}-certs")
    kubeconfig = yaml.safe_load(base64.b64decode(secret["data"]["kubeconfig"]))
    kubeconfig["clusters"][0]["cluster"]["server"] = f"https://{SERVICE_IP}:443"  # this machine routes ClusterIPs
    (tmp_path / "virtual.kubeconfig").write_text(yaml.safe_dump(kubeconfig))
    tenant = Kubectl(cluster_pair, "default")
    tenant.argv[1] = f"--kubeconfig={tmp_path / 'virtual.kubeconfig'}"

    async def answering():  # the pod is Ready; kube-proxy programs the Service's rules a moment later
        return (await tenant.run("get", "--raw", "/readyz"))[1] == "ok"

    await eventually(answering, 60, "the virtual API server to answer at the vcluster Service's IP", every=1)
    code, out, err = await tenant.run("apply", "-f", "-", stdin=_tenant_objects(base).encode())
    assert code == 0, err

    async def finished():
        code, out, _ = await tenant.run("get", "pod", "client", "-o", "jsonpath={.status.phase}")
        return out if code == 0 and out in ("Succeeded", "Failed") else None

    assert await eventually(finished, 180, "the tenant client pod to finish", every=1) == "Succeeded"
    code, ip, err = await tenant.run("get", "service", "web", "-o", "jsonpath={.spec.clusterIP}")
    code, out, err = await tenant.run("logs", "client")
    assert code == 0 and out.split() == [ip, "200"], (out, err)

    helm("uninstall", RELEASE, "--wait", "--timeout=120s")

    left: list[str] = []

    async def nothing_left():
        left[:] = [
            f"{kind}/{item['metadata']['name']}"
            for kind in ("pods", "services", "configmaps", "statefulsets")
            for item in cluster_pair.host.api("GET", _path(kind, host_namespace))["items"]
            if kind != "configmaps" or item["metadata"]["name"] != "kube-root-ca.crt"
        ]
        return not left

    try:
        await eventually(nothing_left, 120, "the release's pods and every synced object to be gone", every=1)
    except AssertionError as e:
        raise AssertionError(f"left behind: {left}") from e


def _path(kind: str, namespace: str) -> str:
    group = "/apis/apps/v1" if kind == "statefulsets" else "/api/v1"
    return f"{group}/namespaces/{namespace}/{kind}"
