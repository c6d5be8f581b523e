"""The optional to-host kinds (SPEC §5, §6.7): exact host bodies for NetworkPolicies, PodDisruptionBudgets, Ingresses,
ServiceAccounts, PriorityClasses and StorageClasses, checking that every tenant-supplied name and selector is confined
to this tenant (§8.4) and that host-global or host-protected fields are never taken from the tenant."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest

from syncer.cache import Store
from syncer.kinds import OPTIONAL_KINDS
from translators import (
    ingresses,
    networkpolicies,
    poddisruptionbudgets,
    priorityclasses,
    serviceaccounts,
    storageclasses,
)
from translators.labels import ns_label_key, translate_label_key
from translators.markers import MANAGED_BY, NAMESPACE_LABEL, OBJECT_NAME
from translators.names import NameTranslator
from vocab.diff import owned_patch
from vocab.resources import INGRESSES

Obj = dict[str, Any]
NAMES = NameTranslator("vc", "host-ns")
MODULES = (networkpolicies, poddisruptionbudgets, ingresses, serviceaccounts, priorityclasses, storageclasses)


def context(host_objects: tuple[Obj, ...] = ()) -> SimpleNamespace:
    host = Store("host", "host")
    for obj in host_objects:
        host.upsert(obj)
    return SimpleNamespace(
        config=SimpleNamespace(allow_external_ips=False, sync=frozenset()),
        names=NAMES,
        virtual=lambda res: Store("virtual", "virtual"),
        host=lambda res: {INGRESSES: host}[res],  # the only host cache a desired() may read
    )


def obj(name: str, namespace: str | None = "shop", annotations: dict[str, str] | None = None, **fields: Any) -> Obj:
    meta = {"name": name, "uid": "u-1", **({"namespace": namespace} if namespace else {})}
    return {"metadata": {**meta, **({"annotations": annotations} if annotations else {})}, **fields}


def tenant(namespace: str | None = "shop") -> dict[str, str]:
    return {MANAGED_BY: "vc", **({NAMESPACE_LABEL: namespace} if namespace else {})}


def test_every_module_is_an_optional_kind_on_its_own_resource() -> None:
    assert {module.KIND.name for module in MODULES} <= OPTIONAL_KINDS
    assert [module.KIND.resource.namespaced for module in MODULES] == [True, True, True, True, False, False]


# ---- NetworkPolicies ---------------------------------------------------------------------------------------------
def test_network_policy_folds_a_namespace_selector_into_the_peer_pod_selector() -> None:
    peer = {
        "namespaceSelector": {"matchLabels": {"team": "a"}, "matchExpressions": [{"key": "env", "operator": "Exists"}]},
        "podSelector": {"matchLabels": {"app": "db", "release": "x"}},
    }
    policy = obj("db", spec={"podSelector": {"matchLabels": {"app": "api"}}, "ingress": [{"from": [peer]}]})
    assert networkpolicies.KIND.desired(context(), policy) == {
        "spec": {
            "podSelector": {"matchLabels": {"app": "api", **tenant()}},
            "ingress": [
                {
                    "from": [
                        {
                            "podSelector": {
                                "matchLabels": {
                                    ns_label_key("team", "vc"): "a",
                                    "app": "db",
                                    translate_label_key("release", "vc"): "x",
                                    MANAGED_BY: "vc",
                                },
                                "matchExpressions": [{"key": ns_label_key("env", "vc"), "operator": "Exists"}],
                            }
                        }
                    ]
                }
            ],
        }
    }


def test_network_policy_peer_with_only_a_namespace_selector_selects_this_tenants_pods_in_those_namespaces() -> None:
    policy = obj("all", spec={"podSelector": {}, "egress": [{"to": [{"namespaceSelector": {}}]}]})
    assert networkpolicies.KIND.desired(context(), policy)["spec"] == {
        "podSelector": {"matchLabels": tenant()},
        "egress": [{"to": [{"podSelector": {"matchLabels": {MANAGED_BY: "vc"}}}]}],
    }


def test_network_policy_keeps_ip_block_peers_ports_and_policy_types() -> None:
    ip_block = {"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.1.0.0/16"]}}
    ports = [{"protocol": "TCP", "port": 5432}]
    spec = {
        "podSelector": {"matchExpressions": [{"key": "tier", "operator": "In", "values": ["db"]}]},
        "egress": [{"to": [ip_block, {"podSelector": {}}], "ports": ports}, {"ports": ports}],
        "policyTypes": ["Egress"],
    }
    assert networkpolicies.KIND.desired(context(), obj("out", spec=spec)) == {
        "spec": {
            "podSelector": {
                "matchLabels": tenant(),
                "matchExpressions": [{"key": "tier", "operator": "In", "values": ["db"]}],
            },
            "egress": [
                {"to": [ip_block, {"podSelector": {"matchLabels": tenant()}}], "ports": ports},
                {"ports": ports},
            ],
            "policyTypes": ["Egress"],
        }
    }
    assert networkpolicies.KIND.owned == ("spec",)


# ---- PodDisruptionBudgets ----------------------------------------------------------------------------------------
def test_pdb_budget_is_copied_and_its_selector_confined_to_the_tenants_namespace() -> None:
    spec = {
        "minAvailable": "50%",
        "unhealthyPodEvictionPolicy": "AlwaysAllow",
        "selector": {"matchLabels": {"app": "web", "vcluster.loft.sh/managed-by": "other"}},
    }
    assert poddisruptionbudgets.KIND.desired(context(), obj("web", spec=spec)) == {
        "spec": {
            "minAvailable": "50%",
            "unhealthyPodEvictionPolicy": "AlwaysAllow",
            "selector": {"matchLabels": {"app": "web", translate_label_key(MANAGED_BY, "vc"): "other", **tenant()}},
        }
    }


def test_pdb_without_selector_keeps_selecting_nothing() -> None:
    assert poddisruptionbudgets.KIND.desired(context(), obj("none", spec={"maxUnavailable": 0})) == {
        "spec": {"maxUnavailable": 0, "selector": None}
    }


# ---- Ingresses ---------------------------------------------------------------------------------------------------
ACTION = {"type": "forward", "forwardConfig": {"targetGroups": [{"serviceName": "api", "servicePort": "80"}]}}
INGRESS_ANNOTATIONS = {
    "nginx.ingress.kubernetes.io/auth-secret": "basic",
    "nginx.ingress.kubernetes.io/auth-tls-secret": "certs/ca",
    "alb.ingress.kubernetes.io/actions.api": json.dumps(ACTION),
    "alb.ingress.kubernetes.io/conditions.api": '[{"field":"host-header"}]',
    "kubernetes.io/description": "kept",
}


def ingress(class_name: str | None = "nginx") -> Obj:
    backend = {"service": {"name": "api", "port": {"name": "use-annotation"}}}
    spec = {
        "defaultBackend": {"resource": {"apiGroup": "example.com", "kind": "Bucket", "name": "static"}},
        "rules": [
            {"host": "a.example.com", "http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": backend}]}}
        ],
        "tls": [{"hosts": ["a.example.com"], "secretName": "tls"}, {"hosts": ["b.example.com"]}],
        **({"ingressClassName": class_name} if class_name else {}),
    }
    return obj("web", annotations=INGRESS_ANNOTATIONS, spec=spec)


def test_ingress_backends_and_tls_secrets_are_translated_and_the_class_copied() -> None:
    backend = {"service": {"name": "api-x-shop-x-vc", "port": {"name": "use-annotation"}}}
    assert ingresses.KIND.desired(context(), ingress()) == {
        "spec": {
            "defaultBackend": {"resource": {"apiGroup": "example.com", "kind": "Bucket", "name": "static-x-shop-x-vc"}},
            "rules": [
                {"host": "a.example.com", "http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": backend}]}}
            ],
            "tls": [{"hosts": ["a.example.com"], "secretName": "tls-x-shop-x-vc"}, {"hosts": ["b.example.com"]}],
            "ingressClassName": "nginx",
        }
    }


def test_ingress_without_a_class_keeps_the_one_the_host_defaulted() -> None:
    host = {"metadata": {"name": "web-x-shop-x-vc", "namespace": "host-ns"}, "spec": {"ingressClassName": "default"}}
    assert ingresses.KIND.desired(context((host,)), ingress(None))["spec"]["ingressClassName"] == "default"
    assert "ingressClassName" not in ingresses.KIND.desired(context(), ingress(None))["spec"]


def test_ingress_secret_and_alb_annotations_name_the_host_objects() -> None:
    annotations = ingresses.KIND.metadata(context(), ingress(), None)["annotations"]
    host_action = {
        "type": "forward",
        "forwardConfig": {"targetGroups": [{"serviceName": "api-x-shop-x-vc", "servicePort": "80"}]},
    }
    assert {key: value for key, value in annotations.items() if not key.startswith("vcluster.loft.sh/")} == {
        "nginx.ingress.kubernetes.io/auth-secret": "basic-x-shop-x-vc",
        "nginx.ingress.kubernetes.io/auth-tls-secret": "host-ns/ca-x-certs-x-vc",
        "alb.ingress.kubernetes.io/actions.api-x-shop-x-vc": json.dumps(host_action, separators=(",", ":")),
        "alb.ingress.kubernetes.io/conditions.api-x-shop-x-vc": '[{"field":"host-header"}]',
        "kubernetes.io/description": "kept",
    }
    assert annotations[OBJECT_NAME] == "web"


def test_ingress_drops_a_malformed_nginx_secret_reference_instead_of_passing_a_host_name() -> None:
    bad = obj("web", annotations={"nginx.ingress.kubernetes.io/proxy-ssl-secret": "a/b/c"}, spec={})
    annotations = ingresses.KIND.metadata(context(), bad, None)["annotations"]
    assert "nginx.ingress.kubernetes.io/proxy-ssl-secret" not in annotations
    assert ingresses.secrets_referenced(bad) == []


def test_ingress_lists_the_secrets_it_references() -> None:
    assert ingresses.secrets_referenced(ingress()) == ["shop/tls", "shop/basic", "certs/ca"]


# ---- ServiceAccounts ---------------------------------------------------------------------------------------------
def test_service_account_is_metadata_only_with_automount_off_and_secrets_cleared() -> None:
    account = obj(
        "builder", secrets=[{"name": "t"}], imagePullSecrets=[{"name": "p"}], automountServiceAccountToken=True
    )
    want = serviceaccounts.KIND.desired(context(), account)
    assert want == {"automountServiceAccountToken": False}
    host = {"secrets": [{"name": "t-x-shop-x-vc"}], "imagePullSecrets": [{"name": "p"}]}
    assert owned_patch(host, want, serviceaccounts.KIND.owned) == {"secrets": None, "imagePullSecrets": None}
    assert serviceaccounts.KIND.metadata is None  # generic merge: workload-identity annotations go down


# ---- PriorityClasses ---------------------------------------------------------------------------------------------
def test_priority_class_value_is_capped_and_never_the_global_default() -> None:
    pc = obj(
        "system-node-critical", None, value=2000001000, globalDefault=True, preemptionPolicy="Never", description="d"
    )
    assert priorityclasses.KIND.desired(context(), pc) == {
        "value": 1000000000,
        "globalDefault": False,
        "preemptionPolicy": "Never",
        "description": "d",
    }


@pytest.mark.parametrize(
    ("host", "recreate"),
    [
        ({"value": 10, "preemptionPolicy": "PreemptLowerPriority", "description": "old"}, False),
        ({"value": 10}, False),
        ({"value": 11, "preemptionPolicy": "PreemptLowerPriority"}, True),
        ({"value": 10, "preemptionPolicy": "Never"}, True),
    ],
)
def test_priority_class_is_recreated_only_when_value_or_preemption_policy_change(host: Obj, recreate: bool) -> None:
    want = priorityclasses.KIND.desired(context(), obj("low", None, value=10, preemptionPolicy="PreemptLowerPriority"))
    assert priorityclasses.KIND.must_recreate(host, want) is recreate


# ---- StorageClasses ----------------------------------------------------------------------------------------------
STORAGE_FIELDS = {
    "provisioner": "ebs.csi.aws.com",
    "parameters": {"type": "gp3"},
    "reclaimPolicy": "Retain",
    "mountOptions": ["debug"],
    "allowVolumeExpansion": True,
    "volumeBindingMode": "WaitForFirstConsumer",
    "allowedTopologies": [{"matchLabelExpressions": [{"key": "zone", "values": ["a"]}]}],
}


def test_storage_class_copies_its_fields_under_the_cluster_scoped_host_name_without_the_default_annotation() -> None:
    annotations = {"storageclass.kubernetes.io/is-default-class": "true", "team": "a"}
    sc = obj("fast", None, annotations, **STORAGE_FIELDS)
    assert storageclasses.KIND.desired(context(), sc) == STORAGE_FIELDS
    meta = storageclasses.KIND.metadata(context(), sc, None)
    assert meta["name"] == "vcluster-fast-x-host-ns-x-vc"
    assert "namespace" not in meta
    assert {key: value for key, value in meta["annotations"].items() if "vcluster.loft.sh" not in key} == {"team": "a"}
    assert meta["labels"] == {MANAGED_BY: "host-ns-x-vc"}


@pytest.mark.parametrize(
    ("change", "recreate"),
    [
        ({"allowVolumeExpansion": False, "mountOptions": []}, False),
        ({"provisioner": "other"}, True),
        ({"parameters": {"type": "io2"}}, True),
        ({"reclaimPolicy": "Delete"}, True),
        ({"volumeBindingMode": "Immediate"}, True),
    ],
)
def test_storage_class_is_recreated_only_when_an_immutable_field_changes(change: Obj, recreate: bool) -> None:
    want = storageclasses.KIND.desired(context(), obj("fast", None, **STORAGE_FIELDS))
    assert storageclasses.KIND.must_recreate({**STORAGE_FIELDS, **change}, want) is recreate
