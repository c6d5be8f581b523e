"""Container environment of host pods (SPEC §6.1.3): a tenant's `$(SVC_SERVICE_HOST)` and in-cluster clients must work
although the host pod runs without service links in another namespace, and env/downward API references must name the
host copies and the virtual identity."""

from __future__ import annotations

import hashlib
from typing import Any

from translators.pod_env import (
    host_container,
    injected_env,
    kubernetes_env,
    service_link_env,
    translate_downward_items,
    translate_field_path,
)

IP = "10.96.0.1"
KUBERNETES_ENV = {
    "KUBERNETES_SERVICE_HOST": IP,
    "KUBERNETES_SERVICE_PORT": "443",
    "KUBERNETES_SERVICE_PORT_HTTPS": "443",
    "KUBERNETES_PORT": f"tcp://{IP}:443",
    "KUBERNETES_PORT_443_TCP": f"tcp://{IP}:443",
    "KUBERNETES_PORT_443_TCP_PROTO": "tcp",
    "KUBERNETES_PORT_443_TCP_PORT": "443",
    "KUBERNETES_PORT_443_TCP_ADDR": IP,
}


def service(name: str, cluster_ip: str | None, ports: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"ports": ports if ports is not None else [{"port": 80}]}
    if cluster_ip is not None:
        spec["clusterIP"] = cluster_ip
    return {"metadata": {"name": name, "namespace": "team-a"}, "spec": spec}


def rename(name: str) -> str:
    return f"{name}-x-team-a-x-vc"


def names(env: list[dict[str, Any]]) -> list[str]:
    return [var["name"] for var in env]


# ---- KUBERNETES_* and service links ------------------------------------------------------------------------------
def test_kubernetes_env_points_at_the_vcluster_service_on_443() -> None:
    assert kubernetes_env(IP) == KUBERNETES_ENV


def test_kubernetes_env_brackets_an_ipv6_address_in_urls_only() -> None:
    env = kubernetes_env("fd00::1")
    assert env["KUBERNETES_PORT"] == "tcp://[fd00::1]:443"
    assert env["KUBERNETES_PORT_443_TCP"] == "tcp://[fd00::1]:443"
    assert env["KUBERNETES_SERVICE_HOST"] == env["KUBERNETES_PORT_443_TCP_ADDR"] == "fd00::1"


def test_service_with_two_named_ports_gets_the_kubelet_variable_set() -> None:
    ports = [{"name": "http", "port": 80, "protocol": "TCP"}, {"name": "dns-udp", "port": 53, "protocol": "UDP"}]
    assert service_link_env([service("my-api", "10.96.5.5", ports)]) == {
        "MY_API_SERVICE_HOST": "10.96.5.5",
        "MY_API_SERVICE_PORT": "80",
        "MY_API_SERVICE_PORT_HTTP": "80",
        "MY_API_SERVICE_PORT_DNS_UDP": "53",
        "MY_API_PORT": "tcp://10.96.5.5:80",
        "MY_API_PORT_80_TCP": "tcp://10.96.5.5:80",
        "MY_API_PORT_80_TCP_PROTO": "tcp",
        "MY_API_PORT_80_TCP_PORT": "80",
        "MY_API_PORT_80_TCP_ADDR": "10.96.5.5",
        "MY_API_PORT_53_UDP": "udp://10.96.5.5:53",
        "MY_API_PORT_53_UDP_PROTO": "udp",
        "MY_API_PORT_53_UDP_PORT": "53",
        "MY_API_PORT_53_UDP_ADDR": "10.96.5.5",
    }


def test_unnamed_port_without_protocol_defaults_to_tcp_and_has_no_named_port_variable() -> None:
    env = service_link_env([service("db", "10.96.0.7", [{"port": 5432}])])
    assert env["DB_PORT"] == "tcp://10.96.0.7:5432"
    assert env["DB_PORT_5432_TCP_PROTO"] == "tcp"
    assert not [name for name in env if name.startswith("DB_SERVICE_PORT_")]


def test_headless_external_name_and_portless_services_get_no_links() -> None:
    services = [service("headless", "None"), service("external", None), service("bare", "10.96.0.9", ports=[])]
    assert service_link_env(services) == {}


def test_injected_env_lists_sorted_service_links_before_the_sorted_kubernetes_block() -> None:
    env = injected_env(IP, [service("zeta", "10.96.0.2"), service("alpha", "10.96.0.3")])
    link_names = [name for name in names(env) if not name.startswith("KUBERNETES_")]
    assert link_names == sorted(link_names)
    assert link_names[0].startswith("ALPHA_") and link_names[-1].startswith("ZETA_")
    assert names(env)[len(link_names) :] == sorted(KUBERNETES_ENV)
    assert {var["name"]: var["value"] for var in env[len(link_names) :]} == KUBERNETES_ENV


def test_a_virtual_kubernetes_service_never_overrides_the_vcluster_address() -> None:
    env = injected_env(IP, [service("kubernetes", "10.96.0.99", [{"name": "https", "port": 443}])])
    assert {var["name"]: var["value"] for var in env} == KUBERNETES_ENV


def test_without_services_only_the_kubernetes_block_is_injected() -> None:
    assert names(injected_env(IP, [])) == sorted(KUBERNETES_ENV)


# ---- containers --------------------------------------------------------------------------------------------------
def test_injected_env_comes_before_the_containers_own_env_so_var_references_resolve() -> None:
    container = {"name": "app", "env": [{"name": "URL", "value": "http://$(KUBERNETES_SERVICE_HOST)"}]}
    host = host_container(container, injected_env(IP, []), rename, "vc")
    assert names(host["env"]) == [*sorted(KUBERNETES_ENV), "URL"]


def test_names_the_container_defines_are_not_injected() -> None:
    container = {"name": "app", "env": [{"name": "KUBERNETES_SERVICE_HOST", "value": "override"}]}
    host = host_container(container, injected_env(IP, []), rename, "vc")
    assert [var for var in host["env"] if var["name"] == "KUBERNETES_SERVICE_HOST"] == [
        {"name": "KUBERNETES_SERVICE_HOST", "value": "override"}
    ]
    assert host["env"][-1] == {"name": "KUBERNETES_SERVICE_HOST", "value": "override"}


def test_env_value_from_config_map_and_secret_refs_name_the_host_copies() -> None:
    env = [
        {"name": "A", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "a", "optional": True}}},
        {"name": "P", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}},
    ]
    host = host_container({"name": "app", "env": env}, [], rename, "vc")
    assert host["env"] == [
        {
            "name": "A",
            "valueFrom": {"configMapKeyRef": {"name": "settings-x-team-a-x-vc", "key": "a", "optional": True}},
        },
        {"name": "P", "valueFrom": {"secretKeyRef": {"name": "db-x-team-a-x-vc", "key": "password"}}},
    ]


def test_env_from_refs_name_the_host_copies_and_keep_the_prefix() -> None:
    env_from = [{"configMapRef": {"name": "base"}}, {"secretRef": {"name": "keys"}, "prefix": "K_"}]
    host = host_container({"name": "app", "envFrom": env_from}, [], rename, "vc")
    assert host["envFrom"] == [
        {"configMapRef": {"name": "base-x-team-a-x-vc"}},
        {"secretRef": {"name": "keys-x-team-a-x-vc"}, "prefix": "K_"},
    ]


def test_env_field_ref_to_the_pod_name_reads_the_identity_annotation() -> None:
    env = [{"name": "POD", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}}}]
    host = host_container({"name": "app", "env": env}, [], rename, "vc")
    assert host["env"][0]["valueFrom"]["fieldRef"] == {
        "apiVersion": "v1",
        "fieldPath": "metadata.annotations['vcluster.loft.sh/name']",
    }


def test_other_container_fields_including_unknown_ones_are_copied_and_the_input_is_untouched() -> None:
    container = {"name": "app", "image": "nginx", "args": ["$(X)"], "futureField": {"a": 1}, "env": []}
    original = {**container}
    host = host_container(container, injected_env(IP, []), rename, "vc")
    assert (host["args"], host["futureField"], host["image"]) == (["$(X)"], {"a": 1}, "nginx")
    assert container == original


# ---- downward API ------------------------------------------------------------------------------------------------
def test_identity_field_paths_read_the_pod_annotations() -> None:
    assert translate_field_path("metadata.name", "vc") == "metadata.annotations['vcluster.loft.sh/name']"
    assert translate_field_path("metadata.namespace", "vc") == "metadata.annotations['vcluster.loft.sh/namespace']"
    assert translate_field_path("metadata.uid", "vc") == "metadata.annotations['vcluster.loft.sh/uid']"
    assert (
        translate_field_path("spec.serviceAccountName", "vc")
        == "metadata.annotations['vcluster.loft.sh/service-account-name']"
    )


def test_all_labels_read_the_labels_annotation() -> None:
    assert translate_field_path("metadata.labels", "vc") == "metadata.annotations['vcluster.loft.sh/labels']"


def test_a_plain_label_keeps_its_key_and_a_special_label_reads_its_hashed_key() -> None:
    assert translate_field_path("metadata.labels['app']", "vc") == "metadata.labels['app']"
    digest = hashlib.sha256(b"release").hexdigest()[:10]
    assert translate_field_path("metadata.labels['release']", "vc") == (
        f"metadata.labels['vcluster.loft.sh/label-vc-x-{digest}']"
    )


def test_other_field_paths_are_unchanged() -> None:
    for path in ("status.podIP", "spec.nodeName", "metadata.annotations['a']", "status.hostIP"):
        assert translate_field_path(path, "vc") == path


def test_downward_items_rewrite_field_refs_and_keep_resource_field_refs() -> None:
    items = [
        {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}},
        {"path": "cpu", "resourceFieldRef": {"containerName": "app", "resource": "limits.cpu"}},
    ]
    assert translate_downward_items(items, "vc") == [
        {"path": "labels", "fieldRef": {"fieldPath": "metadata.annotations['vcluster.loft.sh/labels']"}},
        {"path": "cpu", "resourceFieldRef": {"containerName": "app", "resource": "limits.cpu"}},
    ]
    assert items[0]["fieldRef"]["fieldPath"] == "metadata.labels"
