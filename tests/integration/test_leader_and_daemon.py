"""The daemon around the engine: with two replicas only the leader writes and a standby takes over when it dies;
SIGTERM exits 0 and releases the lease; /healthz, /readyz and every SPEC metric are served; bad input is one
clear sentence and exit 2, and an API server that is not up yet is retried with a log line, not a crash."""

from __future__ import annotations

import asyncio
import signal
import sys
import time

import aiohttp
import pytest
import yaml
from kubernetes_asyncio import client

from syncer.controlplane.cluster import free_port
from tests.integration.test_sync_configmaps_secrets import S, on_host
from tests.support import eventually
from translators.names import leader_lease_name

pytestmark = pytest.mark.controlplane
FORCED = {"vcluster.loft.sh/force-sync": "true"}
FAST_LEASE = ("--leader-elect", "--lease-duration=4s", "--renew-deadline=3s", "--retry-period=1s")
SPEC_METRICS = (
    "vcsync_sync_total",
    "vcsync_sync_latency_seconds",
    "vcsync_reconcile_duration_seconds",
    "vcsync_workqueue_depth",
    "vcsync_workqueue_retries_total",
    "vcsync_sync_errors_total",
    "vcsync_api_requests_total",
    "vcsync_api_request_duration_seconds",
    "vcsync_watch_restarts_total",
    "vcsync_objects",
    "vcsync_leader",
    "vcsync_fake_nodes",
    "vcsync_tokens_refreshed_total",
    "vcsync_endpoint_addresses_dropped_total",
    "vcsync_flapping_total",
)


async def test_only_the_leader_writes_and_a_standby_takes_over_when_it_dies(
    run_syncer, v, h, host_api, virtual_namespace, host_namespace
):
    vns, t = virtual_namespace, host_namespace
    leader = await run_syncer(*FAST_LEASE)
    standby = await run_syncer(*FAST_LEASE)
    await v.create("config_map", vns, {"metadata": {"name": "first", "annotations": FORCED}})
    await on_host(h, "config_map", t, "first", vns)
    assert (await leader.metric("vcsync_leader"), await standby.metric("vcsync_leader")) == (1, 0)
    assert await standby.writes() == 0

    await leader.stop(signal.SIGKILL)
    died = time.monotonic()

    async def took_over():
        return await standby.metric("vcsync_leader") == 1

    await eventually(took_over, 20, "the standby to take the lease")
    assert time.monotonic() - died < 4 + 2 + 2  # lease duration + retry period + slack
    await v.create("config_map", vns, {"metadata": {"name": "second", "annotations": FORCED}})
    await on_host(h, "config_map", t, "second", vns)

    assert await standby.stop(signal.SIGTERM) == 0
    lease = await client.CoordinationV1Api(host_api).read_namespaced_lease(leader_lease_name(S), t)
    assert not lease.spec.holder_identity  # released on the way out


async def test_health_ready_and_every_spec_metric_are_served(run_syncer):
    syncer = await run_syncer()
    assert await syncer._get(syncer.health_port, "/healthz") == (200, "ok")
    assert await syncer._get(syncer.health_port, "/readyz") == (200, "ok")
    _, text = await syncer._get(syncer.metrics_port, "/metrics")
    missing = [name for name in SPEC_METRICS if f"# TYPE {name} " not in text]
    assert missing == []


async def _vcsync_run(*args: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "syncer.cli", "run", *args, stderr=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    return proc.returncode, (out + err).decode()


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("--sync=+gadgets",), "unknown kind gadgets; valid kinds:"),
        (("--sync=+namespaces",), "kind namespaces is not implemented yet"),
        (("--workers=lots",), "--workers"),
        (("--lease-duration=5s", "--renew-deadline=10s"), "lease"),
        (("--multi-namespace-mode",), "not implemented yet"),
    ],
)
async def test_bad_configuration_is_one_sentence_and_exit_2(args, says, virtual_cluster):
    code, output = await _vcsync_run(f"--virtual-kubeconfig={virtual_cluster.kubeconfig}", "--own-namespace=x", *args)
    assert code == 2
    assert says in output
    assert "Traceback" not in output and len(output.strip().splitlines()) == 1


async def test_unreadable_kubeconfig_is_a_clear_error(tmp_path):
    code, output = await _vcsync_run(
        f"--virtual-kubeconfig={tmp_path / 'missing'}", "--own-namespace=x", f"--host-kubeconfig={tmp_path / 'missing'}"
    )
    assert code == 2
    assert "cannot load host cluster credentials" in output and "Traceback" not in output


async def test_an_api_server_that_is_not_up_yet_is_retried_with_a_log_line(tmp_path, virtual_cluster, run_syncer):
    doc = yaml.safe_load(virtual_cluster.kubeconfig.read_text())
    doc["clusters"][0]["cluster"]["server"] = f"https://127.0.0.1:{free_port()}"  # nothing listens there
    down = tmp_path / "down.kubeconfig"
    down.write_text(yaml.safe_dump(doc))
    syncer = await run_syncer(f"--virtual-kubeconfig={down}", wait=False)

    async def retry_logged():
        return any(e.get("msg") == "watch failed; retrying" for e in syncer.log_entries())

    await eventually(retry_logged, 30, "a retry log line")
    async with aiohttp.ClientSession() as session:
        healthz = await session.get(f"http://127.0.0.1:{syncer.health_port}/healthz")
        readyz = await session.get(f"http://127.0.0.1:{syncer.health_port}/readyz")
    assert (healthz.status, readyz.status) == (200, 503)
    assert syncer.proc.returncode is None
