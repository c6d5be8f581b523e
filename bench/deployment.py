"""Scenario 7, deployment: what a tenant waits for. A Deployment of N pods, all using one ConfigMap and one Secret,
is applied in the virtual cluster and timed until it reports N ready replicas (vcsync creates the host pods, kwok
runs them, vcsync brings their status up, the virtual controller-manager counts them); then it is deleted and timed
until the host holds none of its pods. Floor: the same three objects applied straight to the host, the same waits.
Both sides go through a controller-manager of their own (ReplicaSets, garbage collector) at vcsync's defaults."""

from __future__ import annotations

import time

from bench.harness import Bench, name_of
from bench.kube import Http, Obj, configmap, path, pod, secret
from bench.watch import Seen, Watcher

APP = "app"
APPS = "apps/v1"


async def deployment(bench: Bench) -> None:
    count = bench.opts.deployment_pods
    size = f"{count} pods"
    timeout = count / 5 + 180
    for run in range(bench.opts.runs):
        await bench.virtual_namespace(vns := f"deployment-{run}")
        ready, emptied = await _ready_then_gone(bench.virtual, vns, count, bench.host_copies("pods", vns), timeout)
        await bench.remove_virtual_namespace(vns, timeout)
        await bench.vcsync.wait_quiet(120, also=bench.heartbeats.complete)

        await bench.host_namespace(floor_ns := f"floor-deployment-{run}")
        floor_pods = Watcher(bench.host, path("pods", floor_ns))
        floor_ready, floor_emptied = await _ready_then_gone(bench.host, floor_ns, count, floor_pods, timeout)
        await bench.remove_host_namespace(floor_ns, timeout)

        bench.results.add("deployment", size, "s to Ready", count, ready, floor_ready)
        bench.results.add("deployment", size, "s from delete to host empty", count, emptied, floor_emptied)
        bench.log(
            f"deployment of {size} run {run + 1}: Ready in {ready:.1f}s (floor {floor_ready:.1f}s), host empty "
            f"{emptied:.1f}s after the delete (floor {floor_emptied:.1f}s)"
        )


async def _ready_then_gone(
    http: Http, namespace: str, count: int, host_pods: Watcher, timeout: float
) -> tuple[float, float]:
    """Apply the ConfigMap, the Secret and the Deployment in `namespace`; return the seconds from the first create to
    the Deployment's N ready replicas, and from its deletion to `host_pods` (a host watch on its pods) empty."""
    deployments = Watcher(http, path("deployments", namespace, group=APPS), fields=f"metadata.name={APP}")
    ready, pods = Seen(name_of, lambda d: _ready_replicas(d) == count), Seen(name_of)
    async with deployments.on(ready), host_pods.on(pods):
        started = time.monotonic()
        await http.create(path("configmaps", namespace), configmap(f"{APP}-cfg"))
        await http.create(path("secrets", namespace), secret(f"{APP}-sec"))
        await http.create(path("deployments", namespace, group=APPS), _deployment(count))
        at = (await ready.wait([APP], timeout, f"{http.name} Deployment {namespace}/{APP} Ready", deployments))[APP]
        deleted = time.monotonic()
        await http.call("DELETE", path("deployments", namespace, APP, group=APPS))
        await pods.wait_gone(timeout, f"host pods of {http.name} Deployment {namespace}/{APP} to be gone", host_pods)
        return at - started, time.monotonic() - deleted


def _ready_replicas(deployment: Obj) -> int:
    status = deployment.get("status") or {}
    current = status.get("observedGeneration", 0) >= (deployment.get("metadata") or {}).get("generation", 1)
    return status.get("readyReplicas", 0) if current else 0


def _deployment(replicas: int) -> Obj:
    template = pod(APP, configmap=f"{APP}-cfg", secret=f"{APP}-sec")
    labels = {"app": f"bench-{APP}"}
    return {
        "apiVersion": APPS,
        "kind": "Deployment",
        "metadata": {"name": APP},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": template["spec"]},
        },
    }
