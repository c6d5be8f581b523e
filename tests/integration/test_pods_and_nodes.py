"""Pods and fake nodes against the real clusters: a virtual Deployment becomes Available because its pods run on
kwok host nodes under translated names, status and binding flow back, fake nodes of the exact shape appear, stay
Ready past the node-monitor grace period, and go after scale-to-zero. The host pod spec, token projection, pod
security refusals and deletion in both directions are checked too."""

from __future__ import annotations

import asyncio
import base64

import pytest
from kubernetes_asyncio import client

from tests.conftest import POD_SYNC, S
from tests.integration.test_sync_configmaps_secrets import create_pod
from tests.kube import Core
from tests.support import eventually, others_gone
from translators.labels import ns_label_key
from translators.names import host_name, safe_concat_name, token_secret_name

pytestmark = pytest.mark.controlplane


async def _running_host_pod(h: Core, t: str, name: str, vns: str):
    async def running():
        pod = await h.get("pod", t, host_name(name, vns, S))
        return pod if pod and pod["status"].get("phase") == "Running" else None

    return await eventually(running, 60, f"host pod of {vns}/{name} Running")


async def test_deployment_becomes_available_and_fake_nodes_come_and_go(
    pod_syncer, v, h, virtual_api, virtual_namespace, host_namespace
):
    vns, t = virtual_namespace, host_namespace
    apps = client.AppsV1Api(virtual_api)
    labels = {"app": "web"}
    await apps.create_namespaced_deployment(
        vns,
        {
            "metadata": {"name": "web"},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": labels},
                "template": {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}},
            },
        },
    )

    async def available():
        d = await apps.read_namespaced_deployment("web", vns)
        return d if (d.status.available_replicas or 0) == 2 else None

    await eventually(available, 90, "the virtual Deployment to be Available")
    vpods = (await v.v1.list_namespaced_pod(vns, label_selector="app=web")).items
    nodes = set()
    for vpod in vpods:
        hpod = await h.get("pod", t, host_name(vpod.metadata.name, vns, S))
        assert hpod["metadata"]["labels"]["vcluster.loft.sh/managed-by"] == S
        assert vpod.status.phase == "Running" and vpod.status.pod_ip == hpod["status"]["podIP"]
        assert vpod.spec.node_name == hpod["spec"]["nodeName"]
        nodes.add(vpod.spec.node_name)

    for name in nodes:
        node = (await v.v1.read_node(name)).to_dict()
        assert node["metadata"]["labels"]["vcluster.loft.sh/fake-node"] == "true"
        assert node["metadata"]["labels"]["kubernetes.io/hostname"] == safe_concat_name("fake", name)
        assert node["status"]["capacity"]["cpu"] == "16" and node["status"]["node_info"]["os_image"] == (
            "Fake Kubernetes Image"
        )
        lease = await client.CoordinationV1Api(virtual_api).read_namespaced_lease(name, "kube-node-lease")
        assert lease.spec.holder_identity == name

    deadline = asyncio.get_running_loop().time() + 60  # past the node-monitor grace period (40-50 s)
    while asyncio.get_running_loop().time() < deadline:
        for name in nodes:
            ready = [c for c in (await v.v1.read_node(name)).status.conditions if c.type == "Ready"]
            assert ready[0].status == "True", f"fake node {name} went {ready[0].status}"
        await asyncio.sleep(5)

    await apps.patch_namespaced_deployment_scale("web", vns, {"spec": {"replicas": 0}})

    async def nodes_gone():
        names = {n.metadata.name for n in (await v.v1.list_node()).items}
        return not (names & nodes)

    await eventually(nodes_gone, 90, "fake nodes to be deleted after scale-to-zero")


async def test_host_pod_spec_carries_env_dns_and_a_projected_token_that_validates(
    pod_syncer, v, h, virtual_api, virtual_namespace, host_namespace
):
    vns, t = virtual_namespace, host_namespace
    await v.create("config_map", vns, {"metadata": {"name": "cfg"}, "data": {"a": "1"}})
    token_volume = {
        "name": "tok",
        "projected": {
            "sources": [{"serviceAccountToken": {"audience": "vault", "expirationSeconds": 600, "path": "token"}}]
        },
    }
    await create_pod(
        v,
        vns,
        {
            "metadata": {"name": "app"},
            "spec": {
                "containers": [
                    {
                        "name": "c",
                        "image": "busybox",
                        "env": [{"name": "A", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "a"}}}],
                        "volumeMounts": [{"name": "tok", "mountPath": "/var/run/tok"}],
                    }
                ],
                "volumes": [token_volume],
            },
        },
    )
    hpod = await _running_host_pod(h, t, "app", vns)
    spec = hpod["spec"]
    env = {e["name"]: e for e in spec["containers"][0]["env"]}
    assert env["KUBERNETES_SERVICE_HOST"]["value"] == pod_syncer.vcluster_ip
    assert env["A"]["valueFrom"]["configMapKeyRef"]["name"] == host_name("cfg", vns, S)
    assert spec["automountServiceAccountToken"] is False and spec["enableServiceLinks"] is False
    assert spec["dnsPolicy"] == "None"
    dns_copy = await h.get("service", t, host_name("kube-dns", "kube-system", S))
    assert spec["dnsConfig"]["nameservers"][0] == dns_copy["spec"]["clusterIP"]
    assert spec["dnsConfig"]["searches"][:3] == [f"{vns}.svc.cluster.local", "svc.cluster.local", "cluster.local"]

    secret_name = token_secret_name("app", vns, S)
    volume = next(vol for vol in spec["volumes"] if vol["name"] == "tok")
    projected = volume["projected"]["sources"][0]["secret"]
    assert projected["name"] == secret_name and projected["items"][0]["path"] == "token"
    assert "vcluster.loft.sh/token" not in str(hpod["metadata"].get("annotations"))

    async def owned_by_pod():
        secret = await h.get("secret", t, secret_name)
        owners = (secret or {}).get("metadata", {}).get("ownerReferences") or []
        return secret if [o["uid"] for o in owners] == [hpod["metadata"]["uid"]] else None

    secret = await eventually(owned_by_pod, 30, "the token Secret to be owned by the host pod")
    token = base64.b64decode(secret["data"][projected["items"][0]["key"]]).decode()
    review = await client.AuthenticationV1Api(virtual_api).create_token_review(
        {"spec": {"token": token, "audiences": ["vault"]}}
    )
    assert review.status.authenticated is True
    assert review.status.user.username == f"system:serviceaccount:{vns}:default"
    assert review.status.user.extra["authentication.kubernetes.io/pod-name"] == ["app"]


@pytest.mark.parametrize(
    ("spec", "rule"),
    [
        ({"containers": [{"name": "c", "image": "busybox", "securityContext": {"privileged": True}}]}, "privileged"),
        (
            {"containers": [{"name": "c", "image": "busybox"}], "volumes": [{"name": "r", "hostPath": {"path": "/"}}]},
            "hostPathVolumes",
        ),
    ],
)
async def test_a_pod_breaking_the_default_policy_is_refused_with_a_warning(
    spec, rule, pod_syncer, v, h, virtual_namespace, host_namespace
):
    vns, t = virtual_namespace, host_namespace
    await create_pod(v, vns, {"metadata": {"name": "bad"}, "spec": spec})

    async def refused():
        return [e for e in await v.events_for(vns, "bad") if e["reason"] == "SyncError"]

    events = await eventually(refused, 30, "a SyncError on the pod")
    assert f'violates PodSecurity "baseline:latest": {rule}' in events[0]["message"]
    assert await h.get("pod", t, host_name("bad", vns, S)) is None


async def test_readiness_gate_condition_image_and_toleration_changes_reach_the_host_pod(
    pod_syncer, v, h, virtual_namespace, host_namespace
):
    vns, t = virtual_namespace, host_namespace
    spec = {"readinessGates": [{"conditionType": "example.com/ready"}], "containers": [{"name": "c", "image": "a:1"}]}
    await create_pod(v, vns, {"metadata": {"name": "gated"}, "spec": spec})
    host = host_name("gated", vns, S)
    await _running_host_pod(h, t, "gated", vns)

    async def virtual_running():
        return (await v.get("pod", vns, "gated"))["status"].get("phase") == "Running"

    await eventually(virtual_running, 30, "status up on the virtual pod (its conditions list exists)")

    gate = {"type": "example.com/ready", "status": "True", "lastTransitionTime": "2026-01-01T00:00:00Z"}
    await v.v1.patch_namespaced_pod_status("gated", vns, [{"op": "add", "path": "/status/conditions/-", "value": gate}])
    await v.v1.patch_namespaced_pod(
        "gated",
        vns,
        [
            {"op": "replace", "path": "/spec/containers/0/image", "value": "a:2"},
            {"op": "add", "path": "/spec/tolerations", "value": [{"key": "team", "operator": "Exists"}]},
        ],
    )

    async def propagated():
        pod = await h.get("pod", t, host)
        conditions = {c["type"]: c["status"] for c in pod["status"].get("conditions") or []}
        tolerations = [tol.get("key") for tol in pod["spec"].get("tolerations") or []]
        image = pod["spec"]["containers"][0]["image"]
        return conditions.get("example.com/ready") == "True" and image == "a:2" and "team" in tolerations

    await eventually(propagated, 30, "the gate condition, image and toleration on the host pod")


async def test_a_due_token_is_refreshed_in_its_host_secret(pod_syncer, v, h, virtual_namespace, host_namespace):
    vns, t = virtual_namespace, host_namespace
    token = {"serviceAccountToken": {"expirationSeconds": 600, "path": "token"}}
    spec = {
        "containers": [{"name": "c", "image": "busybox"}],
        "volumes": [{"name": "tok", "projected": {"sources": [token]}}],
    }
    await create_pod(v, vns, {"metadata": {"name": "app"}, "spec": spec})
    secret_name = token_secret_name("app", vns, S)
    secret = await eventually(lambda: h.get("secret", t, secret_name), 30, "the token Secret")
    key = next(iter(secret["data"]))
    old_token = secret["data"][key]

    expired = '{"' + key + '": {"expires": "2020-01-01T00:10:00Z", "issued": "2020-01-01T00:00:00Z"}}'
    annotations = {"vcluster.loft.sh/token-expirations": expired}  # as if 80% of its life had passed
    await h.patch("secret", t, secret_name, {"metadata": {"annotations": annotations}})

    async def refreshed():
        now = await h.get("secret", t, secret_name)
        return now if now["data"][key] != old_token else None

    fresh = await eventually(refreshed, 30, "a new token")
    assert "2020-01-01" not in fresh["metadata"]["annotations"]["vcluster.loft.sh/token-expirations"]


async def test_deleting_a_pod_on_either_side_converges(pod_syncer, v, h, virtual_namespace, host_namespace):
    vns, t = virtual_namespace, host_namespace
    for name in ("from-host", "from-virtual"):
        await create_pod(
            v, vns, {"metadata": {"name": name}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}}
        )
        await _running_host_pod(h, t, name, vns)

    async def virtual_running():
        pod = await v.get("pod", vns, "from-host")
        return pod if pod and pod["status"].get("startTime") else None

    await eventually(virtual_running, 30, "status to reach the virtual pod")
    await h.delete("pod", t, host_name("from-host", vns, S))  # evicted on the host: gone in virtual, not recreated
    await v.v1.delete_namespaced_pod("from-virtual", vns, grace_period_seconds=10)

    async def both_gone():
        names = {p.metadata.name for p in (await v.v1.list_namespaced_pod(vns)).items}
        host_names = {p.metadata.name for p in (await h.v1.list_namespaced_pod(t)).items}
        return not names and not host_names

    await eventually(both_gone, 60, "both pods gone on both sides")


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("--node-selector=pool=a",), {"kwok-node-0"}),
        (("--sync-all-nodes",), {"kwok-node-0", "kwok-node-1", "kwok-node-2"}),
    ],
)
async def test_real_node_modes_show_exactly_the_selected_nodes(
    args, expected, run_syncer, vcluster_service, v, h, virtual_namespace, host_namespace
):
    vns, t = virtual_namespace, host_namespace
    await run_syncer("--sync=+nodes", *args)
    try:

        async def mirrored():
            nodes = (await v.v1.list_node()).items
            names = {
                n.metadata.name for n in nodes if "vcluster.loft.sh/managed-labels" in (n.metadata.annotations or {})
            }
            return names if names == expected else None

        await eventually(mirrored, 30, f"exactly {sorted(expected)} in the virtual cluster")
        if "--node-selector=pool=a" in args:
            await create_pod(v, vns, {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "x"}]}})
            hpod = await _running_host_pod(h, t, "p", vns)
            assert hpod["spec"]["nodeSelector"] == {"pool": "a"} and hpod["spec"]["nodeName"] == "kwok-node-0"

            async def bound():
                return (await v.get("pod", vns, "p"))["spec"].get("nodeName") == "kwok-node-0"

            await eventually(bound, 30, "the virtual pod bound to the mirrored node")
    finally:
        for node in (await v.v1.list_node()).items:  # the virtual cluster is shared: leave no mirrored node
            if "vcluster.loft.sh/managed-labels" in (node.metadata.annotations or {}):
                await v.v1.delete_node(node.metadata.name)


async def test_a_restart_with_running_pods_makes_zero_writes(
    run_syncer, vcluster_service, v, virtual_api, virtual_namespace
):
    vns = virtual_namespace
    await others_gone(virtual_api, vns)
    await v.create("config_map", vns, {"metadata": {"name": "cfg"}, "data": {"a": "1"}})
    first = await run_syncer(*POD_SYNC)
    for name in ("one", "two"):
        spec = {"containers": [{"name": "c", "image": "x", "envFrom": [{"configMapRef": {"name": "cfg"}}]}]}
        await create_pod(v, vns, {"metadata": {"name": name, "labels": {"app": "x"}}, "spec": spec})

    async def settled():
        pods = [await v.get("pod", vns, n) for n in ("one", "two")]
        return all(p["spec"].get("nodeName") and p["status"].get("phase") == "Running" for p in pods)

    await eventually(settled, 60, "both pods Running and bound in the virtual cluster")
    await first.settle()
    await first.stop()

    # Fake-node heartbeats are the allowed periodic writes (SPEC §9.5); without them every write counts. Events are
    # off too: a host event that happened while the syncer was down is new data to copy, not a repeated write.
    second = await run_syncer("--sync=-fake-nodes,-events")
    assert await second.metric("vcsync_sync_total", kind="pods", result="unchanged") >= 2
    assert await second.writes() == 0


async def test_namespace_labels_become_ns_label_keys_on_host_pods_and_follow_changes(
    pod_syncer, v, h, virtual_namespace, host_namespace
):
    vns, t = virtual_namespace, host_namespace
    await v.v1.patch_namespace(vns, {"metadata": {"labels": {"team": "blue"}}})
    spec = {"containers": [{"name": "c", "image": "x"}], "volumes": [{"name": "v", "configMap": {"name": "cfg"}}]}
    await create_pod(v, vns, {"metadata": {"name": "p"}, "spec": spec})
    hpod = await _running_host_pod(h, t, "p", vns)
    assert hpod["spec"]["volumes"][0]["configMap"]["name"] == host_name("cfg", vns, S)
    key = ns_label_key("team", S)
    assert hpod["metadata"]["labels"][key] == "blue"

    await v.v1.patch_namespace(vns, {"metadata": {"labels": {"team": "green"}}})

    async def followed():
        return (await h.get("pod", t, host_name("p", vns, S)))["metadata"]["labels"].get(key) == "green"

    await eventually(followed, 30, "the ns-label to follow the Namespace change")
