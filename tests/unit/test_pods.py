"""Virtual pod -> host pod (SPEC §6.1): the host pod must carry vcluster's exact identity annotations, name only this
tenant's host objects, run under the virtual DNS and API server, and its status must flow up without injected
containers, while readiness gates and mutable fields flow down."""

from __future__ import annotations

import copy
import hashlib
import json
from typing import Any

import pytest

from translators.labels import ns_label_key
from translators.names import NameTranslator
from translators.pods import (
    KNOWN_SPEC_FIELDS,
    PodContext,
    TokenSource,
    conditions_down,
    mutable_patch,
    pod_metadata,
    status_up,
    token_sources,
    translate_pod,
)

Obj = dict[str, Any]
NAMES = NameTranslator("vc", "host-ns")
IP = "10.96.0.1"
DNS_IP = "10.96.0.10"
MANAGED = {"vcluster.loft.sh/managed-by": "vc"}
TENANT = {**MANAGED, "vcluster.loft.sh/namespace": "team-a"}


def vpod(spec: Obj | None = None, status: Obj | None = None, **metadata: Any) -> Obj:
    meta = {"name": "web", "namespace": "team-a", "uid": "uid-1", **metadata}
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec or {"containers": [container()]}}
    return pod | ({"status": status} if status is not None else {})


def container(name: str = "app", **fields: Any) -> Obj:
    return {"name": name, "image": "nginx:1.27", **fields}


def context(**fields: Any) -> PodContext:
    return PodContext(NAMES, **{"vcluster_ip": IP, "dns_ip": DNS_IP, **fields})


def translated(pod: Obj, **ctx_fields: Any) -> Obj:
    return translate_pod(pod, context(**ctx_fields))[0]


def host_spec(spec: Obj, **ctx_fields: Any) -> Obj:
    return translated(vpod(spec), **ctx_fields)["spec"]


def warnings_for(spec: Obj, **ctx_fields: Any) -> list[str]:
    return translate_pod(vpod(spec), context(**ctx_fields))[1]


def annotations(pod: Obj, **ctx_fields: Any) -> dict[str, str]:
    return translated(pod, **ctx_fields)["metadata"]["annotations"]


def sha10(s: str) -> str:
    return hashlib.sha256(s.encode()).hexdigest()[:10]


def h(name: str) -> str:
    return f"{name}-x-team-a-x-vc"


def rs_owner(**fields: Any) -> Obj:
    return {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-5d8", "uid": "rs-uid", **fields}


# ---- object and metadata -----------------------------------------------------------------------------------------
def test_host_pod_is_a_v1_pod_in_the_target_namespace_without_status() -> None:
    pod = vpod(labels={"app": "web"}, status={"phase": "Pending"})
    host = translated(pod)
    assert (host["apiVersion"], host["kind"]) == ("v1", "Pod")
    assert (host["metadata"]["name"], host["metadata"]["namespace"]) == ("web-x-team-a-x-vc", "host-ns")
    assert host["metadata"]["labels"] == {"app": "web", **TENANT}
    assert "status" not in host


def test_host_annotations_are_exactly_the_identity_owner_and_marker_keys() -> None:
    owner = rs_owner(controller=True)
    pod = vpod(
        {"serviceAccountName": "builder", "containers": [container()]},
        labels={"app": "web"},
        annotations={"team": "x"},
        ownerReferences=[owner],
    )
    assert annotations(pod) == {
        "team": "x",
        "vcluster.loft.sh/name": "web",
        "vcluster.loft.sh/namespace": "team-a",
        "vcluster.loft.sh/uid": "uid-1",
        "vcluster.loft.sh/service-account-name": "builder",
        "vcluster.loft.sh/labels": 'app="web"',
        "vcluster.loft.sh/owner-references": json.dumps([owner], separators=(",", ":")),
        "vcluster.loft.sh/owner-set-kind": "ReplicaSet",
        "cluster-autoscaler.kubernetes.io/safe-to-evict": "true",
        "vcluster.loft.sh/object-name": "web",
        "vcluster.loft.sh/object-namespace": "team-a",
        "vcluster.loft.sh/object-uid": "uid-1",
        "vcluster.loft.sh/object-kind": "/v1, Kind=Pod",
        "vcluster.loft.sh/object-host-name": "web-x-team-a-x-vc",
        "vcluster.loft.sh/object-host-namespace": "host-ns",
        "vcluster.loft.sh/managed-annotations": "\n".join(
            [
                "cluster-autoscaler.kubernetes.io/safe-to-evict",
                "team",
                "vcluster.loft.sh/labels",
                "vcluster.loft.sh/name",
                "vcluster.loft.sh/namespace",
                "vcluster.loft.sh/owner-references",
                "vcluster.loft.sh/owner-set-kind",
                "vcluster.loft.sh/service-account-name",
                "vcluster.loft.sh/uid",
            ]
        ),
        "vcluster.loft.sh/managed-labels": "app",
    }


def test_labels_annotation_is_sorted_key_equals_json_quoted_value_lines() -> None:
    pod = vpod(labels={"tier": "front", "app": 'say "hi"', "app.kubernetes.io/name": "web"})
    assert annotations(pod)["vcluster.loft.sh/labels"] == (
        'app.kubernetes.io/name="web"\napp="say \\"hi\\""\ntier="front"'
    )


def test_labels_annotation_is_empty_without_labels() -> None:
    assert annotations(vpod())["vcluster.loft.sh/labels"] == ""


def test_owner_references_annotation_is_the_compact_json_array_of_virtual_owners() -> None:
    owner = rs_owner(controller=True, blockOwnerDeletion=True)
    value = annotations(vpod(ownerReferences=[owner]))["vcluster.loft.sh/owner-references"]
    assert value == (
        '[{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"web-5d8","uid":"rs-uid",'
        '"controller":true,"blockOwnerDeletion":true}]'
    )
    assert json.loads(value) == [owner]


def test_pods_without_owners_have_no_owner_annotations_and_may_not_be_evicted() -> None:
    result = annotations(vpod())
    assert "vcluster.loft.sh/owner-references" not in result
    assert "vcluster.loft.sh/owner-set-kind" not in result
    assert result["cluster-autoscaler.kubernetes.io/safe-to-evict"] == "false"
    assert "cluster-autoscaler.kubernetes.io/daemonset-pod" not in result


def test_owner_set_kind_is_the_first_apps_v1_set_owner_and_a_controller_makes_it_evictable() -> None:
    owners = [
        {"apiVersion": "batch/v1", "kind": "Job", "name": "j", "uid": "j", "controller": True},
        {"apiVersion": "example.com/v1", "kind": "ReplicaSet", "name": "x", "uid": "x"},
        {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "db", "uid": "s"},
        rs_owner(),
    ]
    result = annotations(vpod(ownerReferences=owners))
    assert result["vcluster.loft.sh/owner-set-kind"] == "StatefulSet"
    assert result["cluster-autoscaler.kubernetes.io/safe-to-evict"] == "true"


def test_a_batch_job_owner_is_not_an_owner_set_kind() -> None:
    owners = [{"apiVersion": "batch/v1", "kind": "Job", "name": "j", "uid": "j", "controller": True}]
    assert "vcluster.loft.sh/owner-set-kind" not in annotations(vpod(ownerReferences=owners))


def test_daemonset_pods_are_marked_for_the_cluster_autoscaler() -> None:
    owner = {"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "agent", "uid": "d", "controller": True}
    result = annotations(vpod(ownerReferences=[owner]))
    assert result["vcluster.loft.sh/owner-set-kind"] == "DaemonSet"
    assert result["cluster-autoscaler.kubernetes.io/daemonset-pod"] == "true"


def test_safe_to_evict_set_in_virtual_is_kept() -> None:
    pod = vpod(ownerReferences=[rs_owner(controller=True)])
    pod["metadata"]["annotations"] = {"cluster-autoscaler.kubernetes.io/safe-to-evict": "false"}
    assert annotations(pod)["cluster-autoscaler.kubernetes.io/safe-to-evict"] == "false"


def test_tenant_cannot_spoof_identity_annotations() -> None:
    pod = vpod()
    pod["metadata"]["annotations"] = {
        "vcluster.loft.sh/owner-set-kind": "DaemonSet",
        "vcluster.loft.sh/name": "other",
        "team": "x",
    }
    result = annotations(pod)
    assert "vcluster.loft.sh/owner-set-kind" not in result
    assert result["vcluster.loft.sh/name"] == "web"
    assert result["team"] == "x"


def test_namespace_labels_become_ns_label_keys() -> None:
    labels = translated(vpod(), namespace_labels={"team": "a"})["metadata"]["labels"]
    assert labels == {f"vcluster.loft.sh/ns-label-vc-x-{sha10('team')}": "a", **TENANT}
    assert ns_label_key("team", "vc") in labels


def test_owner_annotations_go_away_on_update_once_the_owner_is_gone() -> None:
    owned = vpod(ownerReferences=[rs_owner(controller=True)])
    host = translated(owned)
    metadata = pod_metadata(vpod(), host, context())
    assert "vcluster.loft.sh/owner-set-kind" not in metadata["annotations"]
    assert "vcluster.loft.sh/owner-references" not in metadata["annotations"]
    assert metadata["annotations"]["cluster-autoscaler.kubernetes.io/safe-to-evict"] == "false"


# ---- service account, priority -----------------------------------------------------------------------------------
def test_service_account_is_left_to_the_host_default_and_token_mount_and_links_are_off() -> None:
    spec = host_spec({"serviceAccountName": "builder", "serviceAccount": "builder", "containers": [container()]})
    assert "serviceAccountName" not in spec and "serviceAccount" not in spec
    assert spec["automountServiceAccountToken"] is False
    assert spec["enableServiceLinks"] is False


def test_service_account_flag_sets_the_host_service_account() -> None:
    spec = host_spec({"serviceAccountName": "builder", "containers": [container()]}, service_account="workload")
    assert spec["serviceAccountName"] == "workload"


def test_synced_service_accounts_are_used_by_their_host_name_even_with_the_flag() -> None:
    spec = host_spec(
        {"serviceAccountName": "builder", "containers": [container()]},
        service_account="workload",
        sync_serviceaccounts=True,
    )
    assert spec["serviceAccountName"] == "builder-x-team-a-x-vc"


def test_priority_class_is_cleared_unless_priority_classes_are_synced() -> None:
    spec = {
        "priorityClassName": "high",
        "priority": 1000,
        "preemptionPolicy": "Never",
        "overhead": {"cpu": "250m"},
        "containers": [container()],
    }
    cleared = host_spec(spec)
    assert not {"priorityClassName", "priority", "preemptionPolicy", "overhead"} & cleared.keys()
    synced = host_spec(spec, sync_priorityclasses=True)
    assert synced["priorityClassName"] == "vcluster-high-x-host-ns-x-vc"
    assert not {"priority", "preemptionPolicy", "overhead"} & synced.keys()


# ---- containers --------------------------------------------------------------------------------------------------
SERVICE = {
    "metadata": {"name": "api", "namespace": "team-a"},
    "spec": {"clusterIP": "10.96.3.3", "ports": [{"name": "http", "port": 80}, {"name": "grpc", "port": 9090}]},
}


def env_names(host_container: Obj) -> list[str]:
    return [var["name"] for var in host_container["env"]]


def test_containers_and_init_containers_get_service_links_then_kubernetes_vars_then_their_own_env() -> None:
    own = [{"name": "TARGET", "value": "$(API_SERVICE_HOST):$(API_SERVICE_PORT_GRPC)"}]
    spec = host_spec(
        {"initContainers": [container("init", env=own)], "containers": [container(env=own)]}, services=(SERVICE,)
    )
    for host_container in (spec["initContainers"][0], spec["containers"][0]):
        names = env_names(host_container)
        assert names[-1] == "TARGET"
        assert names.index("API_SERVICE_HOST") < names.index("KUBERNETES_SERVICE_HOST")
        env = {var["name"]: var.get("value") for var in host_container["env"]}
        assert env["API_SERVICE_HOST"] == "10.96.3.3"
        assert env["API_SERVICE_PORT"] == "80"
        assert env["API_SERVICE_PORT_GRPC"] == "9090"
        assert env["API_PORT_9090_TCP"] == "tcp://10.96.3.3:9090"
        assert env["KUBERNETES_SERVICE_HOST"] == IP
        assert env["KUBERNETES_PORT"] == f"tcp://{IP}:443"


def test_disabled_service_links_leave_only_the_kubernetes_vars() -> None:
    spec = host_spec({"enableServiceLinks": False, "containers": [container()]}, services=(SERVICE,))
    assert all(name.startswith("KUBERNETES_") for name in env_names(spec["containers"][0]))


def test_ephemeral_containers_are_dropped_with_a_warning() -> None:
    spec = {"containers": [container()], "ephemeralContainers": [{"name": "debug", "image": "busybox"}]}
    assert "ephemeralContainers" not in host_spec(spec)
    assert warnings_for(spec) == ["ephemeral containers are not synced"]


def test_env_refs_and_field_refs_are_translated_in_init_containers_too() -> None:
    env = [
        {"name": "S", "valueFrom": {"secretKeyRef": {"name": "db", "key": "p"}}},
        {"name": "NS", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
    ]
    init = host_spec({"initContainers": [container("init", env=env)], "containers": [container()]})["initContainers"][0]
    assert init["env"][-2:] == [
        {"name": "S", "valueFrom": {"secretKeyRef": {"name": h("db"), "key": "p"}}},
        {"name": "NS", "valueFrom": {"fieldRef": {"fieldPath": "metadata.annotations['vcluster.loft.sh/namespace']"}}},
    ]


def test_images_are_mapped_exactly_in_containers_and_init_containers() -> None:
    spec = {
        "initContainers": [container("init", image="busybox")],
        "containers": [container(image="nginx:1.27"), container("other", image="nginx")],
    }
    result = host_spec(spec, translate_image={"busybox": "mirror/busybox", "nginx": "mirror/nginx"})
    assert result["initContainers"][0]["image"] == "mirror/busybox"
    assert [c["image"] for c in result["containers"]] == ["nginx:1.27", "mirror/nginx"]


def test_image_pull_secrets_name_the_host_copies() -> None:
    spec = host_spec({"imagePullSecrets": [{"name": "registry"}], "containers": [container()]})
    assert spec["imagePullSecrets"] == [{"name": h("registry")}]


# ---- DNS, hostname, aliases --------------------------------------------------------------------------------------
def test_default_dns_policy_resolves_through_the_virtual_dns() -> None:
    spec = host_spec({"containers": [container()]}, cluster_domain="corp.local")
    assert spec["dnsPolicy"] == "None"
    assert spec["dnsConfig"] == {
        "nameservers": [DNS_IP],
        "searches": ["team-a.svc.corp.local", "svc.corp.local", "corp.local"],
        "options": [{"name": "ndots", "value": "5"}],
    }


def test_default_dns_policy_is_untouched() -> None:
    spec = host_spec({"dnsPolicy": "Default", "containers": [container()]})
    assert spec["dnsPolicy"] == "Default" and "dnsConfig" not in spec


def test_host_aliases_reach_the_virtual_api_server_as_kubernetes() -> None:
    spec = host_spec({"containers": [container()]})
    assert spec["hostAliases"] == [
        {"ip": IP, "hostnames": ["kubernetes", "kubernetes.default", "kubernetes.default.svc"]}
    ]


def test_hostname_defaults_to_the_virtual_name_and_subdomain_is_cleared() -> None:
    assert host_spec({"subdomain": "db", "containers": [container()]})["hostname"] == "web"
    spec = host_spec({"hostname": "db-0", "subdomain": "db", "containers": [container()]})
    assert spec["hostname"] == "db-0" and "subdomain" not in spec


# ---- volumes -----------------------------------------------------------------------------------------------------
def volumes(*entries: Obj) -> list[Obj]:
    return host_spec({"containers": [container()], "volumes": list(entries)})["volumes"]


def test_config_map_secret_and_claim_volumes_name_the_host_copies() -> None:
    assert volumes(
        {"name": "a", "configMap": {"name": "settings", "defaultMode": 420}},
        {"name": "b", "secret": {"secretName": "tls"}},
        {"name": "c", "persistentVolumeClaim": {"claimName": "data", "readOnly": True}},
    ) == [
        {"name": "a", "configMap": {"name": h("settings"), "defaultMode": 420}},
        {"name": "b", "secret": {"secretName": h("tls")}},
        {"name": "c", "persistentVolumeClaim": {"claimName": h("data"), "readOnly": True}},
    ]


def test_ephemeral_volume_becomes_a_claim_on_the_host_copy_of_its_generated_pvc() -> None:
    ephemeral = {"volumeClaimTemplate": {"spec": {"accessModes": ["ReadWriteOnce"]}}}
    assert volumes({"name": "scratch", "ephemeral": ephemeral}) == [
        {"name": "scratch", "persistentVolumeClaim": {"claimName": "web-scratch-x-team-a-x-vc"}}
    ]


@pytest.mark.parametrize(
    ("plugin", "ref"),
    [
        ("iscsi", "secretRef"),
        ("rbd", "secretRef"),
        ("flexVolume", "secretRef"),
        ("cinder", "secretRef"),
        ("cephfs", "secretRef"),
        ("scaleIO", "secretRef"),
        ("storageos", "secretRef"),
        ("csi", "nodePublishSecretRef"),
    ],
)
def test_volume_plugin_secret_refs_name_the_host_copies(plugin: str, ref: str) -> None:
    assert volumes({"name": "v", plugin: {ref: {"name": "creds"}, "readOnly": True}}) == [
        {"name": "v", plugin: {ref: {"name": h("creds")}, "readOnly": True}}
    ]


def test_azure_file_secret_and_glusterfs_endpoints_name_the_host_copies() -> None:
    assert volumes(
        {"name": "a", "azureFile": {"secretName": "az", "shareName": "s"}},
        {"name": "g", "glusterfs": {"endpointsName": "gluster", "path": "vol"}},
    ) == [
        {"name": "a", "azureFile": {"secretName": h("az"), "shareName": "s"}},
        {"name": "g", "glusterfs": {"endpointsName": h("gluster"), "path": "vol"}},
    ]


def test_downward_api_volume_items_read_the_virtual_identity() -> None:
    items = [
        {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}},
        {"path": "name", "fieldRef": {"fieldPath": "metadata.name"}},
        {"path": "release", "fieldRef": {"fieldPath": "metadata.labels['release']"}},
    ]
    assert volumes({"name": "info", "downwardAPI": {"items": items}})[0]["downwardAPI"]["items"] == [
        {"path": "labels", "fieldRef": {"fieldPath": "metadata.annotations['vcluster.loft.sh/labels']"}},
        {"path": "name", "fieldRef": {"fieldPath": "metadata.annotations['vcluster.loft.sh/name']"}},
        {
            "path": "release",
            "fieldRef": {"fieldPath": f"metadata.labels['vcluster.loft.sh/label-vc-x-{sha10('release')}']"},
        },
    ]


def kube_api_access_volume() -> Obj:
    """The volume ServiceAccount admission adds, with the token as the third source."""
    return {
        "name": "kube-api-access-x7k2p",
        "projected": {
            "defaultMode": 420,
            "sources": [
                {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"fieldPath": "metadata.namespace"}}]}},
                {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                {"secret": {"name": "extra"}},
            ],
        },
    }


def test_projected_sources_name_host_copies_and_the_token_reads_the_token_secret() -> None:
    assert volumes(kube_api_access_volume())[0]["projected"] == {
        "defaultMode": 420,
        "sources": [
            {"configMap": {"name": h("kube-root-ca.crt"), "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
            {
                "downwardAPI": {
                    "items": [
                        {
                            "path": "namespace",
                            "fieldRef": {"fieldPath": "metadata.annotations['vcluster.loft.sh/namespace']"},
                        }
                    ]
                }
            },
            {
                "secret": {
                    "name": "web-sa-token-x-team-a-x-vc",
                    "items": [{"key": "kube-api-access-x7k2p.2", "path": "token"}],
                }
            },
            {"secret": {"name": h("extra")}},
        ],
    }


# ---- tokens ------------------------------------------------------------------------------------------------------
def test_token_sources_apply_audience_and_expiration_defaults() -> None:
    pod = vpod({"containers": [container()], "volumes": [kube_api_access_volume()]})
    assert token_sources(pod) == [
        TokenSource(
            key="kube-api-access-x7k2p.2",
            volume="kube-api-access-x7k2p",
            index=2,
            audiences=[
                "https://kubernetes.default.svc.cluster.local",
                "https://kubernetes.default.svc",
                "https://kubernetes.default",
            ],
            expiration_seconds=3607,
            path="token",
        )
    ]


def test_token_sources_keep_a_custom_audience_and_expiration_and_use_the_cluster_domain() -> None:
    sources = [
        {"serviceAccountToken": {"audience": "vault", "expirationSeconds": 600, "path": "vault-token"}},
        {"serviceAccountToken": {"path": "token"}},
    ]
    pod = vpod({"containers": [container()], "volumes": [{"name": "t", "projected": {"sources": sources}}]})
    first, second = token_sources(pod, "corp.local")
    assert (first.key, first.audiences, first.expiration_seconds, first.path) == ("t.0", ["vault"], 600, "vault-token")
    assert (second.key, second.expiration_seconds) == ("t.1", 3607)
    assert second.audiences[0] == "https://kubernetes.default.svc.corp.local"


def test_pods_without_projected_tokens_have_no_token_sources() -> None:
    assert token_sources(vpod({"containers": [container()], "volumes": [{"name": "e", "emptyDir": {}}]})) == []


# ---- scheduling --------------------------------------------------------------------------------------------------
def affinity_term(**fields: Any) -> Obj:
    return {"labelSelector": {"matchLabels": {"app": "db"}}, "topologyKey": "kubernetes.io/hostname", **fields}


def host_affinity(term: Obj, kind: str = "podAffinity") -> tuple[Obj, list[str]]:
    spec = {"containers": [container()], "affinity": {kind: {"requiredDuringSchedulingIgnoredDuringExecution": [term]}}}
    host, warnings = translate_pod(vpod(spec), context())
    return host["spec"]["affinity"][kind]["requiredDuringSchedulingIgnoredDuringExecution"][0], warnings


def test_affinity_term_without_namespaces_selects_the_pods_namespace() -> None:
    term, warnings = host_affinity(affinity_term())
    assert term == {
        "labelSelector": {"matchLabels": {"app": "db", **TENANT}},
        "topologyKey": "kubernetes.io/hostname",
    }
    assert warnings == []


def test_anti_affinity_term_with_namespaces_selects_those_virtual_namespaces() -> None:
    term, _ = host_affinity(affinity_term(namespaces=["a", "b"]), "podAntiAffinity")
    assert term["labelSelector"] == {
        "matchLabels": {"app": "db", **MANAGED},
        "matchExpressions": [{"key": "vcluster.loft.sh/namespace", "operator": "In", "values": ["a", "b"]}],
    }
    assert "namespaces" not in term


def test_affinity_term_with_namespace_selector_selects_by_ns_label_keys() -> None:
    selector = {"matchLabels": {"team": "x"}, "matchExpressions": [{"key": "env", "operator": "Exists"}]}
    term, _ = host_affinity(affinity_term(namespaceSelector=selector))
    assert term["labelSelector"] == {
        "matchLabels": {"app": "db", **MANAGED, ns_label_key("team", "vc"): "x"},
        "matchExpressions": [{"key": ns_label_key("env", "vc"), "operator": "Exists"}],
    }
    assert "namespaceSelector" not in term


def test_empty_namespace_selector_selects_every_pod_of_the_tenant() -> None:
    term, _ = host_affinity(affinity_term(namespaceSelector={}))
    assert term["labelSelector"] == {"matchLabels": {"app": "db", **MANAGED}}


def test_affinity_term_with_namespaces_and_namespace_selector_warns_and_uses_namespaces() -> None:
    term, warnings = host_affinity(affinity_term(namespaces=["a"], namespaceSelector={"matchLabels": {"t": "x"}}))
    assert term["labelSelector"]["matchExpressions"] == [
        {"key": "vcluster.loft.sh/namespace", "operator": "In", "values": ["a"]}
    ]
    assert warnings == ["pod affinity term with both namespaces and namespaceSelector: namespaceSelector ignored"]


def test_affinity_term_without_label_selector_still_selects_nothing() -> None:
    term, _ = host_affinity({"topologyKey": "zone", "namespaces": ["a"]})
    assert term == {"topologyKey": "zone"}


def test_preferred_terms_and_match_label_keys_are_translated() -> None:
    weighted = {"weight": 10, "podAffinityTerm": affinity_term(matchLabelKeys=["release", "app"])}
    spec = {
        "containers": [container()],
        "affinity": {"podAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [weighted]}},
    }
    [host] = host_spec(spec)["affinity"]["podAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
    assert host["weight"] == 10
    assert host["podAffinityTerm"]["labelSelector"] == {"matchLabels": {"app": "db", **TENANT}}
    assert host["podAffinityTerm"]["matchLabelKeys"] == [f"vcluster.loft.sh/label-vc-x-{sha10('release')}", "app"]


def test_node_affinity_is_copied() -> None:
    node_affinity = {
        "requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [{"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]}]
        }
    }
    spec = host_spec({"containers": [container()], "affinity": {"nodeAffinity": node_affinity}})
    assert spec["affinity"] == {"nodeAffinity": node_affinity}


def test_topology_spread_selectors_are_confined_to_the_tenant() -> None:
    constraint = {
        "maxSkew": 1,
        "topologyKey": "zone",
        "whenUnsatisfiable": "DoNotSchedule",
        "labelSelector": {"matchExpressions": [{"key": "release", "operator": "In", "values": ["a"]}]},
        "matchLabelKeys": ["pod-template-hash"],
    }
    [host] = host_spec({"containers": [container()], "topologySpreadConstraints": [constraint]})[
        "topologySpreadConstraints"
    ]
    assert host == {
        **constraint,
        "labelSelector": {
            "matchLabels": TENANT,
            "matchExpressions": [
                {"key": f"vcluster.loft.sh/label-vc-x-{sha10('release')}", "operator": "In", "values": ["a"]}
            ],
        },
    }


def test_node_selector_is_copied_plus_the_enforced_one() -> None:
    spec = {"containers": [container()], "nodeSelector": {"disk": "ssd", "pool": "mine"}}
    assert host_spec(spec, node_selector={"pool": "a"})["nodeSelector"] == {"disk": "ssd", "pool": "a"}


def test_node_selector_is_not_enforced_for_preset_node_names_or_when_disabled() -> None:
    spec = {"containers": [container()], "nodeSelector": {"disk": "ssd"}}
    assert host_spec(spec, node_selector={"pool": "a"}, enforce_node_selector=False)["nodeSelector"] == {"disk": "ssd"}
    preset = host_spec({**spec, "nodeName": "n1"}, node_selector={"pool": "a"})
    assert (preset["nodeSelector"], preset["nodeName"]) == ({"disk": "ssd"}, "n1")


def test_tolerations_are_copied_plus_every_enforced_one_once() -> None:
    own = {"key": "gpu", "operator": "Exists", "effect": "NoSchedule"}
    enforced = ({"key": "tenant", "operator": "Equal", "value": "a", "effect": "NoSchedule"}, {"operator": "Exists"})
    spec = host_spec({"containers": [container()], "tolerations": [own, enforced[1]]}, enforce_tolerations=enforced)
    assert spec["tolerations"] == [own, enforced[1], enforced[0]]


# ---- other fields ------------------------------------------------------------------------------------------------
def test_other_known_fields_are_copied_as_is() -> None:
    copied = {
        "restartPolicy": "OnFailure",
        "terminationGracePeriodSeconds": 5,
        "activeDeadlineSeconds": 60,
        "securityContext": {"runAsNonRoot": True},
        "hostNetwork": False,
        "shareProcessNamespace": True,
        "nodeName": "n1",
        "schedulerName": "custom",
        "runtimeClassName": "gvisor",
        "readinessGates": [{"conditionType": "example.com/ready"}],
        "schedulingGates": [{"name": "wait"}],
        "os": {"name": "linux"},
        "hostUsers": False,
        "setHostnameAsFQDN": True,
        "resources": {"limits": {"cpu": "1"}},
    }
    spec = host_spec({"containers": [container()], **copied})
    assert {key: spec[key] for key in copied} == copied


def test_unknown_top_level_fields_are_dropped_with_one_warning_listing_them() -> None:
    spec = {"containers": [container()], "zFuture": 1, "aFuture": {"x": 1}}
    host = host_spec(spec)
    assert "zFuture" not in host and "aFuture" not in host
    assert warnings_for(spec) == ["dropped unknown pod spec fields: aFuture, zFuture"]


def test_known_spec_fields_are_the_v1_36_pod_spec() -> None:
    assert len(KNOWN_SPEC_FIELDS) == 42
    assert {"hostnameOverride", "schedulingGroup", "resources", "resourceClaims"} <= KNOWN_SPEC_FIELDS


def test_the_virtual_pod_is_not_modified() -> None:
    pod = vpod({"containers": [container(env=[{"name": "A", "value": "1"}])], "volumes": [kube_api_access_volume()]})
    original = copy.deepcopy(pod)
    translate_pod(pod, context(services=(SERVICE,), enforce_tolerations=({"operator": "Exists"},)))
    assert pod == original


# ---- status up ---------------------------------------------------------------------------------------------------
def condition(kind: str, status: str = "True", **fields: Any) -> Obj:
    return {"type": kind, "status": status, "lastTransitionTime": "2024-01-01T00:00:00Z", **fields}


def test_status_up_drops_statuses_of_injected_containers() -> None:
    virtual = vpod({"initContainers": [container("init")], "containers": [container()]})
    host = {
        "status": {
            "phase": "Running",
            "podIP": "10.1.0.5",
            "containerStatuses": [{"name": "app", "ready": True}, {"name": "istio-proxy", "ready": True}],
            "initContainerStatuses": [{"name": "istio-init"}, {"name": "init"}],
            "ephemeralContainerStatuses": [{"name": "debugger"}],
        }
    }
    assert status_up(virtual, host) == {
        "phase": "Running",
        "podIP": "10.1.0.5",
        "containerStatuses": [{"name": "app", "ready": True}],
        "initContainerStatuses": [{"name": "init"}],
        "ephemeralContainerStatuses": [],
    }


def test_status_up_takes_host_owned_conditions_from_host_and_keeps_virtual_ones() -> None:
    gate = condition("example.com/ready")
    virtual = vpod(status={"conditions": [condition("Ready", "False"), gate]})
    host_conditions = [condition("Ready"), condition("PodScheduled"), condition("host.example/custom")]
    status = status_up(virtual, {"status": {"conditions": host_conditions}})
    assert status["conditions"] == [condition("Ready"), condition("PodScheduled"), gate]


def test_status_up_has_no_conditions_when_neither_side_has_any() -> None:
    assert status_up(vpod(), {"status": {"phase": "Pending"}}) == {"phase": "Pending"}


# ---- conditions down ---------------------------------------------------------------------------------------------
def test_a_readiness_gate_condition_set_in_virtual_is_appended_to_host_conditions() -> None:
    gate = condition("example.com/ready")
    virtual = vpod(status={"conditions": [condition("Ready", "False"), gate]})
    host = {"status": {"conditions": [condition("Ready", "False"), condition("host.example/custom")]}}
    assert conditions_down(virtual, host) == [condition("Ready", "False"), condition("host.example/custom"), gate]


def test_a_changed_virtual_condition_replaces_the_host_one_in_place() -> None:
    virtual = vpod(status={"conditions": [condition("example.com/ready", "True")]})
    host = {"status": {"conditions": [condition("example.com/ready", "False"), condition("Ready", "False")]}}
    assert conditions_down(virtual, host) == [condition("example.com/ready", "True"), condition("Ready", "False")]


def test_no_conditions_go_down_when_host_has_them_or_only_host_owned_types_differ() -> None:
    virtual = vpod(status={"conditions": [condition("example.com/ready", lastProbeTime=None), condition("Ready")]})
    host = {"status": {"conditions": [condition("example.com/ready"), condition("Ready", "False")]}}
    assert conditions_down(virtual, host) is None
    assert conditions_down(vpod(), {"status": {}}) is None


# ---- mutable patch -----------------------------------------------------------------------------------------------
NOT_READY = {
    "key": "node.kubernetes.io/not-ready",
    "operator": "Exists",
    "effect": "NoExecute",
    "tolerationSeconds": 300,
}


def synced_pair(**virtual_spec: Any) -> tuple[Obj, Obj]:
    """A virtual pod and a host pod as the syncer and host admission left them (an injected sidecar, a toleration)."""
    virtual = vpod({"containers": [container()], "tolerations": [NOT_READY], **virtual_spec})
    host = {
        "spec": {
            "containers": [container(), container("istio-proxy", image="istio/proxyv2")],
            "tolerations": [NOT_READY, {"key": "host-only", "operator": "Exists"}],
            "schedulingGates": [{"name": "a"}, {"name": "b"}],
        }
    }
    return virtual, host


def test_no_patch_when_mutable_fields_are_in_sync() -> None:
    virtual, host = synced_pair(schedulingGates=[{"name": "a"}, {"name": "b"}])
    assert mutable_patch(virtual, host, context()) is None


def test_image_change_added_toleration_and_removed_gate_are_patched() -> None:
    added = {"key": "dedicated", "operator": "Equal", "value": "x", "effect": "NoSchedule"}
    virtual, host = synced_pair(schedulingGates=[{"name": "b"}], tolerations=[NOT_READY, added])
    virtual["spec"]["containers"][0]["image"] = "nginx:1.28"
    assert mutable_patch(virtual, host, context()) == {
        "spec": {
            "containers": [{"name": "app", "image": "nginx:1.28"}],
            "schedulingGates": [{"$patch": "replace"}, {"name": "b"}],
            "tolerations": [NOT_READY, {"key": "host-only", "operator": "Exists"}, added],
        }
    }


def test_removing_every_gate_replaces_the_list_with_an_empty_one() -> None:
    virtual, host = synced_pair()
    assert mutable_patch(virtual, host, context()) == {"spec": {"schedulingGates": [{"$patch": "replace"}]}}


def test_image_map_applies_and_init_container_images_are_patched() -> None:
    virtual, host = synced_pair(schedulingGates=[{"name": "a"}, {"name": "b"}])
    virtual["spec"]["initContainers"] = [container("init", image="busybox")]
    host["spec"]["initContainers"] = [container("init", image="busybox")]
    host["spec"]["containers"][0]["image"] = "mirror/nginx"
    ctx = context(translate_image={"nginx:1.27": "mirror/nginx", "busybox": "mirror/busybox"})
    assert mutable_patch(virtual, host, ctx) == {
        "spec": {"initContainers": [{"name": "init", "image": "mirror/busybox"}]}
    }


def test_active_deadline_and_missing_enforced_tolerations_are_patched() -> None:
    virtual, host = synced_pair(schedulingGates=[{"name": "a"}, {"name": "b"}], activeDeadlineSeconds=30)
    enforced = {"key": "tenant", "operator": "Exists"}
    patch = mutable_patch(virtual, host, context(enforce_tolerations=(enforced,)))
    assert patch == {
        "spec": {"activeDeadlineSeconds": 30, "tolerations": [*host["spec"]["tolerations"], enforced]},
    }
