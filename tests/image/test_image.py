"""The vcsync image, built for real by hack/image/build.sh (a local Debian base, no registry, no network in the
build) and run: its help, its non-root user on a read-only root filesystem, and vcsync in its container syncing
the test clusters (host networking, kubeconfigs mounted read-only) through a pod round trip."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from syncer import __version__
from syncer.controlplane import ClusterPair
from syncer.controlplane.assets import run_hack
from tests import syncer_process
from tests.conftest import POD_SYNC, S
from tests.integration.test_sync_configmaps_secrets import create_pod, gone_from_host, on_host
from tests.kube import Core, pod
from tests.support import eventually

USER = 65532


@pytest.fixture(scope="session")
def image() -> str:
    """Built once per session; a warm build (every input unchanged) only checks that the image exists."""
    return run_hack("image/build.sh")


def docker(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=120, check=False)


def test_image_prints_its_help_and_version(image: str) -> None:
    help_ = docker("run", "--rm", image, "--help")
    assert help_.returncode == 0 and "{run,dev,pause,resume,serving-cert}" in help_.stdout, help_.stderr
    assert docker("run", "--rm", image, "--version").stdout.strip() == f"vcsync {__version__}"


def test_image_runs_as_an_unprivileged_user_on_a_read_only_root(image: str) -> None:
    config = json.loads(docker("image", "inspect", image).stdout)[0]["Config"]
    assert config["User"] == f"{USER}:{USER}" and config["Entrypoint"] == ["vcsync"] and config["Cmd"] == ["run"]
    probe = "import os\ntry:\n    open('/opt/vcsync/x', 'w')\nexcept OSError as e:\n    print(os.getuid(), e.errno)"
    run = docker("run", "--rm", "--read-only", "--entrypoint", "python3", image, "-c", probe)
    assert run.stdout.split() == [str(USER), "30"], run.stderr  # 30: EROFS, read-only file system
    assert docker("run", "--rm", "--entrypoint", "sh", image, "-c", "command -v pip pip3").stdout == ""


def _readable_copy(source: Path, folder: Path) -> Path:
    """The file for the container's user, still private (0600): the pair writes its kubeconfigs and keys as root."""
    dest = folder / f"{source.parent.name}-{source.name}"
    shutil.copyfile(source, dest)
    os.chown(dest, USER, USER)
    dest.chmod(0o600)
    return dest


def _in_container(syncer: syncer_process.Syncer, image: str, mount: Path, name: str) -> list[str]:
    """The syncer's own arguments, run by the image instead of `python -m`: every file argument copied into the
    read-only mount, and no kubelet egress socket (a Unix socket in the pair's folder, outside the mount)."""
    args = []
    for arg in syncer.argv[4:]:  # after `python -m syncer.cli run`
        flag, _, value = arg.partition("=")
        if flag == "--kubelet-egress-socket":
            continue
        args.append(f"{flag}={_readable_copy(Path(value), mount)}" if value.startswith("/") else arg)
    volume = f"{mount}:{mount}:ro"
    # as the chart runs it: a read-only root with a small writable /tmp (an emptyDir there), where the Kubernetes
    # client keeps the certificates a kubeconfig embeds, as files, since Python's ssl loads them only from files
    tmp = "--tmpfs=/tmp:rw,size=16m,mode=1777"
    flags = ["--rm", f"--name={name}", "--network=host", "--read-only", tmp, "-v", volume]
    return ["docker", "run", *flags, image, "run", *args]


@pytest.mark.controlplane
async def test_vcsync_in_its_container_syncs_a_pod_there_and_back(
    image: str,
    cluster_pair: ClusterPair,
    host_namespace: str,
    virtual_namespace: str,
    vcluster_service: dict,
    v: Core,
    h: Core,
    tmp_path: Path,
) -> None:
    mount = tmp_path / "mount"
    mount.mkdir()
    mount.chmod(0o755)
    syncer = syncer_process.Syncer(
        cluster_pair, name=S, target=host_namespace, args=POD_SYNC, log_path=tmp_path / "vcsync.log"
    )
    container = f"vcsync-test-{host_namespace}"
    syncer.argv = _in_container(syncer, image, mount, container)
    await syncer.start()
    try:
        await syncer.wait_ready(timeout=90)
        await create_pod(v, virtual_namespace, pod("web"))
        hpod = await on_host(h, "pod", host_namespace, "web", virtual_namespace)
        assert hpod["metadata"]["labels"]["vcluster.loft.sh/managed-by"] == S

        async def running() -> dict | None:
            vpod = await v.get("pod", virtual_namespace, "web")
            return vpod if vpod and vpod["status"].get("phase") == "Running" and vpod["status"].get("podIP") else None

        vpod = await eventually(running, 60, "the virtual pod Running with the host pod's IP")
        assert (
            vpod["spec"]["nodeName"]
            == (await h.get("pod", host_namespace, hpod["metadata"]["name"]))["spec"]["nodeName"]
        )
        await v.delete("pod", virtual_namespace, "web")
        await gone_from_host(h, "pod", host_namespace, "web", virtual_namespace)
        assert await syncer.stop() == 0  # SIGTERM reaches vcsync through `docker run`, which exits cleanly
    finally:
        await syncer.stop()
        docker("rm", "--force", container)
