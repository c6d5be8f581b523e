"""`vcsync pause` / `vcsync resume` against the real clusters, run as the operator would (the real command line):
a paused virtual cluster has no pod left on the host — another vcluster's pods in the namespace stay — and a
syncer restarted meanwhile brings none back; resume brings every pod back, bare pods included, with the same
virtual identity, while Services and ConfigMaps never moved. Twice in a row is harmless; a wrong name is one
clear sentence and exit code 1."""

from __future__ import annotations

from kubernetes_asyncio import client

from tests.conftest import POD_SYNC, S
from tests.integration.test_sync_configmaps_secrets import create_pod
from tests.support import eventually, vcsync
from translators.names import host_name
from translators.pause import PAUSED, PAUSED_REPLICAS, RESUMED_AT

CONTROL_PLANE = {"app": "vc-control-plane"}  # what the chart's vcluster Service selects: its StatefulSet's pods


def _spec(labels: dict, **extra) -> dict:
    return {
        "selector": {"matchLabels": labels},
        "template": {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "c", "image": "app"}]}},
        **extra,
    }


async def tenant_workload(virtual_api, v, vns: str) -> None:
    """A Deployment, a StatefulSet, a bare pod reading a ConfigMap, and a Service."""
    apps = client.AppsV1Api(virtual_api)
    await v.create("config_map", vns, {"metadata": {"name": "settings"}, "data": {"mode": "on"}})
    web = {"app": "web"}
    await v.create("service", vns, {"metadata": {"name": "web"}, "spec": {"selector": web, "ports": [{"port": 80}]}})
    await apps.create_namespaced_deployment(vns, {"metadata": {"name": "web"}, "spec": _spec(web, replicas=2)})
    db = {"app": "db"}
    headless = {"clusterIP": "None", "selector": db, "ports": [{"port": 5432}]}
    await v.create("service", vns, {"metadata": {"name": "db"}, "spec": headless})
    await apps.create_namespaced_stateful_set(vns, {"metadata": {"name": "db"}, "spec": _spec(db, serviceName="db")})
    solo = {"containers": [{"name": "c", "image": "app", "envFrom": [{"configMapRef": {"name": "settings"}}]}]}
    await create_pod(v, vns, {"metadata": {"name": "solo"}, "spec": solo})


async def running_pods(v, vns: str, count: int, since: dict[str, dict] | None = None) -> dict[str, dict]:
    """Wait until `count` virtual pods run, mirrored up from their host pods (with `since`: host pods started after
    those of the pods in `since`); name -> pod."""

    def fresh(pod: dict) -> bool:
        before = (since or {}).get(pod["metadata"]["name"])
        return before is None or pod["status"]["start_time"] > before["status"]["start_time"]

    async def probe():
        pods = [p.to_dict() for p in (await v.v1.list_namespaced_pod(vns)).items]
        if len(pods) == count and all(p["status"]["phase"] == "Running" and fresh(p) for p in pods):
            return {p["metadata"]["name"]: p for p in pods}
        return None

    return await eventually(probe, 120, f"{count} virtual pods to run")


async def host_pods(h, t: str, selector: str) -> list[dict]:
    return [p.to_dict() for p in (await h.v1.list_namespaced_pod(t, label_selector=selector)).items]


async def control_plane(host_api, h, t: str) -> None:
    """The vcluster Service selects a 1-replica StatefulSet, as in the chart (here its pods are kwok fakes)."""
    await h.patch("service", t, S, {"spec": {"selector": CONTROL_PLANE}})
    body = {"metadata": {"name": S}, "spec": _spec(CONTROL_PLANE, replicas=1, serviceName=S)}
    await client.AppsV1Api(host_api).create_namespaced_stateful_set(t, body)


async def test_pause_removes_every_pod_and_resume_brings_each_back(
    run_syncer, vcluster_service, host_cluster, host_api, virtual_api, v, h, virtual_namespace, host_namespace
):
    vns, t, kubeconfig = virtual_namespace, host_namespace, host_cluster.kubeconfig
    syncer = await run_syncer(*POD_SYNC)
    await control_plane(host_api, h, t)
    other = {"metadata": {"name": "other", "labels": {"vcluster.loft.sh/managed-by": "other"}}}
    other["spec"] = {"containers": [{"name": "c", "image": "app"}]}
    await h.create("pod", t, other)
    await tenant_workload(virtual_api, v, vns)
    before = await running_pods(v, vns, 4)
    mine = f"vcluster.loft.sh/managed-by={S}"
    assert len(await host_pods(h, t, mine)) == 4
    kept = {
        kind: (await h.get(kind, t, host_name(name, vns, S)))["metadata"]["uid"]
        for kind, name in (("service", "web"), ("config_map", "settings"))
    }

    code, out, _ = await vcsync("pause", S, "-n", t, "--dry-run", kubeconfig=kubeconfig)
    assert code == 0 and "would have" in out and "deleted 4 pods" in out, out
    assert len(await host_pods(h, t, mine)) == 4
    assert PAUSED not in ((await h.get("service", t, S))["metadata"].get("annotations") or {})

    code, out, err = await vcsync("pause", S, "-n", t, kubeconfig=kubeconfig)
    assert code == 0 and "is paused" in out, (out, err)
    assert await host_pods(h, t, mine) == []  # pause waits for them to go
    assert [p["metadata"]["name"] for p in await host_pods(h, t, "vcluster.loft.sh/managed-by=other")] == ["other"]
    service = await h.get("service", t, S)
    assert service["metadata"]["annotations"][PAUSED] == "true"
    assert service["metadata"]["annotations"][PAUSED_REPLICAS] == "1"
    statefulset = await client.AppsV1Api(host_api).read_namespaced_stateful_set(S, t)
    assert statefulset.spec.replicas == 0

    await syncer.stop()
    syncer = await run_syncer(*POD_SYNC)  # a syncer that starts while paused...
    await syncer.settle()
    assert await host_pods(h, t, mine) == []  # ...brings no pod back
    paused = {p.metadata.name: p.metadata.uid for p in (await v.v1.list_namespaced_pod(vns)).items}
    assert paused == {name: pod["metadata"]["uid"] for name, pod in before.items()}  # and loses none

    code, out, _ = await vcsync("pause", S, "-n", t, kubeconfig=kubeconfig)
    assert code == 0 and "already paused" in out, out

    code, out, err = await vcsync("resume", S, "-n", t, kubeconfig=kubeconfig)
    assert code == 0 and "is resumed" in out, (out, err)
    after = await running_pods(v, vns, 4, since=before)  # restarted: Running again, with a later startTime
    assert {n: p["metadata"]["uid"] for n, p in after.items()} == {n: p["metadata"]["uid"] for n, p in before.items()}
    for name, pod in after.items():
        hpod = await h.get("pod", t, host_name(name, vns, S))
        assert hpod["status"]["phase"] == "Running" and hpod["status"]["podIP"] == pod["status"]["pod_ip"]
        assert hpod["spec"]["nodeName"] == pod["spec"]["node_name"] == before[name]["spec"]["node_name"]
    for kind, name in (("service", "web"), ("config_map", "settings")):
        assert (await h.get(kind, t, host_name(name, vns, S)))["metadata"]["uid"] == kept[kind]
    service = await h.get("service", t, S)
    annotations = service["metadata"]["annotations"]
    assert PAUSED not in annotations and PAUSED_REPLICAS not in annotations and RESUMED_AT in annotations
    assert (await client.AppsV1Api(host_api).read_namespaced_stateful_set(S, t)).spec.replicas == 1

    code, out, _ = await vcsync("resume", S, "-n", t, kubeconfig=kubeconfig)
    assert code == 0 and "not paused: nothing to do" in out, out


async def test_pause_and_resume_of_an_unknown_vcluster_fail_with_one_sentence(host_cluster, host_namespace):
    for command in ("pause", "resume"):
        code, out, err = await vcsync(command, "nope", "-n", host_namespace, kubeconfig=host_cluster.kubeconfig)
        assert code == 1 and out == ""
        assert err.strip() == (
            f"vcsync {command}: no virtual cluster 'nope' in namespace '{host_namespace}': "
            "its Service 'nope' does not exist there (wrong name or --namespace?)"
        )


async def test_a_pause_that_failed_half_way_is_repaired_by_resume(
    run_syncer, vcluster_service, host_cluster, host_api, virtual_api, v, h, virtual_namespace, host_namespace
):
    vns, t, kubeconfig = virtual_namespace, host_namespace, host_cluster.kubeconfig
    await run_syncer(*POD_SYNC)
    await control_plane(host_api, h, t)
    await create_pod(v, vns, {"metadata": {"name": "solo"}, "spec": {"containers": [{"name": "c", "image": "app"}]}})
    (before,) = (await running_pods(v, vns, 1)).values()

    code, _, err = await vcsync("pause", S, "-n", t, "--timeout", "0", kubeconfig=kubeconfig)
    assert code == 1 and "still exist after 0s; run the command again to finish" in err, err
    assert (await h.get("service", t, S))["metadata"]["annotations"][PAUSED] == "true"

    code, out, err = await vcsync("resume", S, "-n", t, kubeconfig=kubeconfig)
    assert code == 0 and "is resumed" in out, (out, err)
    assert (await client.AppsV1Api(host_api).read_namespaced_stateful_set(S, t)).spec.replicas == 1
    assert PAUSED not in (await h.get("service", t, S))["metadata"]["annotations"]
    (after,) = (await running_pods(v, vns, 1)).values()
    assert after["metadata"]["uid"] == before["metadata"]["uid"]
    assert await h.get("pod", t, host_name("solo", vns, S)) is not None  # the failed pause never reached it
