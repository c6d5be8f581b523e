"""The chart against the real test clusters. The host API server accepts every rendered object (server-side dry
run, with the pod template meeting the restricted Pod Security Standard); the chart's control-plane arguments and
generated credentials start a working kube-apiserver; and vcsync, started with exactly the arguments the chart
renders and a token of the chart's ServiceAccount bound only by the chart's Roles, syncs a pod and its ConfigMap,
while requests outside those Roles are forbidden. Deleting the chart's Service then garbage-collects what was
synced, which is how `helm uninstall` cleans up; a real install, upgrade and uninstall keep the generated
credentials across upgrades and leave nothing behind."""

from __future__ import annotations

import base64
import contextlib
import ipaddress
import json
import os
import signal
import ssl
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography import x509
from kubernetes_asyncio import client

from syncer.controlplane import ClusterPair, assets
from syncer.controlplane.cluster import ApiError, free_port
from syncer.controlplane.process import Component
from syncer.kube.client import connect
from tests import syncer_process
from tests.chart.chart import (
    CHART,
    EVERYTHING,
    OPTIONAL,
    RELEASE,
    container,
    objects,
    one,
    rbac_objects,
    render,
    vcsync_args,
)
from tests.conftest import COREDNS
from tests.kube import Any_, Core, pod
from tests.support import eventually, token_kubeconfig, vcsync
from translators.names import host_name

pytestmark = pytest.mark.controlplane


def kubectl(pair: ClusterPair, *args: str, stdin: str | None = None, kubeconfig: Path | None = None):
    binary = assets.locate()["kubectl"]
    return subprocess.run(
        [str(binary), f"--kubeconfig={kubeconfig or pair.host.kubeconfig}", *args],
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def _stream(docs: list[dict[str, Any]]) -> str:
    return yaml.safe_dump_all(docs, sort_keys=False)


def _apply(pair: ClusterPair, docs: list[dict[str, Any]], *extra: str) -> subprocess.CompletedProcess[str]:
    result = kubectl(pair, "apply", *extra, "-f", "-", stdin=_stream(docs))
    assert result.returncode == 0, result.stderr
    return result


async def _status(kubeconfig: Path, method: str, path: str, body: dict[str, Any] | None = None) -> int:
    async with connect(kubeconfig) as api:
        resp = await api.call_api(
            path,
            method,
            header_params={"Content-Type": "application/json", "Accept": "application/json"},
            body=body,
            auth_settings=["BearerToken"],
            _preload_content=False,
        )
        await resp.read()
        return resp.status


def _adapted(args: list[str], pair: ClusterPair, host_kubeconfig: Path, syncer: syncer_process.Syncer) -> list[str]:
    """The rendered `vcsync run` arguments with only the pod-specific paths and ports swapped: the virtual
    kubeconfig, the host credentials (a token file instead of the in-cluster account), loopback ports and the pair's
    egress socket."""
    swapped = (
        "--virtual-kubeconfig=",
        "--host-kubeconfig=",
        "--health-bind-address=",
        "--metrics-bind-address=",
        "--kubelet-bind-address=",
        "--kubelet-egress-socket=",
    )
    kept = [arg for arg in args if not arg.startswith(swapped)]
    return [
        *kept,
        f"--virtual-kubeconfig={pair.virtual.kubeconfig}",
        f"--host-kubeconfig={host_kubeconfig}",
        f"--health-bind-address=127.0.0.1:{syncer.health_port}",
        f"--metrics-bind-address=127.0.0.1:{syncer.metrics_port}",
        f"--kubelet-bind-address=127.0.0.1:{syncer.kubelet_port}",
        f"--kubelet-egress-socket={pair.virtual.kubelet_egress_socket}",
    ]


@contextlib.asynccontextmanager
async def _chart_syncer(
    pair: ClusterPair, docs: list[dict[str, Any]], namespace: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[syncer_process.Syncer, Path]]:
    """vcsync as the chart runs it, authenticated with a token of the chart's ServiceAccount; ready on entry,
    stopped on exit. Yields the process and that token's kubeconfig."""
    kubeconfig = token_kubeconfig(pair, namespace, RELEASE, tmp_path / "host-token.kubeconfig")
    syncer = syncer_process.Syncer(pair, name=RELEASE, target=namespace, args=(), log_path=tmp_path / "vcsync.log")
    syncer.argv = [sys.executable, "-m", "syncer.cli", *_adapted(vcsync_args(docs), pair, kubeconfig, syncer)]
    monkeypatch.setenv("POD_NAMESPACE", namespace)  # the chart sets both from the downward API
    monkeypatch.setenv("POD_NAME", f"{RELEASE}-0")
    await syncer.start()
    try:
        await syncer.wait_ready()
        yield syncer, kubeconfig
    finally:
        await syncer.stop()


async def _forbidden(kubeconfig: Path, requests: list[tuple[str, str, dict[str, Any] | None]]) -> None:
    statuses = {f"{method} {path}": await _status(kubeconfig, method, path, body) for method, path, body in requests}
    assert statuses == dict.fromkeys(statuses, 403), "requests outside the chart's Roles must be forbidden"


@pytest.mark.parametrize("values", [{}, EVERYTHING], ids=["defaults", "everything"])
def test_host_accepts_every_rendered_object_in_a_server_side_dry_run(
    cluster_pair: ClusterPair, helm_bin: Path, host_namespace: str, values: dict[str, Any]
) -> None:
    warn = kubectl(cluster_pair, "label", "namespace", host_namespace, "pod-security.kubernetes.io/warn=restricted")
    assert warn.returncode == 0, warn.stderr
    docs = render(helm_bin, values, namespace=host_namespace)

    result = _apply(cluster_pair, docs, "--dry-run=server")
    assert "PodSecurity" not in result.stderr, result.stderr
    applied = [line for line in result.stdout.splitlines() if "(server dry run)" in line]
    assert len(applied) == len(docs), result.stdout

    # the restricted check above is live: a pod template without the chart's security context would be flagged
    statefulset = json.loads(json.dumps(one(docs, "StatefulSet")))
    del statefulset["spec"]["template"]["spec"]["securityContext"]
    for entry in statefulset["spec"]["template"]["spec"]["containers"]:
        entry.pop("securityContext", None)
    assert "would violate PodSecurity" in _apply(cluster_pair, [statefulset], "--dry-run=server").stderr


def test_chart_control_plane_arguments_and_credentials_run_a_working_virtual_cluster(
    cluster_pair: ClusterPair, helm_bin: Path, host_namespace: str, tmp_path: Path
) -> None:
    """etcd, kube-apiserver and kube-controller-manager of this machine's pinned build, started with the rendered
    arguments and the rendered Secret's files (only paths and ports moved to loopback), after the serving-cert init
    step, run with its rendered arguments against the rendered Service on the host, signed the serving certificate."""
    docs = render(helm_bin, {"controlPlane": {"serviceCIDR": "10.96.0.0/16"}}, namespace=host_namespace)
    _apply(cluster_pair, [one(docs, "Service", RELEASE)])
    secret = {k: base64.b64decode(v) for k, v in one(docs, "Secret")["data"].items()}
    etcd_port, peer_port, api_port, manager_port = free_port(), free_port(), free_port(), free_port()
    kubeconfig = yaml.safe_load(secret["kubeconfig"])
    assert kubeconfig["clusters"][0]["cluster"]["server"] == "https://127.0.0.1:6443"
    kubeconfig["clusters"][0]["cluster"]["server"] = f"https://127.0.0.1:{api_port}"
    secret["kubeconfig"] = yaml.safe_dump(kubeconfig).encode()
    pki = tmp_path / "pki"
    pki.mkdir()
    for key, value in secret.items():
        (pki / key).write_bytes(value)
    admin = pki / "kubeconfig"
    service_ip = _sign_serving_cert(cluster_pair, docs, host_namespace, pki)

    def local(name: str, binary: str, *more: str) -> Component:
        text = "\n".join(container(docs, name)["args"])
        for pod_path in ("/etc/vcsync/pki", "/etc/vcsync/serving", "/etc/vcsync/controller-manager"):
            text = text.replace(pod_path, str(pki))
        text = text.replace("/var/lib/etcd", str(tmp_path / "etcd"))
        text = text.replace(":2379", f":{etcd_port}").replace(":2380", f":{peer_port}")
        text = text.replace("--secure-port=6443", f"--secure-port={api_port}")
        argv = [str(assets.locate()[binary]), *text.splitlines(), *more]
        return Component(f"chart/{name}", argv, tmp_path / f"{name}.log")

    components = [
        local("etcd", "etcd"),
        local("kube-apiserver", "kube-apiserver", "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1"),
        local("kube-controller-manager", "kube-controller-manager", f"--secure-port={manager_port}"),
    ]
    for component in components:
        component.start()
    try:

        def default_account() -> bool:  # made by the controller manager once the API server serves
            for component in components:
                component.check_running()
            result = kubectl(cluster_pair, "get", "serviceaccount", "default", "-n", "default", kubeconfig=admin)
            return result.returncode == 0

        _wait_until(default_account, 90, "the chart's control plane to serve and make default/default")
        served = ssl.get_server_certificate(("127.0.0.1", api_port))
        sans = x509.load_pem_x509_certificate(served.encode()).extensions.get_extension_for_class(
            x509.SubjectAlternativeName
        )
        assert ipaddress.ip_address(service_ip) in sans.value.get_values_for_type(x509.IPAddress)
        who = kubectl(cluster_pair, "auth", "whoami", "-o", "json", kubeconfig=admin)
        assert "system:masters" in json.loads(who.stdout)["status"]["userInfo"]["groups"]
        token = kubectl(cluster_pair, "create", "token", "default", "-n", "default", kubeconfig=admin)
        assert token.returncode == 0, token.stderr  # the generated service-account key signs tokens
        service = kubectl(cluster_pair, "get", "service", "kubernetes", "-o", "json", kubeconfig=admin)
        assert json.loads(service.stdout)["spec"]["clusterIP"].startswith("10.96.")
    finally:
        for component in reversed(components):
            component.stop(grace=5)


def _sign_serving_cert(pair: ClusterPair, docs: list[dict[str, Any]], namespace: str, pki: Path) -> str:
    """Run the rendered serving-cert init container's command here, as the chart's ServiceAccount would: it reads
    the Service's ClusterIP from the host. Returns that IP."""
    (init,) = one(docs, "StatefulSet")["spec"]["template"]["spec"]["initContainers"]
    args = [a.replace("/etc/vcsync/ca", str(pki)).replace("/etc/vcsync/serving", str(pki)) for a in init["args"]]
    env = {**os.environ, "POD_NAMESPACE": namespace}
    result = subprocess.run(
        [sys.executable, "-m", "syncer.cli", *args, f"--kubeconfig={pair.host.kubeconfig}"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    service_ip = pair.host.api("GET", f"/api/v1/namespaces/{namespace}/services/{RELEASE}")["spec"]["clusterIP"]
    assert service_ip in result.stdout
    return service_ip


def _wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.3)


async def test_vcsync_with_the_chart_rbac_syncs_a_pod_and_nothing_outside_is_allowed(
    cluster_pair: ClusterPair,
    helm_bin: Path,
    host_namespace: str,
    virtual_namespace: str,
    virtual_dns: None,
    no_coredns: None,
    v: Core,
    h: Core,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    t, vns = host_namespace, virtual_namespace
    docs = render(helm_bin, {}, namespace=t)
    assert objects(docs, "ClusterRole") == []  # fake-node mode needs nothing cluster-wide
    _apply(cluster_pair, [*rbac_objects(docs), one(docs, "Service", RELEASE)])
    async with _chart_syncer(cluster_pair, docs, t, tmp_path, monkeypatch) as (syncer, token):
        await v.create("config_map", vns, {"metadata": {"name": "app-config"}, "data": {"a": "1"}})
        await v.create("pod", vns, pod("web", volume_configmap="app-config"))

        async def synced():
            return await h.get("pod", t, host_name("web", vns, RELEASE)) and await h.get(
                "config_map", t, host_name("app-config", vns, RELEASE)
            )

        await eventually(synced, 45, "the pod and its ConfigMap on the host")
        host_pod = await h.get("pod", t, host_name("web", vns, RELEASE))
        assert host_pod["spec"]["serviceAccountName"] == f"{RELEASE}-workload"
        config_map = await h.get("config_map", t, host_name("app-config", vns, RELEASE))
        assert [(o["kind"], o["name"]) for o in config_map["metadata"]["ownerReferences"]] == [("Service", RELEASE)]

        async def served():  # Running, on a node that advertises this syncer's kubelet endpoint
            vpod = await v.get("pod", vns, "web")
            node = vpod["spec"].get("nodeName")
            if not node or vpod["status"].get("phase") != "Running":
                return False
            status = (await v.v1.read_node(node)).to_dict()["status"]
            return status["daemon_endpoints"]["kubelet_endpoint"]["port"] == syncer.kubelet_port

        await eventually(served, 45, "the pod Running on a node served by the chart's vcsync")

        async def dns_available():  # the chart turns --coredns on: its pod syncs under the chart's Roles too
            deployment = await Any_(v.v1.api_client).call("GET", COREDNS["deployment"])
            return ((deployment or {}).get("status") or {}).get("availableReplicas") == 1

        await eventually(dns_available, 60, "the chart's CoreDNS to be Available in the virtual cluster")
        logs = kubectl(cluster_pair, "logs", "web", "-n", vns, kubeconfig=cluster_pair.virtual.kubeconfig)
        assert logs.returncode == 0, logs.stderr  # the chart's namespaced pods/log grant is enough
        await _forbidden(
            token,
            [
                ("GET", "/api/v1/nodes/kwok-node-0/proxy/healthz", None),  # no nodes/proxy without node stats
                ("GET", "/api/v1/namespaces/default/secrets", None),
                ("GET", "/api/v1/namespaces/kube-system/configmaps", None),
                ("GET", "/api/v1/nodes", None),  # fake-node mode reads no host node
                ("POST", "/apis/rbac.authorization.k8s.io/v1/clusterroles", _cluster_role()),
                ("POST", f"/api/v1/namespaces/{t}/serviceaccounts/{RELEASE}/token", {"spec": {}}),
                ("DELETE", f"/apis/rbac.authorization.k8s.io/v1/namespaces/{t}/roles/{RELEASE}", None),
                ("POST", f"/apis/apps/v1/namespaces/{t}/deployments", {"metadata": {"name": "x"}}),
            ],
        )
        assert await _status(token, "GET", f"/api/v1/namespaces/{t}/secrets") == 200  # inside: the token works
        assert (
            "forbidden: user" not in syncer.log_text().lower()
        )  # no RBAC denial (a terminating namespace is no matter)
        assert await syncer.stop() == 0

    await h.v1.delete_namespaced_service(RELEASE, t)  # what `helm uninstall` does to the Service

    async def collected():
        return await h.get("config_map", t, host_name("app-config", vns, RELEASE)) is None

    await eventually(collected, 60, "the synced ConfigMap to be garbage-collected with the Service")


async def test_vcsync_with_every_optional_kind_needs_only_the_rendered_cluster_role(
    cluster_pair: ClusterPair, helm_bin: Path, host_namespace: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    t = host_namespace
    values = {"sync": OPTIONAL, "syncer": {"flags": {"dryRun": True, "leaderElect": True}}}
    docs = render(helm_bin, values, namespace=t)
    cluster_scoped = [*objects(docs, "ClusterRole"), *objects(docs, "ClusterRoleBinding")]
    assert len(cluster_scoped) == 2
    _apply(cluster_pair, [*rbac_objects(docs), one(docs, "Service", RELEASE)])
    try:
        async with _chart_syncer(cluster_pair, docs, t, tmp_path, monkeypatch) as (syncer, token):
            # ready: every host list and watch of every optional kind was allowed
            assert (
                "forbidden: user" not in syncer.log_text().lower()
            )  # no RBAC denial (a terminating namespace is no matter)
            assert await _status(token, "GET", "/api/v1/nodes") == 200
            await _forbidden(
                token,
                [
                    ("DELETE", "/api/v1/nodes/kwok-node-0", None),
                    ("GET", "/api/v1/namespaces/default/secrets", None),
                    ("POST", "/apis/rbac.authorization.k8s.io/v1/clusterroles", _cluster_role()),
                    ("GET", "/apis/rbac.authorization.k8s.io/v1/clusterroles", None),
                ],
            )
            assert await syncer.stop(signal.SIGTERM) == 0
    finally:
        kubectl(cluster_pair, "delete", "--ignore-not-found", "-f", "-", stdin=_stream(cluster_scoped))


def _cluster_role() -> dict[str, Any]:
    everything = {"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}
    return {"metadata": {"name": "vcsync-escalation"}, "rules": [everything]}


def test_helm_install_upgrade_keeps_credentials_and_uninstall_removes_everything(
    cluster_pair: ClusterPair, helm_bin: Path, host_namespace: str, tmp_path: Path
) -> None:
    t = host_namespace
    homes = {f"HELM_{d}_HOME": str(tmp_path / d.lower()) for d in ("CACHE", "CONFIG", "DATA")}
    env = {**os.environ, **homes, "KUBECONFIG": str(cluster_pair.host.kubeconfig)}

    def helm_run(*args: str) -> str:
        result = subprocess.run(
            [str(helm_bin), *args, "--namespace", t], capture_output=True, text=True, env=env, timeout=120
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    def secret() -> dict[str, bytes]:
        data = cluster_pair.host.api("GET", f"/api/v1/namespaces/{t}/secrets/{RELEASE}-certs")["data"]
        return {key: base64.b64decode(value) for key, value in data.items()}

    # no volume provisioner on the test host: etcd keeps its data in an emptyDir here
    settings = ["--set", "persistence.enabled=false", "--set", "sync={+nodes}"]
    notes = helm_run("install", RELEASE, str(CHART), *settings)
    assert f"port-forward service/{RELEASE} 8443:443" in notes
    assert f"vcsync pause {RELEASE} -n " in notes and "rbac.pauseSubjects" in notes
    installed = secret()
    cluster_role = f"/apis/rbac.authorization.k8s.io/v1/clusterroles/vcsync-{t}-{RELEASE}"
    assert cluster_pair.host.api("GET", cluster_role)["rules"][0]["resources"] == ["nodes"]

    helm_run("upgrade", RELEASE, str(CHART), *settings, "--set", "syncer.flags.logLevel=debug")
    upgraded = secret()
    for kept in ("ca.crt", "ca.key", "sa.key", "token", "kubeconfig"):  # tokens and kubeconfigs stay valid
        assert upgraded[kept] == installed[kept], kept

    helm_run("uninstall", RELEASE, "--wait")
    left = kubectl(cluster_pair, "get", "all,secrets,serviceaccounts,roles,rolebindings", "-n", t, "-o", "name")
    assert [name for name in left.stdout.split() if RELEASE in name] == []
    with pytest.raises(ApiError) as gone:
        cluster_pair.host.api("GET", cluster_role)
    assert gone.value.status == 404


async def test_pause_subjects_pause_and_resume_with_only_the_chart_role_and_vcsync_cannot(
    cluster_pair: ClusterPair, helm_bin: Path, host_namespace: str, host_api: client.ApiClient, h: Core, tmp_path: Path
) -> None:
    t, apps = host_namespace, client.AppsV1Api(host_api)
    subject = {"kind": "ServiceAccount", "name": "sleeper", "namespace": t}
    docs = render(helm_bin, {"rbac": {"pauseSubjects": [subject]}, "persistence": {"enabled": False}}, namespace=t)
    roles = {r["metadata"]["name"] for r in objects(docs, "Role")}
    assert roles == {RELEASE, f"{RELEASE}-own", f"{RELEASE}-pause"}
    assert {r["metadata"]["name"] for r in objects(render(helm_bin, {}, namespace=t), "Role")} == roles - {
        f"{RELEASE}-pause"
    }
    sleeper = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "sleeper", "namespace": t}}
    runs = [one(docs, "Service", RELEASE), one(docs, "StatefulSet", RELEASE)]  # kwok runs its pod
    _apply(cluster_pair, [*rbac_objects(docs), sleeper, *runs])
    workload = pod("web")
    workload["metadata"] = {
        "name": host_name("web", "shop", RELEASE),
        "labels": {"vcluster.loft.sh/managed-by": RELEASE, "vcluster.loft.sh/namespace": "shop"},
        "annotations": {"vcluster.loft.sh/object-name": "web", "vcluster.loft.sh/object-namespace": "shop"},
    }
    await h.create("pod", t, workload)
    await h.create("pod", t, pod("bystander"))
    token = token_kubeconfig(cluster_pair, t, "sleeper", tmp_path / "sleeper.kubeconfig")

    code, out, err = await vcsync("pause", RELEASE, "-n", t, kubeconfig=token)
    assert code == 0 and "is paused" in out, (out, err)
    assert (await apps.read_namespaced_stateful_set(RELEASE, t)).spec.replicas == 0
    assert [p.metadata.name for p in (await h.v1.list_namespaced_pod(t)).items] == ["bystander"]
    code, out, err = await vcsync("resume", RELEASE, "-n", t, kubeconfig=token)
    assert code == 0 and "is resumed" in out, (out, err)
    assert (await apps.read_namespaced_stateful_set(RELEASE, t)).spec.replicas == 1
    await _forbidden(
        token,
        [
            ("GET", f"/api/v1/namespaces/{t}/secrets", None),
            ("DELETE", f"/api/v1/namespaces/{t}/services/{RELEASE}", None),
            ("POST", f"/api/v1/namespaces/{t}/pods", pod("x")),
            ("PATCH", f"/api/v1/namespaces/{t}/services/other", {}),
        ],
    )
    syncer_token = token_kubeconfig(cluster_pair, t, RELEASE, tmp_path / "vcsync.kubeconfig")
    code, _, err = await vcsync("pause", RELEASE, "-n", t, kubeconfig=syncer_token)
    assert code == 1 and "refused" in err and "forbidden" in err.lower(), err  # vcsync cannot pause itself
