"""`vcsync dev` as a user runs it: it prints working kubeconfig exports, syncs between the two clusters (a sample
Deployment and the virtual cluster's CoreDNS become Available), and Ctrl-C leaves no process and no temp folder
behind. Bad input is one clear sentence and a non-zero exit, never a traceback."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import sys
from pathlib import Path

import pytest
from kubernetes_asyncio import client

from syncer.controlplane import assets
from syncer.kube.client import connect
from tests.support import eventually

pytestmark = pytest.mark.controlplane
VCSYNC = [sys.executable, "-m", "syncer.cli"]


@pytest.fixture(scope="module")
def binaries(cluster_pair):  # the session pair proves the binaries exist (and fails in CI if not)
    return assets.locate()


def _processes_mentioning(text: str) -> list[int]:
    pids = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if text.encode() in (proc / "cmdline").read_bytes():
                    pids.append(int(proc.name))
            except OSError:
                continue
    return pids


async def _read_until(stream: asyncio.StreamReader, pattern: str, timeout: float) -> str:
    seen = ""
    async with asyncio.timeout(timeout):
        while not re.search(pattern, seen):
            line = await stream.readline()
            if not line:
                raise AssertionError(f"output ended before {pattern!r}:\n{seen}")
            seen += line.decode()
    return seen


async def test_dev_syncs_between_the_printed_clusters_and_ctrl_c_cleans_up(binaries):
    proc = await asyncio.create_subprocess_exec(*VCSYNC, "dev", "--nodes", "1", stdout=asyncio.subprocess.PIPE)
    try:
        out = await _read_until(proc.stdout, r"Ctrl-C stops everything", 180)
        virtual, host = re.findall(r"export KUBECONFIG=(\S+)", out)
        workdir = Path(virtual).parent.parent
        async with connect(virtual) as api:
            await client.CoreV1Api(api).create_namespaced_config_map(
                "default", {"metadata": {"name": "settings", "annotations": {"vcluster.loft.sh/force-sync": "true"}}}
            )
            await client.AppsV1Api(api).create_namespaced_deployment(
                "default",
                {
                    "metadata": {"name": "web"},
                    "spec": {
                        "replicas": 1,
                        "selector": {"matchLabels": {"app": "web"}},
                        "template": {
                            "metadata": {"labels": {"app": "web"}},
                            "spec": {"containers": [{"name": "c", "image": "nginx"}]},
                        },
                    },
                },
            )
        await _read_until(proc.stdout, r"create host object", 60)  # the syncer's log is streamed
        async with connect(host) as api:
            copy = await client.CoreV1Api(api).read_namespaced_config_map("settings-x-default-x-vcluster", "vcluster")
        assert copy.metadata.annotations["vcluster.loft.sh/object-name"] == "settings"

        async def available(namespace: str, name: str) -> bool:
            async with connect(virtual) as api:
                d = await client.AppsV1Api(api).read_namespaced_deployment(name, namespace)
            return (d.status.available_replicas or 0) == 1

        await eventually(lambda: available("default", "web"), 90, "the sample Deployment to be Available")
        await eventually(lambda: available("kube-system", "coredns"), 60, "the virtual cluster's CoreDNS")
        assert _processes_mentioning(str(workdir))
    finally:
        proc.send_signal(signal.SIGINT)
        code = await asyncio.wait_for(proc.wait(), 60)
    assert code == 0
    assert not workdir.exists()
    assert _processes_mentioning(str(workdir)) == []


async def test_dev_with_a_port_in_use_says_so_in_one_sentence(binaries):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = await asyncio.create_subprocess_exec(
            *VCSYNC, "dev", "--host-port", str(port), stderr=asyncio.subprocess.PIPE, env={**os.environ}
        )
        _, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 1
    assert f"port {port} on 127.0.0.1 is already in use" in err.decode()
    assert "Traceback" not in err.decode()
