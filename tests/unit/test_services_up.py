"""Services up (SPEC §6.2, §8.2): the host allocates ClusterIPs, nodePorts and load balancers on the shared service
network, so the virtual Service must show exactly those, one write per pass, and the virtual default/kubernetes
Service must lead tenants to the vcluster's own host Service without exposing the kubelet port or host names."""

from __future__ import annotations

import copy
from types import SimpleNamespace
from typing import Any

from translators import services
from translators.kind import Notice, Write
from vocab.resources import SERVICES

Obj = dict[str, Any]
CTX = SimpleNamespace(config=SimpleNamespace(allow_external_ips=False))
ALLOWED = SimpleNamespace(config=SimpleNamespace(allow_external_ips=True))
HTTP = {"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080}


def vsvc(**spec: Any) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": "web",
            "namespace": "shop",
            "uid": "v-uid",
            "resourceVersion": "7",
            "creationTimestamp": "2024-05-01T00:00:00Z",
            "managedFields": [{"manager": "kubectl"}],
            "labels": {"app": "web"},
            "annotations": {"team": "a"},
            "ownerReferences": [{"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": "o-uid"}],
        },
        "spec": {
            "type": "ClusterIP",
            "clusterIP": "10.96.0.20",
            "clusterIPs": ["10.96.0.20"],
            "ipFamilies": ["IPv4"],
            "ipFamilyPolicy": "SingleStack",
            "ports": [dict(HTTP)],
            "selector": {"app": "web"},
            **spec,
        },
    }


def hsvc(status: Obj | None = None, **spec: Any) -> Obj:
    host = {
        "metadata": {"name": "web-x-shop-x-vc", "namespace": "host-ns", "uid": "h-uid"},
        "spec": {"type": "ClusterIP", "clusterIP": "10.96.0.20", "ports": [dict(HTTP)], **spec},
    }
    return host | ({"status": status} if status is not None else {})


def with_node_port(port: Obj, node_port: int) -> Obj:
    return {**port, "nodePort": node_port}


# ---- in sync ---------------------------------------------------------------------------------------------------
def test_nothing_happens_when_virtual_already_shows_the_host_values() -> None:
    assert services.existing(CTX, vsvc(), hsvc()) == []


def test_nothing_happens_for_headless_services() -> None:
    assert services.existing(CTX, vsvc(clusterIP="None", clusterIPs=["None"]), hsvc(clusterIP="None")) == []


def test_hook_is_wired_into_the_kind() -> None:
    assert services.KIND.existing is services.existing


# ---- nodePorts and healthCheckNodePort -------------------------------------------------------------------------
def test_host_node_port_is_copied_up_with_a_resource_version_precondition() -> None:
    virtual = vsvc(type="NodePort", ports=[with_node_port(HTTP, 30001)])
    host = hsvc(type="NodePort", ports=[with_node_port(HTTP, 31234)])
    assert services.existing(CTX, virtual, host) == [
        Write(
            "virtual",
            "patch",
            SERVICES,
            "shop",
            "web",
            {"metadata": {"resourceVersion": "7"}, "spec": {"ports": [with_node_port(HTTP, 31234)]}},
            why="node ports",
        )
    ]


def test_node_ports_are_matched_per_port_and_unallocated_ports_are_left_alone() -> None:
    metrics = {"name": "metrics", "port": 9090, "protocol": "TCP"}
    virtual = vsvc(type="NodePort", ports=[dict(HTTP), dict(metrics)])
    host = hsvc(type="NodePort", ports=[dict(metrics), with_node_port(HTTP, 31000)])
    (write,) = services.existing(CTX, virtual, host)
    assert write.body["spec"] == {"ports": [with_node_port(HTTP, 31000), metrics]}


def test_health_check_node_port_is_copied_up() -> None:
    virtual = vsvc(type="LoadBalancer", externalTrafficPolicy="Local")
    host = hsvc(type="LoadBalancer", externalTrafficPolicy="Local", healthCheckNodePort=32100)
    (write,) = services.existing(CTX, virtual, host)
    assert (write.verb, write.subresource, write.body["spec"]) == ("patch", None, {"healthCheckNodePort": 32100})


def test_node_ports_wait_while_the_host_type_has_not_caught_up() -> None:
    virtual = vsvc(type="ClusterIP")
    host = hsvc(type="NodePort", ports=[with_node_port(HTTP, 31234)])
    assert services.existing(CTX, virtual, host) == []


# ---- load-balancer status ----------------------------------------------------------------------------------------
def test_load_balancer_status_is_copied_up_through_the_status_subresource() -> None:
    lb = {"ingress": [{"ip": "203.0.113.7"}]}
    virtual = vsvc(type="LoadBalancer")
    host = hsvc({"loadBalancer": lb}, type="LoadBalancer")
    assert services.existing(CTX, virtual, host) == [
        Write("virtual", "patch", SERVICES, "shop", "web", {"status": {"loadBalancer": lb}}, subresource="status")
    ]


def test_load_balancer_status_removed_on_host_is_removed_in_virtual() -> None:
    virtual = vsvc(type="LoadBalancer") | {"status": {"loadBalancer": {"ingress": [{"ip": "203.0.113.7"}]}}}
    (write,) = services.existing(CTX, virtual, hsvc({"loadBalancer": {}}, type="LoadBalancer"))
    assert write.body == {"status": {"loadBalancer": {"ingress": None}}}


def test_node_ports_go_up_before_load_balancer_status() -> None:
    virtual = vsvc(type="LoadBalancer")
    host = hsvc({"loadBalancer": {"ingress": [{"ip": "203.0.113.7"}]}}, type="LoadBalancer")
    host["spec"]["ports"] = [with_node_port(HTTP, 30080)]
    (write,) = services.existing(CTX, virtual, host)
    assert write.subresource is None and write.why == "node ports"


# ---- ClusterIP imposed -----------------------------------------------------------------------------------------
def test_cluster_ip_mismatch_deletes_and_recreates_with_the_host_ip() -> None:
    virtual = vsvc()
    delete, create = services.existing(CTX, virtual, hsvc(clusterIP="10.96.0.99"))
    assert (delete.side, delete.verb, delete.namespace, delete.name, delete.uid) == (
        "virtual",
        "delete",
        "shop",
        "web",
        "v-uid",
    )
    assert (create.side, create.verb, create.namespace, create.name) == ("virtual", "create", "shop", "web")
    assert create.body["spec"] == {
        "type": "ClusterIP",
        "clusterIP": "10.96.0.99",
        "ports": [HTTP],
        "selector": {"app": "web"},
    }


def test_recreated_service_keeps_labels_annotations_and_owners_but_not_server_metadata() -> None:
    virtual = vsvc()
    body = services.recreated(virtual, hsvc(clusterIP="10.96.0.99"))
    assert body["metadata"] == {
        "name": "web",
        "namespace": "shop",
        "labels": {"app": "web"},
        "annotations": {"team": "a"},
        "ownerReferences": virtual["metadata"]["ownerReferences"],
    }


def test_recreated_service_takes_the_host_node_ports_too() -> None:
    virtual = vsvc(type="NodePort", ports=[with_node_port(HTTP, 30001)])
    body = services.recreated(
        virtual, hsvc(clusterIP="10.96.0.99", type="NodePort", ports=[with_node_port(HTTP, 31234)])
    )
    assert body["spec"]["ports"] == [with_node_port(HTTP, 31234)]


def test_recreate_leaves_the_cached_virtual_service_untouched() -> None:
    virtual = vsvc()
    before = copy.deepcopy(virtual)
    services.existing(CTX, virtual, hsvc(clusterIP="10.96.0.99"))
    assert virtual == before


def test_a_deleting_virtual_service_is_not_recreated() -> None:
    virtual = vsvc()
    virtual["metadata"]["deletionTimestamp"] = "2024-05-02T00:00:00Z"
    assert services.existing(CTX, virtual, hsvc(clusterIP="10.96.0.99")) == []


def test_cluster_ip_not_yet_allocated_on_host_changes_nothing() -> None:
    assert services.existing(CTX, vsvc(), hsvc(clusterIP="")) == []


# ---- externalIPs (§8.2) ----------------------------------------------------------------------------------------
def test_dropped_external_ips_give_one_notice_naming_them() -> None:
    steps = services.existing(CTX, vsvc(externalIPs=["198.51.100.1", "198.51.100.2"]), hsvc())
    assert len(steps) == 1 and isinstance(steps[0], Notice)
    assert "198.51.100.1, 198.51.100.2" in steps[0].message and "--allow-external-ips" in steps[0].message


def test_external_ips_allowed_give_no_notice() -> None:
    assert services.existing(ALLOWED, vsvc(externalIPs=["198.51.100.1"]), hsvc()) == []


def test_external_ips_notice_waits_for_upward_writes() -> None:
    (step,) = services.existing(CTX, vsvc(externalIPs=["198.51.100.1"]), hsvc(clusterIP="10.96.0.99"))[:1]
    assert isinstance(step, Write)


# ---- default/kubernetes ------------------------------------------------------------------------------------------
HOST_VCLUSTER_SVC = {
    "metadata": {"name": "vc", "namespace": "vc-ns"},
    "spec": {
        "type": "NodePort",
        "clusterIP": "10.96.5.5",
        "ports": [
            {"name": "https", "port": 443, "protocol": "TCP", "targetPort": 8443, "nodePort": 31443},
            {"name": "kubelet", "port": 10250, "protocol": "TCP", "targetPort": 8443, "nodePort": 31250},
        ],
    },
}
HOST_VCLUSTER_ENDPOINTS = {
    "metadata": {"name": "vc", "namespace": "vc-ns"},
    "subsets": [
        {
            "addresses": [
                {
                    "ip": "10.244.1.7",
                    "hostname": "vc-0",
                    "nodeName": "worker-1",
                    "targetRef": {"kind": "Pod", "name": "vc-0", "namespace": "vc-ns"},
                }
            ],
            "notReadyAddresses": [{"ip": "10.244.2.9", "nodeName": "worker-2"}],
            "ports": [
                {"name": "https", "port": 8443, "protocol": "TCP"},
                {"name": "kubelet", "port": 8443, "protocol": "TCP"},
            ],
        }
    ],
}


def test_kubernetes_service_takes_host_ip_and_ports_without_kubelet_or_node_ports() -> None:
    desired = services.kubernetes_service(None, HOST_VCLUSTER_SVC)
    assert desired["metadata"] == {
        "name": "kubernetes",
        "namespace": "default",
        "labels": {"component": "apiserver", "provider": "kubernetes"},
    }
    assert desired["spec"] == {
        "type": "ClusterIP",
        "clusterIP": "10.96.5.5",
        "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 8443}],
    }


def test_kubernetes_service_keeps_what_the_virtual_api_server_set() -> None:
    current = vsvc(sessionAffinity="None")
    current["metadata"] |= {"name": "kubernetes", "namespace": "default"}
    desired = services.kubernetes_service(current, HOST_VCLUSTER_SVC)
    assert desired["metadata"]["labels"] == {"app": "web"} and "uid" not in desired["metadata"]
    assert desired["spec"]["sessionAffinity"] == "None" and "clusterIPs" not in desired["spec"]
    assert desired["spec"]["clusterIP"] == "10.96.5.5"


def test_kubernetes_endpoints_carry_only_https_with_bare_addresses() -> None:
    assert services.kubernetes_endpoints(HOST_VCLUSTER_ENDPOINTS) == {
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": {
            "name": "kubernetes",
            "namespace": "default",
            "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"},
        },
        "subsets": [
            {
                "addresses": [{"ip": "10.244.1.7"}],
                "notReadyAddresses": [{"ip": "10.244.2.9"}],
                "ports": [{"name": "https", "port": 8443, "protocol": "TCP"}],
            }
        ],
    }


def test_kubernetes_endpoints_drop_subsets_without_https() -> None:
    host = {"subsets": [{"addresses": [{"ip": "10.244.1.7"}], "ports": [{"name": "kubelet", "port": 8443}]}]}
    assert services.kubernetes_endpoints(host)["subsets"] == []


def test_kubernetes_endpointslice_mirrors_the_endpoints() -> None:
    assert services.kubernetes_endpointslice(HOST_VCLUSTER_ENDPOINTS) == {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "name": "kubernetes",
            "namespace": "default",
            "labels": {"kubernetes.io/service-name": "kubernetes", "endpointslice.kubernetes.io/skip-mirror": "true"},
        },
        "addressType": "IPv4",
        "endpoints": [
            {"addresses": ["10.244.1.7"], "conditions": {"ready": True}},
            {"addresses": ["10.244.2.9"], "conditions": {"ready": False}},
        ],
        "ports": [{"name": "https", "port": 8443, "protocol": "TCP"}],
    }


def test_kubernetes_endpointslice_of_ipv6_endpoints() -> None:
    host = {"subsets": [{"addresses": [{"ip": "fd00::7"}], "ports": [{"name": "https", "port": 8443}]}]}
    slice_ = services.kubernetes_endpointslice(host)
    assert slice_["addressType"] == "IPv6" and slice_["endpoints"] == [
        {"addresses": ["fd00::7"], "conditions": {"ready": True}}
    ]


def test_external_traffic_policy_goes_with_the_external_ips_it_was_defaulted_for() -> None:
    names = SimpleNamespace(suffix="vc")
    spec = {"type": "ClusterIP", "externalIPs": ["1.2.3.4"], "externalTrafficPolicy": "Cluster", "ports": []}
    service = {"metadata": {"name": "web", "namespace": "shop"}, "spec": spec}
    dropped = services.desired_spec(SimpleNamespace(config=CTX.config, names=names), service, None)
    assert "externalIPs" not in dropped and "externalTrafficPolicy" not in dropped
    kept = services.desired_spec(SimpleNamespace(config=ALLOWED.config, names=names), service, None)
    assert kept["externalIPs"] == ["1.2.3.4"] and kept["externalTrafficPolicy"] == "Cluster"
    node_port = {**service, "spec": {**spec, "type": "NodePort", "externalTrafficPolicy": "Local"}}
    assert (
        services.desired_spec(SimpleNamespace(config=CTX.config, names=names), node_port, None)["externalTrafficPolicy"]
        == "Local"
    )
