"""vcsync as the kubelet of its nodes, end to end with the stock kubectl: `logs` (tail, since, previous, follow),
`exec` (output, exit codes, stdin), `attach` and `port-forward` from the virtual cluster reach this vcluster's host pod
through the host API server and kwok's kubelet API; callers are authenticated and authorized like a real kubelet's,
and nothing but this vcluster's own host pods is reachable."""

from __future__ import annotations

import asyncio
import json
import re
import ssl
import time
import uuid
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from tests.conftest import S
from tests.integration.test_sync_configmaps_secrets import create_pod
from tests.support import eventually
from translators.names import host_name, safe_concat_name

pytestmark = pytest.mark.controlplane


def cri_line(text: str, when: str = "") -> str:
    """One line of a CRI container log, as kwok reads it."""
    return f"{when or time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} stdout F {text}\n"


def append(path: Path, *lines: str) -> None:
    with path.open("a") as f:
        f.write("".join(lines))


class Kubectl:
    """The stock kubectl against the virtual cluster."""

    def __init__(self, pair, namespace: str) -> None:
        self.argv = [str(pair.binaries["kubectl"]), f"--kubeconfig={pair.virtual.kubeconfig}", "-n", namespace]

    async def run(self, *args: str, stdin: bytes | None = None, timeout: float = 30) -> tuple[int, str, str]:
        proc = await asyncio.create_subprocess_exec(
            *self.argv,
            *args,
            stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(proc.communicate(stdin), timeout)
        return proc.returncode or 0, out.decode(), err.decode()

    async def start(self, *args: str) -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(
            *self.argv, *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )


async def serve_web(syncer, v, vns: str) -> None:
    """Virtual pod `web` (containers web and side) Running on a fake node that advertises `syncer`'s endpoint."""
    spec = {"containers": [{"name": "web", "image": "nginx"}, {"name": "side", "image": "busybox"}]}
    await create_pod(v, vns, {"metadata": {"name": "web"}, "spec": spec})

    async def served():
        pod = await v.get("pod", vns, "web")
        node = pod["spec"].get("nodeName")
        if not node or pod["status"].get("phase") != "Running":
            return None
        status = (await v.v1.read_node(node)).to_dict()["status"]
        # a new fake node advertises --kubelet-address (127.0.0.1) until its host node's IP is known: wait past that,
        # or the API server's node proxy refuses the address and a CONNECT to 127.0.0.1 means the node
        ips = [a["address"] for a in status["addresses"] if a["type"] == "InternalIP"]
        served_here = status["daemon_endpoints"]["kubelet_endpoint"]["port"] == syncer.kubelet_port
        return pod if served_here and ips and "127.0.0.1" not in ips else None

    await eventually(served, 60, "web Running on a node that shows its real address and this syncer's endpoint")


@pytest.fixture
async def kubelet_pod(pod_syncer, v, virtual_namespace):
    await serve_web(pod_syncer, v, virtual_namespace)
    return pod_syncer


@pytest.fixture
def kubectl(cluster_pair, virtual_namespace) -> Kubectl:
    return Kubectl(cluster_pair, virtual_namespace)


async def test_logs_returns_the_host_pods_log(kubelet_pod, kubectl, host_cluster):
    marker = f"hello-{uuid.uuid4().hex[:8]}"
    append(host_cluster.pod_log, cri_line(marker))
    code, out, err = await kubectl.run("logs", "web", "-c", "web")
    assert code == 0, err
    assert marker in out.splitlines()


async def test_logs_tail_since_and_previous_behave(kubelet_pod, kubectl, host_cluster):
    old, new = f"old-{uuid.uuid4().hex[:8]}", f"new-{uuid.uuid4().hex[:8]}"
    append(host_cluster.pod_log, cri_line(old, "2001-01-01T00:00:00Z"), cri_line(new))
    assert (await kubectl.run("logs", "web", "-c", "web", "--tail=1"))[1] == f"{new}\n"
    since = (await kubectl.run("logs", "web", "-c", "web", "--since=1h"))[1].splitlines()
    assert new in since and old not in since
    previous = f"previous-{uuid.uuid4().hex[:8]}"
    append(host_cluster.previous_pod_log, cri_line(previous))
    code, out, err = await kubectl.run("logs", "web", "-c", "web", "--previous")
    assert code == 0, err
    assert previous in out.splitlines() and new not in out.splitlines()


async def test_logs_follow_streams_new_lines_and_stops_when_killed(kubelet_pod, kubectl, host_cluster):
    follow = await kubectl.start("logs", "-f", "web", "-c", "web", "--tail=0")
    try:
        await eventually(lambda: kubelet_pod.metric("vcsync_kubelet_streams", endpoint="containerLogs"), 15, "open")
        marker = f"followed-{uuid.uuid4().hex[:8]}"
        appended = time.monotonic()
        append(host_cluster.pod_log, cri_line(marker))
        assert follow.stdout is not None
        line = await asyncio.wait_for(follow.stdout.readline(), 10)
        assert line.decode().strip() == marker
        assert time.monotonic() - appended < 1.0, "a followed line took more than a second"
    finally:
        follow.kill()
        await follow.wait()

    async def closed():
        return await kubelet_pod.metric("vcsync_kubelet_streams", endpoint="containerLogs") == 0

    await eventually(closed, 15, "vcsync to end the followed stream after kubectl went away")


async def test_exec_prints_output_and_returns_exit_codes(kubelet_pod, kubectl):
    assert await kubectl.run("exec", "web", "-c", "web", "--", "echo", "hello") == (0, "hello\n", "")
    code, _, err = await kubectl.run("exec", "web", "-c", "side", "--", "sh", "-c", "exit 3")
    assert code != 0
    assert "exit status 3" in err  # kwok reports the code in the message; kubectl then exits 1


async def test_exec_passes_stdin_through(kubelet_pod, kubectl):
    code, out, err = await kubectl.run("exec", "-i", "web", "-c", "web", "--", "head", "-c", "5", stdin=b"abcdefgh")
    assert (code, out) == (0, "abcde"), err


async def test_attach_follows_the_container_output(kubelet_pod, kubectl, host_cluster):
    attach = await kubectl.start("attach", "web", "-c", "web")
    try:
        assert attach.stdout is not None
        marker = f"attached-{uuid.uuid4().hex[:8]}"

        async def seen():
            append(host_cluster.pod_log, cri_line(marker))
            try:
                line = await asyncio.wait_for(attach.stdout.readline(), 1)
            except TimeoutError:
                return False
            return marker in line.decode()

        await eventually(seen, 20, "the attached output")
    finally:
        attach.kill()
        await attach.wait()


@asynccontextmanager
async def local_http_server(port: int, body: str):
    """What kwok's port-forward dials for every host pod: a small HTTP server on loopback."""

    async def answer(_: web.Request) -> web.Response:
        return web.Response(text=body)

    app = web.Application()
    app.router.add_get("/", answer)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield
    finally:
        await runner.cleanup()


async def test_port_forward_carries_an_http_request_and_its_answer(kubelet_pod, kubectl, host_cluster):
    body = f"served-{uuid.uuid4().hex[:8]}"
    async with local_http_server(host_cluster.forward_port, body):
        forward = await kubectl.start("port-forward", "pod/web", ":80")
        try:
            assert forward.stdout is not None
            line = (await asyncio.wait_for(forward.stdout.readline(), 20)).decode()
            port = int(re.search(r"127\.0\.0\.1:(\d+) -> 80", line).group(1))
            async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{port}/") as resp:
                assert (resp.status, await resp.text()) == (200, body)
        finally:
            forward.kill()
            await forward.wait()


# ---- the endpoint called directly, as a scraper or an attacker would ------------------------------------------


def kubelet_url(syncer, path: str) -> str:
    return f"https://127.0.0.1:{syncer.kubelet_port}{path}"


def tls_context(cluster_pair, client_cert: bool) -> ssl.SSLContext:
    pki = cluster_pair.virtual.pki
    context = ssl.create_default_context(cafile=str(pki.ca_cert))
    if client_cert:
        context.load_cert_chain(str(pki.admin_cert), str(pki.admin_key))
    return context


async def call(cluster_pair, syncer, path: str, *, client_cert: bool = True, token: str = "") -> tuple[int, str]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    context = tls_context(cluster_pair, client_cert)
    url = kubelet_url(syncer, path)
    async with aiohttp.ClientSession() as session, session.get(url, ssl=context, headers=headers) as resp:
        return resp.status, await resp.text()


async def test_callers_without_credentials_get_401_and_without_nodes_proxy_get_403(
    kubelet_pod, cluster_pair, v, virtual_namespace, host_cluster
):
    path = f"/containerLogs/{virtual_namespace}/web/web"
    assert (await call(cluster_pair, kubelet_pod, path, client_cert=False))[0] == 401
    assert (await call(cluster_pair, kubelet_pod, path, client_cert=False, token="not-a-token"))[0] == 401
    await v.v1.create_namespaced_service_account(virtual_namespace, {"metadata": {"name": "nobody"}})
    token = (await v.v1.create_namespaced_service_account_token("nobody", virtual_namespace, {"spec": {}})).status.token
    status, text = await call(cluster_pair, kubelet_pod, path, client_cert=False, token=token)
    assert status == 403 and "subresource=proxy" in text
    marker = f"direct-{uuid.uuid4().hex[:8]}"
    append(host_cluster.pod_log, cri_line(marker))
    status, text = await call(cluster_pair, kubelet_pod, path)
    assert status == 200 and marker in text


async def test_unknown_paths_are_404_and_malformed_queries_400(kubelet_pod, cluster_pair, virtual_namespace):
    logs = f"/containerLogs/{virtual_namespace}/web/web"
    assert (await call(cluster_pair, kubelet_pod, "/no/such/path"))[0] == 404
    assert (await call(cluster_pair, kubelet_pod, f"{logs}?tailLines=lots"))[0] == 400
    assert (await call(cluster_pair, kubelet_pod, f"{logs}?sinceSeconds=1&sinceTime=2001-01-01T00:00:00Z"))[0] == 400
    assert (await call(cluster_pair, kubelet_pod, f"/containerLogs/{virtual_namespace}/web/nope"))[0] == 404
    assert (await call(cluster_pair, kubelet_pod, f"/exec/{virtual_namespace}/web/web?command=ls"))[0] == 400


async def test_a_pod_whose_host_copy_is_not_this_vclusters_is_404(
    pod_syncer, cluster_pair, v, h, virtual_namespace, host_namespace
):
    """A host pod at the translated name without our markers (another owner's) is never reached."""
    vns = virtual_namespace
    squatter = {"metadata": {"name": host_name("taken", vns, S)}, "spec": {"containers": [{"name": "c", "image": "x"}]}}
    await h.create("pod", host_namespace, squatter)
    await create_pod(v, vns, {"metadata": {"name": "taken"}, "spec": {"containers": [{"name": "c", "image": "x"}]}})
    status, text = await call(cluster_pair, pod_syncer, f"/containerLogs/{vns}/taken/c")
    assert status == 404 and "has no host pod of this cluster" in text
    assert host_name("taken", vns, S) not in text and host_namespace not in text
    assert (await call(cluster_pair, pod_syncer, f"/containerLogs/{vns}/missing/c"))[0] == 404


async def test_many_followed_streams_do_not_stall_syncing(
    kubelet_pod, cluster_pair, host_cluster, v, h, virtual_namespace
):
    """50 open `logs -f` streams while a ConfigMap is created: it still reaches the host promptly."""
    vns = virtual_namespace
    context = tls_context(cluster_pair, client_cert=True)
    url = kubelet_url(kubelet_pod, f"/containerLogs/{vns}/web/web?follow=true&tailLines=1")
    append(host_cluster.pod_log, cri_line("a line, so that every stream answers at once"))
    async with aiohttp.ClientSession() as session:
        streams = [await session.get(url, ssl=context) for _ in range(50)]
        try:
            assert {s.status for s in streams} == {200}
            open_streams = await kubelet_pod.metric("vcsync_kubelet_streams", endpoint="containerLogs")
            assert open_streams == 50
            started = time.monotonic()
            spec = {"containers": [{"name": "c", "image": "x", "envFrom": [{"configMapRef": {"name": "cfg"}}]}]}
            await v.create("config_map", vns, {"metadata": {"name": "cfg"}, "data": {"a": "1"}})
            await create_pod(v, vns, {"metadata": {"name": "user"}, "spec": spec})

            async def synced():
                return await h.get("config_map", kubelet_pod.target, host_name("cfg", vns, S))

            await eventually(synced, 10, "the ConfigMap on the host while 50 streams are open", every=0.05)
            assert time.monotonic() - started < 5
        finally:
            for stream in streams:
                stream.close()


async def test_a_stream_ends_cleanly_when_its_host_pod_is_deleted(
    kubelet_pod, cluster_pair, host_cluster, h, virtual_namespace, host_namespace
):
    vns = virtual_namespace
    append(host_cluster.pod_log, cri_line("a line, so that the stream answers at once"))
    url = kubelet_url(kubelet_pod, f"/containerLogs/{vns}/web/web?follow=true&tailLines=1")
    context = tls_context(cluster_pair, client_cert=True)
    async with aiohttp.ClientSession() as session, session.get(url, ssl=context) as stream:
        assert stream.status == 200
        await stream.content.readline()
        await h.delete("pod", host_namespace, host_name("web", vns, S))
        rest = await asyncio.wait_for(stream.content.read(), 60)  # EOF of a properly ended chunked body
        assert stream.content.at_eof() and b"Traceback" not in rest

    async def closed():
        return await kubelet_pod.metric("vcsync_kubelet_streams", endpoint="containerLogs") == 0

    await eventually(closed, 15, "vcsync to count the stream as closed")


async def test_node_proxy_pods_lists_only_this_vclusters_pods_under_virtual_names(
    kubelet_pod, kubectl, v, h, virtual_namespace, host_namespace
):
    vns = virtual_namespace
    node = (await v.get("pod", vns, "web"))["spec"]["nodeName"]
    vnode = (await v.v1.read_node(node)).to_dict()
    addresses = {a["type"]: a["address"] for a in vnode["status"]["addresses"]}
    assert addresses["InternalIP"].startswith("198.51.100.")  # the host node's IP, as vcluster's fake nodes show
    stranger = {
        "metadata": {"name": "stranger"},
        "spec": {"nodeName": node, "containers": [{"name": "c", "image": "x"}]},
    }
    await h.create("pod", host_namespace, stranger)
    code, out, err = await kubectl.run("get", "--raw", f"/api/v1/nodes/{node}/proxy/pods")
    assert code == 0, err
    listed = {(p["metadata"]["namespace"], p["metadata"]["name"]) for p in json.loads(out)["items"]}
    assert (vns, "web") in listed and not any(name == "stranger" or "-x-" in name for _, name in listed)
    code, out, _ = await kubectl.run("get", "--raw", f"/api/v1/nodes/{node}/proxy/healthz")
    assert (code, out) == (0, "ok")


async def test_the_egress_socket_relays_targets_that_are_not_its_nodes(kubelet_pod, cluster_pair, host_cluster):
    """Webhooks and aggregated APIs of the virtual cluster also go through the egress socket: relayed unchanged."""
    body = f"relayed-{uuid.uuid4().hex[:8]}"
    async with local_http_server(host_cluster.forward_port, body):
        reader, writer = await asyncio.open_unix_connection(str(cluster_pair.virtual.kubelet_egress_socket))
        try:
            writer.write(f"CONNECT 127.0.0.1:{host_cluster.forward_port} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
            assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 200")
            writer.write(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            answer = await asyncio.wait_for(reader.read(), 10)
            assert answer.startswith(b"HTTP/1.1 200") and answer.endswith(body.encode())
        finally:
            writer.close()


async def test_node_resource_metrics_show_only_this_vclusters_pods_under_virtual_names(
    run_syncer, vcluster_service, kubectl, v, h, virtual_namespace, host_namespace
):
    syncer = await run_syncer("--kubelet-node-stats")
    vns = virtual_namespace
    await serve_web(syncer, v, vns)
    node = (await v.get("pod", vns, "web"))["spec"]["nodeName"]
    stranger = {
        "metadata": {"name": "stranger"},
        "spec": {"nodeName": node, "containers": [{"name": "c", "image": "x"}]},
    }
    await h.create("pod", host_namespace, stranger)

    series = f'container_memory_working_set_bytes{{container="web",namespace="{vns}",pod="web"}} 2.097152e+07'

    async def scraped():  # kwok fills its pod cache on the first scrape, one container's series at a time
        code, out, _ = await kubectl.run("get", "--raw", f"/api/v1/nodes/{node}/proxy/metrics/resource")
        return out if code == 0 and series in out else None

    text = await eventually(scraped, 30, "the web container's memory series under its virtual names")
    assert "node_memory_working_set_bytes" in text
    assert "stranger" not in text and host_namespace not in text and "-x-" not in text
    code, _, err = await kubectl.run("get", "--raw", f"/api/v1/nodes/{node}/proxy/metrics/cadvisor")
    assert code != 0 and "NotFound" in err  # kwok serves no cAdvisor metrics: the host's 404 passes through


async def test_node_stats_are_not_served_unless_enabled(kubelet_pod, kubectl, v, virtual_namespace):
    node = (await v.get("pod", virtual_namespace, "web"))["spec"]["nodeName"]
    code, _, err = await kubectl.run("get", "--raw", f"/api/v1/nodes/{node}/proxy/metrics/resource")
    assert code != 0 and "NotFound" in err


async def test_exec_with_a_tty_runs_the_command_on_a_terminal(kubelet_pod, kubectl):
    """`kubectl exec -it` needs a terminal of its own: `script` gives it one, as a person's shell would. kwok itself
    loses a tty command's output now and then (2 in 15 straight on the host, measured), so a few tries are allowed."""
    command = " ".join([*kubectl.argv, "exec", "-it", "web", "-c", "web", "--", "tty"])

    async def on_a_terminal():
        proc = await asyncio.create_subprocess_exec(
            "script", "-qec", command, "/dev/null", stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE
        )
        assert proc.stdout is not None and proc.stdin is not None
        out = await asyncio.wait_for(proc.stdout.read(), 30)  # stdin stays open, as a person's terminal would
        proc.stdin.close()
        assert await proc.wait() == 0, out.decode()
        return "/dev/pts/" in out.decode()  # the command ran on the pseudo-terminal kwok allocated for the tty

    await eventually(on_a_terminal, 60, "a tty command's output through vcsync", every=0.1)


async def test_node_services_give_each_fake_node_its_own_address_and_go_with_it(
    run_syncer, vcluster_service, kubectl, cluster_pair, v, h, virtual_namespace, host_namespace
):
    syncer = await run_syncer("--kubelet-node-services")
    vns = virtual_namespace
    await serve_web(syncer, v, vns)
    node = (await v.get("pod", vns, "web"))["spec"]["nodeName"]
    name = safe_concat_name(S, "node", node.replace(".", "-"))
    service = await eventually(lambda: h.get("service", host_namespace, name), 30, "the node's host Service")
    labels = service["metadata"]["labels"]
    assert labels["vcluster.loft.sh/belongs-to"] == S and labels["vcluster.loft.sh/node"] == node
    port = service["spec"]["ports"][0]
    assert (port["name"], port["port"], port["targetPort"]) == ("kubelet", 10250, syncer.kubelet_port)
    ip = service["spec"]["clusterIP"]

    async def advertised():
        addresses = (await v.v1.read_node(node)).to_dict()["status"]["addresses"]
        return {"type": "InternalIP", "address": ip} in [
            {"type": a["type"], "address": a["address"]} for a in addresses
        ]

    await eventually(advertised, 30, "the node's InternalIP to be its Service's ClusterIP")
    code, out, err = await kubectl.run("get", "--raw", f"/api/v1/nodes/{node}/proxy/pods")  # egress, by ClusterIP
    assert code == 0 and (vns, "web") in {
        (p["metadata"]["namespace"], p["metadata"]["name"]) for p in json.loads(out)["items"]
    }, err
    # in-cluster scrapers dial the ClusterIP: on the direct port the node is told by the address it was sent to
    context = tls_context(cluster_pair, client_cert=True)
    async with aiohttp.ClientSession() as session:
        async with session.get(kubelet_url(syncer, "/pods"), ssl=context, headers={"Host": f"{ip}:10250"}) as resp:
            assert resp.status == 200
            assert "web" in {p["metadata"]["name"] for p in (await resp.json())["items"]}
        async with session.get(kubelet_url(syncer, "/pods"), ssl=context) as resp:
            assert resp.status == 404  # 127.0.0.1 is no node's address

    await v.v1.delete_namespaced_pod("web", vns, grace_period_seconds=0)
    await eventually(
        lambda: _gone(h.get("service", host_namespace, name)), 60, "the node Service to go with its fake node"
    )


async def _gone(lookup) -> bool:
    return await lookup is None
