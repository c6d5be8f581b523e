"""Shared fixtures: one real host + virtual cluster pair per test session, a fresh namespace per test, and the
tail of every component's log attached to a failing test. Without the binaries, control-plane tests skip on a
laptop but FAIL when `CI` is set, so CI can never pass by skipping them."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import AsyncIterator, Iterator

import pytest
from kubernetes_asyncio import client

from syncer.controlplane import Cluster, ClusterPair, ControlPlaneError, assets, node
from syncer.controlplane.cluster import ApiError
from tests import syncer_process
from tests.kube import Any_, Core
from tests.support import eventually, fresh_namespace

_PAIR: ClusterPair | None = None


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--run-kind", action="store_true", help="also run `kind` tests (needs a Docker engine)")
    parser.addoption(
        "--real-node", action="store_true", help="the host cluster gets a real node; runs the `real_node` tests only"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """`kind` tests are opt-in: without --run-kind they are deselected (not skipped), so CI shows no skips.
    `real_node` tests run in their own session (`--real-node`, which runs nothing else), with a real node in the
    session's host cluster."""
    unwanted = [] if config.getoption("--run-kind") else [item for item in items if item.get_closest_marker("kind")]
    real_node = config.getoption("--real-node")
    unwanted += [item for item in items if bool(item.get_closest_marker("real_node")) != real_node]
    if unwanted:
        config.hook.pytest_deselected(items=unwanted)
        items[:] = [item for item in items if item not in unwanted]


def _docker_works() -> bool:
    docker = shutil.which("docker")
    return bool(docker) and subprocess.run([docker, "info"], capture_output=True, check=False).returncode == 0


@pytest.fixture(scope="session")
def docker_engine() -> None:
    if not _docker_works():
        pytest.fail("--run-kind was given but no Docker engine answers `docker info`")


def _missing(message: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"CI is set and the control planes are unavailable: {message}", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def cluster_pair(request: pytest.FixtureRequest) -> Iterator[ClusterPair]:
    global _PAIR
    real_node = request.config.getoption("--real-node")
    try:
        binaries = assets.locate(real_node=real_node)
    except ControlPlaneError as e:
        _missing(str(e))
    pair = ClusterPair(nodes=3, binaries=binaries, real_node_images=real_node_images() if real_node else None)
    _PAIR = pair
    pair.start()
    yield pair
    _PAIR = None
    pair.stop()


def real_node_images() -> list[str]:
    try:
        return node.local_images()
    except ControlPlaneError as e:
        pytest.fail(str(e), pytrace=False)


@pytest.fixture(scope="session")
def host_cluster(cluster_pair: ClusterPair) -> Cluster:
    return cluster_pair.host


@pytest.fixture(scope="session")
def virtual_cluster(cluster_pair: ClusterPair) -> Cluster:
    return cluster_pair.virtual


@pytest.fixture
async def host_api(host_cluster: Cluster) -> AsyncIterator[client.ApiClient]:
    async with host_cluster.client() as api:
        yield api


@pytest.fixture
async def virtual_api(virtual_cluster: Cluster) -> AsyncIterator[client.ApiClient]:
    async with virtual_cluster.client() as api:
        yield api


@pytest.fixture
async def host_namespace(host_api: client.ApiClient, request: pytest.FixtureRequest) -> AsyncIterator[str]:
    async for ns in fresh_namespace(host_api, request.node.name):
        yield ns


@pytest.fixture
async def virtual_namespace(virtual_api: client.ApiClient, request: pytest.FixtureRequest) -> AsyncIterator[str]:
    async for ns in fresh_namespace(virtual_api, request.node.name):
        yield ns
        # No kubelet in the virtual cluster: bound pods would keep the namespace terminating once the test's
        # syncer is gone, and tests that wait for a quiet cluster would wait for them.
        await client.CoreV1Api(virtual_api).delete_collection_namespaced_pod(ns, grace_period_seconds=0)


@pytest.fixture
def v(virtual_api: client.ApiClient) -> Core:
    """Plain-dict CoreV1 access to the virtual cluster."""
    return Core(virtual_api)


@pytest.fixture
def h(host_api: client.ApiClient) -> Core:
    """Plain-dict CoreV1 access to the host cluster."""
    return Core(host_api)


@pytest.fixture
async def run_syncer(cluster_pair: ClusterPair, host_namespace: str, tmp_path):
    """Factory: `await run_syncer("--flag", ...)` starts `vcsync run` into the test's host namespace (also its own
    namespace) and waits for /readyz; every syncer started is stopped after the test."""
    started: list[syncer_process.Syncer] = []

    async def start(*args: str, name: str = "vc", target: str | None = None, wait: bool = True):
        for attempt in range(3):
            syncer = syncer_process.Syncer(
                cluster_pair,
                name=name,
                target=target or host_namespace,
                args=args,
                log_path=tmp_path / f"syncer-{len(started)}.log",
            )
            started.append(syncer)
            await syncer.start()
            if not wait:
                return syncer
            try:
                await syncer.wait_ready()
                return syncer
            except AssertionError:
                # free ports are picked before the process binds them: another process may take one in between
                if attempt == 2 or "address already in use" not in syncer.log_text():
                    raise
        raise AssertionError("unreachable")

    yield start
    for syncer in started:
        await syncer.stop()


S = "vc"  # the vcluster name every test syncer runs with
POD_SYNC = ("--fake-node-status-interval=10s",)  # frequent heartbeats, so fake nodes are visibly kept alive


@pytest.fixture(scope="session")
def virtual_dns(cluster_pair) -> None:
    ensure_virtual_dns(cluster_pair)


def ensure_virtual_dns(cluster_pair: ClusterPair) -> None:
    """The virtual cluster's DNS Service, as a vcluster's CoreDNS would have (its host copy's IP goes to pods)."""
    service = {
        "metadata": {"name": "kube-dns", "namespace": "kube-system"},
        "spec": {"selector": {"k8s-app": "kube-dns"}, "ports": [{"name": "dns", "port": 53, "protocol": "UDP"}]},
    }
    try:
        cluster_pair.virtual.api("POST", "/api/v1/namespaces/kube-system/services", service)
    except ApiError as e:
        if e.status != 409:
            raise


COREDNS = {  # what `vcsync run --coredns` creates besides the kube-dns Service, which the other tests need
    "deployment": "/apis/apps/v1/namespaces/kube-system/deployments/coredns",
    "configmap": "/api/v1/namespaces/kube-system/configmaps/coredns",
    "serviceaccount": "/api/v1/namespaces/kube-system/serviceaccounts/coredns",
    "clusterrole": "/apis/rbac.authorization.k8s.io/v1/clusterroles/system:coredns",
    "clusterrolebinding": "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/system:coredns",
}


async def _remove_coredns(virtual_api: client.ApiClient) -> None:
    """The CoreDNS objects and pods: without a kubelet (and with no syncer running) the pods would stay terminating,
    and the next test's syncer would pick them up."""
    api, apps, core = Any_(virtual_api), client.AppsV1Api(virtual_api), client.CoreV1Api(virtual_api)
    for path in COREDNS.values():
        await api.call("DELETE", path, {"propagationPolicy": "Background"})

    async def gone():
        await core.delete_collection_namespaced_pod(
            "kube-system", label_selector="k8s-app=kube-dns", grace_period_seconds=0
        )
        sets = await apps.list_namespaced_replica_set("kube-system", label_selector="k8s-app=kube-dns")
        pods = await core.list_namespaced_pod("kube-system", label_selector="k8s-app=kube-dns")
        return not sets.items and not pods.items and await api.call("GET", COREDNS["deployment"]) is None

    await eventually(gone, 60, "the CoreDNS Deployment, ReplicaSets and pods to be gone")


@pytest.fixture
async def no_coredns(virtual_api) -> AsyncIterator[None]:
    """For tests whose syncer runs with --coredns in the shared virtual cluster: no CoreDNS objects before the test
    (whatever ran earlier) nor after it (syncers are stopped first, or they would put them back)."""
    await _remove_coredns(virtual_api)
    yield
    for syncer in list(syncer_process.RUNNING):
        await syncer.stop()
    await _remove_coredns(virtual_api)


@pytest.fixture
async def vcluster_service(host_api, host_namespace, virtual_dns) -> dict:
    """The vcluster's host Service, which pods take KUBERNETES_SERVICE_HOST from."""
    body = {"metadata": {"name": S}, "spec": {"ports": [{"name": "https", "port": 443}]}}
    return await Core(host_api).create("service", host_namespace, body)


@pytest.fixture
async def pod_syncer(run_syncer, vcluster_service):
    syncer = await run_syncer(*POD_SYNC)
    syncer.vcluster_ip = vcluster_service["spec"]["clusterIP"]
    return syncer


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):
    outcome = yield
    report = outcome.get_result()
    if report.failed and _PAIR is not None and "cluster_pair" in getattr(item, "fixturenames", ()):
        for name, tail in _PAIR.log_tails(15).items():
            report.sections.append((f"log tail: {name}", tail))
        for syncer in syncer_process.RUNNING:
            report.sections.append((f"log tail: vcsync {syncer.name}", syncer.log_tail(40)))
