"""Endpoints of selector-less Services keep only this tenant's pod addresses, a PVC binds on the host and shows
Bound with a fake PV in the virtual cluster, and host events about a tenant's pod reach it with virtual names."""

from __future__ import annotations

import uuid

import pytest

from tests.conftest import S
from tests.integration.test_pods_and_nodes import _running_host_pod
from tests.integration.test_sync_configmaps_secrets import create_pod
from tests.kube import Any_
from tests.support import eventually
from translators.names import host_name

pytestmark = pytest.mark.controlplane


async def test_selectorless_endpoints_keep_the_tenants_pod_and_drop_an_outside_address(
    pod_syncer, v, h, virtual_namespace, host_namespace
):
    vns, t = virtual_namespace, host_namespace
    await create_pod(v, vns, {"metadata": {"name": "backend"}, "spec": {"containers": [{"name": "c", "image": "x"}]}})
    hpod = await _running_host_pod(h, t, "backend", vns)
    pod_ip = hpod["status"]["podIP"]
    await v.create("service", vns, {"metadata": {"name": "manual"}, "spec": {"ports": [{"port": 80}]}})

    async def ip_imposed():  # the virtual Service is recreated with the host IP, which takes its Endpoints along
        host_svc = await h.get("service", t, host_name("manual", vns, S))
        virtual_svc = await v.get("service", vns, "manual")
        return host_svc and virtual_svc and host_svc["spec"]["clusterIP"] == virtual_svc["spec"]["clusterIP"]

    await eventually(ip_imposed, 30, "the host ClusterIP on the virtual Service")
    await v.create(
        "endpoints",
        vns,
        {
            "metadata": {"name": "manual"},
            "subsets": [
                {
                    "addresses": [
                        {"ip": pod_ip, "targetRef": {"kind": "Pod", "name": "backend", "namespace": vns}},
                        {"ip": "10.1.2.3"},
                    ],
                    "ports": [{"port": 8080}],
                }
            ],
        },
    )

    async def synced():
        copy = await h.get("endpoints", t, host_name("manual", vns, S))
        return copy if copy and copy.get("subsets") else None

    copy = await eventually(synced, 30, "the host Endpoints")
    addresses = copy["subsets"][0]["addresses"]
    assert [a["ip"] for a in addresses] == [pod_ip]
    assert addresses[0]["targetRef"]["name"] == hpod["metadata"]["name"]

    async def warned():
        return [e for e in await v.events_for(vns, "manual") if e["reason"] == "SyncWarning"]

    events = await eventually(warned, 30, "a SyncWarning naming the dropped address")
    assert "10.1.2.3" in events[0]["message"]
    assert await pod_syncer.metric("vcsync_endpoint_addresses_dropped_total", kind="endpoints") >= 1


async def test_a_pvc_binds_on_the_host_and_shows_bound_with_a_fake_pv(
    run_syncer, v, h, host_api, virtual_api, virtual_namespace, host_namespace
):
    vns, t = virtual_namespace, host_namespace
    host_pv = f"static-{uuid.uuid4().hex[:8]}"
    host, virtual = Any_(host_api), Any_(virtual_api)
    await host.call(
        "POST",
        "/api/v1/persistentvolumes",
        {
            "metadata": {"name": host_pv},
            "spec": {
                "capacity": {"storage": "1Gi"},
                "accessModes": ["ReadWriteOnce"],
                "storageClassName": "manual",
                "persistentVolumeReclaimPolicy": "Retain",
                "hostPath": {"path": "/tmp/vcsync-test"},
            },
        },
    )
    try:
        await run_syncer("--sync=-pods,-fake-nodes")
        await v.create(
            "persistent_volume_claim",
            vns,
            {
                "metadata": {"name": "data"},
                "spec": {
                    "accessModes": ["ReadWriteOnce"],
                    "storageClassName": "manual",
                    "resources": {"requests": {"storage": "1Gi"}},
                },
            },
        )

        async def bound():
            pvc = await v.get("persistent_volume_claim", vns, "data")
            return pvc if pvc["status"].get("phase") == "Bound" and pvc["spec"].get("volumeName") else None

        pvc = await eventually(bound, 60, "the virtual PVC to be Bound")
        assert pvc["spec"]["volumeName"] == host_pv
        fake = await eventually(lambda: virtual.call("GET", f"/api/v1/persistentvolumes/{host_pv}"), 30, "fake PV")
        assert fake["metadata"]["labels"]["vcluster.loft.sh/fake-pv"] == "true"
        assert fake["spec"]["flexVolume"] == {"driver": "fake"}
        assert fake["spec"]["claimRef"]["name"] == "data" and fake["status"]["phase"] == "Bound"

        await v.delete("persistent_volume_claim", vns, "data")

        async def cleaned():
            pv_gone = await virtual.call("GET", f"/api/v1/persistentvolumes/{host_pv}") is None
            return pv_gone and await h.get("persistent_volume_claim", t, host_name("data", vns, S)) is None

        await eventually(cleaned, 60, "the host PVC and the fake PV to be deleted")
    finally:
        await host.call("DELETE", f"/api/v1/persistentvolumes/{host_pv}")


async def test_host_events_about_a_pod_reach_it_with_virtual_names_only(
    pod_syncer, v, h, virtual_namespace, host_namespace
):
    vns, t = virtual_namespace, host_namespace
    await create_pod(v, vns, {"metadata": {"name": "web"}, "spec": {"containers": [{"name": "c", "image": "x"}]}})
    await _running_host_pod(h, t, "web", vns)

    async def scheduled():
        return [e for e in await v.events_for(vns, "web") if e["reason"] == "Scheduled"]

    event = (await eventually(scheduled, 30, "the host scheduler's event on the virtual pod"))[0]
    assert event["message"].startswith(f"Successfully assigned {vns}/web to kwok-node-")
    assert "-x-" not in event["message"] and t not in event["message"]
    assert event["involvedObject"]["name"] == "web" and event["involvedObject"]["namespace"] == vns
