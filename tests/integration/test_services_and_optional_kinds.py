"""Services and the optional kinds against the real clusters: a Service's host copy selects only this vcluster's
pods and the virtual ClusterIP equals the host's; host nodePorts flow up; each optional kind round-trips create,
update and delete when switched on, and syncs nothing when off."""

from __future__ import annotations

import pytest

from tests.integration.test_sync_configmaps_secrets import S, create_pod
from tests.kube import Any_
from tests.support import eventually
from translators.names import cluster_host_name, host_name

pytestmark = pytest.mark.controlplane


async def test_service_selects_only_this_vclusters_pods_and_takes_the_host_cluster_ip(
    pod_syncer, v, h, virtual_namespace, host_namespace
):
    vns, t = virtual_namespace, host_namespace
    await v.create(
        "service",
        vns,
        {
            "metadata": {"name": "web"},
            "spec": {"selector": {"app": "web"}, "ports": [{"name": "http", "port": 80, "targetPort": 8080}]},
        },
    )
    await create_pod(
        v,
        vns,
        {
            "metadata": {"name": "web-1", "labels": {"app": "web"}},
            "spec": {"containers": [{"name": "c", "image": "x"}]},
        },
    )
    copy = await eventually(lambda: h.get("service", t, host_name("web", vns, S)), 30, "the host Service")
    assert copy["spec"]["selector"] == {
        "app": "web",
        "vcluster.loft.sh/managed-by": S,
        "vcluster.loft.sh/namespace": vns,
    }

    async def same_ip():
        virtual = await v.get("service", vns, "web")
        return virtual and virtual["spec"]["clusterIP"] == copy["spec"]["clusterIP"]

    await eventually(same_ip, 30, "the virtual ClusterIP to equal the host's")

    async def resolves():  # the host endpoints controller lists the tenant's translated pod behind the Service
        pod = await h.get("pod", t, host_name("web-1", vns, S))
        endpoints = await h.get("endpoints", t, host_name("web", vns, S))
        addresses = [a for s in (endpoints or {}).get("subsets") or [] for a in s.get("addresses") or []]
        return pod and pod["status"].get("podIP") and [a["ip"] for a in addresses] == [pod["status"]["podIP"]]

    await eventually(resolves, 60, "the host Endpoints to list the translated pod")


async def test_node_ports_allocated_on_the_host_flow_up(run_syncer, v, h, virtual_namespace, host_namespace):
    vns, t = virtual_namespace, host_namespace
    await v.create(
        "service",
        vns,
        {
            "metadata": {"name": "np"},
            "spec": {"type": "NodePort", "selector": {"app": "np"}, "ports": [{"name": "http", "port": 80}]},
        },
    )
    await run_syncer("--sync=-pods,-fake-nodes")

    async def same_node_port():
        host = await h.get("service", t, host_name("np", vns, S))
        virtual = await v.get("service", vns, "np")
        if not host or not virtual:
            return False
        return virtual["spec"]["ports"][0].get("nodePort") == host["spec"]["ports"][0].get("nodePort")

    await eventually(same_node_port, 30, "the host nodePort on the virtual Service")


async def test_a_service_with_external_ips_syncs_without_them_and_the_tenant_is_told(
    run_syncer, v, h, virtual_namespace, host_namespace
):
    vns, t = virtual_namespace, host_namespace
    spec = {"selector": {"app": "web"}, "ports": [{"port": 80}], "externalIPs": ["192.0.2.10"]}
    created = await v.create("service", vns, {"metadata": {"name": "ext"}, "spec": spec})
    assert created["spec"]["externalTrafficPolicy"] == "Cluster"  # the virtual API server defaults it for them
    await run_syncer("--sync=-pods,-fake-nodes")
    copy = await eventually(lambda: h.get("service", t, host_name("ext", vns, S)), 30, "the host Service")
    assert "externalIPs" not in copy["spec"] and "externalTrafficPolicy" not in copy["spec"]

    async def told():
        events = await v.events_for(vns, "ext")
        return [e for e in events if e["type"] == "Warning" and "externalIPs 192.0.2.10 not synced" in e["message"]]

    await eventually(told, 30, "a Warning event about the dropped externalIPs")


def _kind_cases(vns: str, t: str):
    """(kind, virtual path, body, update, host path, check on the host copy)."""
    pdb_path = f"/apis/policy/v1/namespaces/{vns}/poddisruptionbudgets"
    np_path = f"/apis/networking.k8s.io/v1/namespaces/{vns}/networkpolicies"
    sa_path = f"/api/v1/namespaces/{vns}/serviceaccounts"
    pc_path = "/apis/scheduling.k8s.io/v1/priorityclasses"
    pc_name = f"pc-{vns[-6:]}"
    sc_path = "/apis/storage.k8s.io/v1/storageclasses"
    sc_name = f"sc-{vns[-6:]}"
    ing_path = f"/apis/networking.k8s.io/v1/namespaces/{vns}/ingresses"
    backend = {"service": {"name": "web", "port": {"number": 80}}}
    slice_path = f"/apis/discovery.k8s.io/v1/namespaces/{vns}/endpointslices"
    return {
        "storageclasses": (
            sc_path,
            {
                "metadata": {"name": sc_name, "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
                "provisioner": "example.com/disk",
            },
            {"allowVolumeExpansion": True},
            f"{sc_path}/{cluster_host_name(sc_name, t, S)}",
            lambda o: (
                o.get("allowVolumeExpansion") is True
                and "storageclass.kubernetes.io/is-default-class" not in (o["metadata"].get("annotations") or {})
            ),
        ),
        "ingresses": (
            ing_path,
            {"metadata": {"name": "x"}, "spec": {"defaultBackend": backend}},
            {"spec": {"ingressClassName": "nginx"}},
            f"/apis/networking.k8s.io/v1/namespaces/{t}/ingresses/{host_name('x', vns, S)}",
            lambda o: (
                o["spec"].get("ingressClassName") == "nginx"
                and o["spec"]["defaultBackend"]["service"]["name"] == host_name("web", vns, S)
            ),
        ),
        "endpointslices": (
            slice_path,
            {
                "metadata": {"name": "x", "labels": {"kubernetes.io/service-name": "manual"}},
                "addressType": "IPv4",
                "endpoints": [{"addresses": ["198.18.9.9"]}],
                "ports": [{"port": 80}],
            },
            {"ports": [{"port": 81}]},
            f"/apis/discovery.k8s.io/v1/namespaces/{t}/endpointslices/{host_name('x', vns, S)}",
            lambda o: (
                o["ports"][0]["port"] == 81
                and o["metadata"]["labels"]["kubernetes.io/service-name"] == host_name("manual", vns, S)
            ),
        ),
        "poddisruptionbudgets": (
            pdb_path,
            {"metadata": {"name": "x"}, "spec": {"minAvailable": 1, "selector": {"matchLabels": {"a": "b"}}}},
            {"spec": {"minAvailable": 2}},
            f"/apis/policy/v1/namespaces/{t}/poddisruptionbudgets/{host_name('x', vns, S)}",
            lambda o: o["spec"]["minAvailable"] == 2 and o["spec"]["selector"]["matchLabels"]["a"] == "b",
        ),
        "networkpolicies": (
            np_path,
            {
                "metadata": {"name": "x"},
                "spec": {"podSelector": {"matchLabels": {"a": "b"}}, "policyTypes": ["Ingress"]},
            },
            {"spec": {"policyTypes": ["Ingress", "Egress"]}},
            f"/apis/networking.k8s.io/v1/namespaces/{t}/networkpolicies/{host_name('x', vns, S)}",
            lambda o: (
                o["spec"]["policyTypes"] == ["Ingress", "Egress"]
                and o["spec"]["podSelector"]["matchLabels"]["vcluster.loft.sh/managed-by"] == S
            ),
        ),
        "serviceaccounts": (
            sa_path,
            {"metadata": {"name": "x"}},
            {"metadata": {"annotations": {"iam": "role-a"}}},
            f"/api/v1/namespaces/{t}/serviceaccounts/{host_name('x', vns, S)}",
            lambda o: (
                o["metadata"]["annotations"].get("iam") == "role-a" and o["automountServiceAccountToken"] is False
            ),
        ),
        "priorityclasses": (
            pc_path,
            {"metadata": {"name": pc_name}, "value": 5000000000 // 5, "description": "a"},
            {"description": "b"},
            f"{pc_path}/{cluster_host_name(pc_name, t, S)}",
            lambda o: o["description"] == "b" and o["value"] == 1000000000 and not o.get("globalDefault"),
        ),
    }


@pytest.mark.parametrize(
    "kind",
    [
        "poddisruptionbudgets",
        "networkpolicies",
        "serviceaccounts",
        "priorityclasses",
        "storageclasses",
        "ingresses",
        "endpointslices",
    ],
)
async def test_an_optional_kind_round_trips_when_on_and_syncs_nothing_when_off(
    kind, run_syncer, virtual_api, host_api, virtual_namespace, host_namespace
):
    vns, t = virtual_namespace, host_namespace
    path, body, update, host_path, check = _kind_cases(vns, t)[kind]
    virtual, host = Any_(virtual_api), Any_(host_api)
    if kind == "endpointslices":  # a slice syncs for a selector-less Service, with an allowed address
        await virtual.call(
            "POST",
            f"/api/v1/namespaces/{vns}/services",
            {"metadata": {"name": "manual"}, "spec": {"ports": [{"port": 80}]}},
        )
    created = await virtual.call("POST", path, body)
    object_path = f"{path}/{created['metadata']['name']}"
    try:
        off = await run_syncer("--sync=-pods,-fake-nodes")
        assert await host.call("GET", host_path) is None  # off by default: nothing synced
        await off.stop()

        await run_syncer(
            "--sync=-pods,-fake-nodes", f"--sync=+{kind}", "--endpoints-allowed-cidrs=198.18.9.0/24", name=S
        )
        await eventually(lambda: host.call("GET", host_path), 30, f"the host copy of the {kind} object")
        await virtual.call("PATCH", object_path, update, patch=True)

        async def updated():
            copy = await host.call("GET", host_path)
            return copy and check(copy)

        await eventually(updated, 30, "the update on the host copy")
        await virtual.call("DELETE", object_path)

        async def deleted():
            return await host.call("GET", host_path) is None

        await eventually(deleted, 30, "the host copy to be deleted")
    finally:
        if kind in ("priorityclasses", "storageclasses"):  # cluster-scoped: not cleaned up with the namespace
            await virtual.call("DELETE", object_path)


async def test_ingress_backends_and_tls_secret_are_translated_and_the_secret_synced(
    run_syncer, v, h, virtual_api, host_api, virtual_namespace, host_namespace
):
    vns, t = virtual_namespace, host_namespace
    await v.create(
        "secret",
        vns,
        {"metadata": {"name": "tls"}, "type": "kubernetes.io/tls", "stringData": {"tls.crt": "c", "tls.key": "k"}},
    )
    ingress = {
        "metadata": {"name": "web"},
        "spec": {
            "tls": [{"hosts": ["a.example"], "secretName": "tls"}],
            "rules": [
                {
                    "host": "a.example",
                    "http": {
                        "paths": [
                            {
                                "path": "/",
                                "pathType": "Prefix",
                                "backend": {"service": {"name": "web", "port": {"number": 80}}},
                            }
                        ]
                    },
                }
            ],
        },
    }
    await Any_(virtual_api).call("POST", f"/apis/networking.k8s.io/v1/namespaces/{vns}/ingresses", ingress)
    await run_syncer("--sync=-pods,-fake-nodes", "--sync=+ingresses")
    path = f"/apis/networking.k8s.io/v1/namespaces/{t}/ingresses/{host_name('web', vns, S)}"
    copy = await eventually(lambda: Any_(host_api).call("GET", path), 30, "the host Ingress")
    assert copy["spec"]["tls"][0]["secretName"] == host_name("tls", vns, S)
    backend = copy["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"]
    assert backend == host_name("web", vns, S)
    await eventually(lambda: h.get("secret", t, host_name("tls", vns, S)), 30, "the TLS Secret, used by the Ingress")


@pytest.mark.parametrize(
    ("kind", "path", "body"),
    [
        ("ingresses", "/apis/networking.k8s.io/v1/ingressclasses", {"spec": {"controller": "example.com/ingress"}}),
        ("hoststorageclasses", "/apis/storage.k8s.io/v1/storageclasses", {"provisioner": "example.com/disk"}),
    ],
)
async def test_host_classes_are_mirrored_edits_reverted_and_virtual_only_ones_removed(
    kind, path, body, run_syncer, virtual_api, host_api, virtual_namespace
):
    host, virtual = Any_(host_api), Any_(virtual_api)
    name = f"mirror-{virtual_namespace[-6:]}"
    await host.call("POST", path, {"metadata": {"name": name, "labels": {"tier": "gold"}}, **body})
    await virtual.call("POST", path, {"metadata": {"name": f"{name}-tenant"}, **body})
    try:
        await run_syncer("--sync=-pods,-fake-nodes", f"--sync=+{kind}")
        copy = await eventually(lambda: virtual.call("GET", f"{path}/{name}"), 30, "the mirrored class")
        assert copy["metadata"]["labels"] == {"tier": "gold"}
        await virtual.call("PATCH", f"{path}/{name}", {"metadata": {"labels": {"tier": "free"}}}, patch=True)

        async def reverted_and_removed():
            mine = await virtual.call("GET", f"{path}/{name}")
            tenant_only = await virtual.call("GET", f"{path}/{name}-tenant")
            return mine and mine["metadata"]["labels"] == {"tier": "gold"} and tenant_only is None

        await eventually(reverted_and_removed, 30, "the edit reverted and the virtual-only class removed")
    finally:
        await host.call("DELETE", f"{path}/{name}")
        await virtual.call("DELETE", f"{path}/{name}")
        await virtual.call("DELETE", f"{path}/{name}-tenant")


async def test_virtual_kubernetes_service_takes_the_vcluster_service_ip_and_its_https_endpoints(
    run_syncer, v, h, host_namespace
):
    t = host_namespace
    service = await h.create(
        "service",
        t,
        {
            "metadata": {"name": S},
            "spec": {"ports": [{"name": "https", "port": 443, "targetPort": 6443}, {"name": "kubelet", "port": 10250}]},
        },
    )
    await h.create(
        "endpoints",
        t,
        {
            "metadata": {"name": S},
            "subsets": [
                {
                    "addresses": [{"ip": "198.18.0.9", "nodeName": "kwok-node-0"}],
                    "ports": [{"name": "https", "port": 6443}, {"name": "kubelet", "port": 10250}],
                }
            ],
        },
    )
    await run_syncer("--sync=-pods,-fake-nodes,+endpointslices")

    async def mirrored():
        svc, eps = await v.get("service", "default", "kubernetes"), await v.get("endpoints", "default", "kubernetes")
        if not svc or not eps or svc["spec"]["clusterIP"] != service["spec"]["clusterIP"]:
            return None
        return svc, eps

    svc, eps = await eventually(mirrored, 60, "default/kubernetes to mirror the vcluster Service")
    assert [p["name"] for p in svc["spec"]["ports"]] == ["https"]
    assert eps["metadata"]["labels"]["endpointslice.kubernetes.io/skip-mirror"] == "true"
    assert eps["subsets"][0]["addresses"] == [{"ip": "198.18.0.9"}]
    assert eps["subsets"][0]["ports"] == [{"name": "https", "port": 6443, "protocol": "TCP"}]
    path = "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices/kubernetes"
    kubernetes_slice = await eventually(lambda: Any_(v.v1.api_client).call("GET", path), 30, "EndpointSlice kubernetes")
    assert kubernetes_slice["endpoints"][0]["addresses"] == ["198.18.0.9"]
