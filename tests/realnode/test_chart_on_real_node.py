"""The chart, installed for real on the real node (`pytest --real-node`): images of the project's own etcd,
kube-apiserver and kube-controller-manager and of vcsync, built here (hack/image) and loaded into the node. Its
StatefulSet becomes Ready with real containers, and a tenant reaches the virtual API server at the Service's IP with
TLS verified from the first install (the serving-cert init step names it); in the virtual cluster, a Deployment
becomes Available, a tenant pod resolves its Service by name through the CoreDNS vcsync keeps and is answered through
the host's kube-proxy, and `kubectl logs` reaches it. `helm upgrade` restarts the pod on its volume without
disturbing the tenant's running pods; `helm uninstall` leaves nothing of the release behind."""

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
from translators.markers import OBJECT_NAME

pytestmark = [pytest.mark.controlplane, pytest.mark.real_node, pytest.mark.timeout(600)]  # builds images when cold


def _values(images: dict[str, str], coredns: str, storage_class: str) -> dict:
    def image(ref: str) -> dict:
        repository, _, tag = ref.rpartition(":")
        return {"repository": repository, "tag": tag, "pullPolicy": "Never"}

    return {
        "persistence": {"enabled": True, "size": "1Gi", "storageClassName": storage_class},  # _etcd_volume
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
    return yaml.safe_dump_all([deployment, service, _client("client", image)])


def _client(name: str, image: str) -> dict:
    """A pod that resolves `web` and fetches it, printing the IP and the status."""
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
    container = {"name": "fetch", "image": image, "imagePullPolicy": "Never", "command": ["python3", "-c", fetch]}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"restartPolicy": "Never", "containers": [container]},
    }


def _etcd_volume(pair: ClusterPair, storage_class: str, path: Path) -> str:
    """A hostPath volume on the real node for the StatefulSet's claim (there is no provisioner), owned by the
    chart's non-root user. Returns the volume's name."""
    path.mkdir()
    os.chown(path, 65532, 65532)
    volume = {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": storage_class},
        "spec": {
            "storageClassName": storage_class,
            "capacity": {"storage": "1Gi"},
            "accessModes": ["ReadWriteOnce"],
            "persistentVolumeReclaimPolicy": "Retain",
            "hostPath": {"path": str(path), "type": "Directory"},
        },
    }
    pair.host.api("POST", "/api/v1/persistentvolumes", volume)
    return storage_class


async def test_the_chart_runs_a_virtual_cluster_whose_tenant_app_resolves_answers_and_survives_an_upgrade(
    cluster_pair: ClusterPair, host_namespace: str, tmp_path: Path
) -> None:
    node = cluster_pair.host.real_node
    assert node is not None
    built = [run_hack("image/build.sh"), *run_hack("image/controlplane.sh").split()]
    node.load_images(built)
    images = {"vcsync": built[0], **{ref.split("/")[1].split(":")[0]: ref for ref in built[1:]}}
    base, coredns = node.images[-2:]
    volume = _etcd_volume(cluster_pair, f"vcsync-etcd-{host_namespace}", tmp_path / "etcd")
    try:
        chosen = _values(images, coredns, volume)
        await _install_use_upgrade_uninstall(cluster_pair, host_namespace, tmp_path, chosen, base)
    finally:
        cluster_pair.host.api("DELETE", f"/api/v1/persistentvolumes/{volume}")


async def _install_use_upgrade_uninstall(
    pair: ClusterPair, namespace: str, tmp_path: Path, chosen: dict, base: str
) -> None:
    values = tmp_path / "values.yaml"
    values.write_text(yaml.safe_dump(chosen))
    homes = {f"HELM_{d}_HOME": str(tmp_path / d.lower()) for d in ("CACHE", "CONFIG", "DATA")}
    env = {**os.environ, **homes, "KUBECONFIG": str(pair.host.kubeconfig)}

    def helm(*args: str) -> None:
        result = subprocess.run(
            [str(find_helm()), *args, "-n", namespace], capture_output=True, text=True, env=env, timeout=300
        )
        assert result.returncode == 0, result.stderr

    helm("install", RELEASE, str(CHART), "-f", str(values), "--wait", "--timeout=180s")
    secret = pair.host.api("GET", f"/api/v1/namespaces/{namespace}/secrets/{RELEASE}-certs")
    service_ip = pair.host.api("GET", f"/api/v1/namespaces/{namespace}/services/{RELEASE}")["spec"]["clusterIP"]
    kubeconfig = yaml.safe_load(base64.b64decode(secret["data"]["kubeconfig"]))
    kubeconfig["clusters"][0]["cluster"]["server"] = f"https://{service_ip}:443"  # this machine routes ClusterIPs
    (tmp_path / "virtual.kubeconfig").write_text(yaml.safe_dump(kubeconfig))
    tenant = Kubectl(pair, "default")
    tenant.argv[1] = f"--kubeconfig={tmp_path / 'virtual.kubeconfig'}"  # verifies the IP against the certificate
    await _answering(tenant)
    code, _, err = await tenant.run("apply", "-f", "-", stdin=_tenant_objects(base).encode())
    assert code == 0, err
    ip = await _host_ip_of(pair, namespace, tenant, "web")
    await _fetched(tenant, "client", ip)
    web = _host_pods(pair, namespace, "web-")
    assert len(web) == 1, web

    helm("upgrade", RELEASE, str(CHART), "-f", str(values), "--set", "syncer.flags.logLevel=debug", "--wait")
    await _answering(tenant)  # the same CA and token: saved kubeconfigs stay valid
    again = yaml.safe_dump(_client("after-upgrade", base)).encode()
    code, _, err = await tenant.run("apply", "-f", "-", stdin=again)
    assert code == 0, err  # the virtual cluster kept its data: etcd on the volume
    await _fetched(tenant, "after-upgrade", ip)
    assert _host_pods(pair, namespace, "web-") == web  # the tenant's running pod was left alone

    helm("uninstall", RELEASE, "--wait", "--timeout=120s")
    left: list[str] = []

    async def nothing_left():
        left[:] = [
            f"{kind}/{item['metadata']['name']}"
            for kind in ("pods", "services", "configmaps", "statefulsets", "persistentvolumeclaims")
            for item in pair.host.api("GET", _path(kind, namespace))["items"]
            if kind != "configmaps" or item["metadata"]["name"] != "kube-root-ca.crt"
        ]
        return not left

    try:
        await eventually(nothing_left, 120, "the release's pods and every synced object to be gone", every=1)
    except AssertionError as e:
        raise AssertionError(f"left behind: {left}") from e


async def _answering(tenant: Kubectl) -> None:
    async def ready():  # the pod is Ready; kube-proxy programs the Service's rules a moment later
        return (await tenant.run("get", "--raw", "/readyz"))[1] == "ok"

    await eventually(ready, 60, "the virtual API server to answer at the vcluster Service's IP", every=1)


async def _host_ip_of(pair: ClusterPair, namespace: str, tenant: Kubectl, service: str) -> str:
    """The tenant Service's ClusterIP once it is its host copy's: vcsync re-creates a new virtual Service with the
    host's IP (delete, then create), so a get right after `apply` may find the first IP or, in between, nothing."""

    async def settled():
        code, ip, _ = await tenant.run("get", "service", service, "-o", "jsonpath={.spec.clusterIP}")
        items = pair.host.api("GET", _path("services", namespace))["items"]
        host = [i["spec"].get("clusterIP") for i in items if _virtual_name(i["metadata"]) == service]
        return ip if code == 0 and host == [ip] else None

    return await eventually(settled, 60, f"the tenant Service {service} to have its host copy's IP", every=1)


async def _fetched(tenant: Kubectl, pod: str, web_ip: str) -> None:
    async def finished():
        code, out, _ = await tenant.run("get", "pod", pod, "-o", "jsonpath={.status.phase}")
        return out if code == 0 and out in ("Succeeded", "Failed") else None

    assert await eventually(finished, 180, f"the tenant pod {pod} to finish", every=1) == "Succeeded"
    code, out, err = await tenant.run("logs", pod)
    assert code == 0 and out.split() == [web_ip, "200"], (out, err)


def _host_pods(pair: ClusterPair, namespace: str, virtual_prefix: str) -> dict[str, str]:
    """Name → UID of the host pods whose virtual pod's name starts with `virtual_prefix`."""
    items = pair.host.api("GET", _path("pods", namespace))["items"]
    virtual = [(_virtual_name(i["metadata"]), i["metadata"]) for i in items]
    return {meta["name"]: meta["uid"] for name, meta in virtual if name.startswith(virtual_prefix)}


def _virtual_name(meta: dict) -> str:
    return (meta.get("annotations") or {}).get(OBJECT_NAME, "")


def _path(kind: str, namespace: str) -> str:
    group = "/apis/apps/v1" if kind == "statefulsets" else "/api/v1"
    return f"{group}/namespaces/{namespace}/{kind}"
