"""The CoreDNS vcsync keeps (--coredns): the declared objects (names, the unprivileged port, a restricted-clean pod),
the "still holds what was declared" check that decides every write, and the component's choice of what to apply,
with the API replaced by a recorder: nothing while all is as declared, only what is missing or changed otherwise."""

from __future__ import annotations

import copy
import json
from types import SimpleNamespace
from typing import Any

import pytest

from syncer.config import COREDNS_IMAGE, ConfigError, load_config
from syncer.coredns import DELETION_GRACE, FIELD_MANAGER, CoreDns
from syncer.engine import Engine
from syncer.kube.api import ApiError, KubeApi
from syncer.ratelimit import TokenBucket
from translators.coredns import MANAGED_BY, coredns_objects, holds
from translators.podsecurity import check_pod
from vocab.resources import DEPLOYMENTS, SERVICES

Obj = dict[str, Any]


def objects(namespace: str = "kube-system", service: str = "kube-dns", replicas: int = 1) -> dict[str, Obj]:
    declared = coredns_objects(namespace, service, "cluster.local", "registry.example/coredns:v1", replicas)
    return {obj["kind"]: obj for obj in declared}


def pod_spec(declared: dict[str, Obj]) -> Obj:
    return declared["Deployment"]["spec"]["template"]["spec"]


def config(*args: str) -> Any:
    return load_config(["--virtual-kubeconfig=/v", "--own-namespace=vc-ns", *args], {})


# ---- the declared objects ---------------------------------------------------------------------------------------


def test_objects_are_named_as_kubeadm_names_them_in_the_dns_service_namespace() -> None:
    declared = coredns_objects("dns", "resolver", "corp.internal", "img", 3)
    names = [(o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"]) for o in declared]
    assert names == [
        ("ServiceAccount", "dns", "coredns"),
        ("ClusterRole", None, "system:coredns"),
        ("ClusterRoleBinding", None, "system:coredns"),
        ("ConfigMap", "dns", "coredns"),
        ("Deployment", "dns", "coredns"),
        ("Service", "dns", "resolver"),
    ]
    assert all(o["metadata"]["labels"].items() >= MANAGED_BY.items() for o in declared)
    binding = declared[2]
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "coredns", "namespace": "dns"}]
    assert binding["roleRef"]["name"] == declared[1]["metadata"]["name"]


def test_the_role_only_lists_and_watches_what_the_kubernetes_plugin_reads() -> None:
    rules = objects()["ClusterRole"]["rules"]
    granted = {(group, r): rule["verbs"] for rule in rules for group in rule["apiGroups"] for r in rule["resources"]}
    assert granted == {
        ("", "endpoints"): ["list", "watch"],
        ("", "services"): ["list", "watch"],
        ("", "pods"): ["list", "watch"],
        ("", "namespaces"): ["list", "watch"],
        ("discovery.k8s.io", "endpointslices"): ["list", "watch"],
    }


def test_corefile_serves_the_cluster_domain_on_the_unprivileged_port() -> None:
    declared = coredns_objects("kube-system", "kube-dns", "corp.internal", "img", 1)
    corefile = declared[3]["data"]["Corefile"]
    assert corefile.startswith(".:1053 {")
    assert "kubernetes corp.internal in-addr.arpa ip6.arpa {" in corefile
    assert "fallthrough in-addr.arpa ip6.arpa" in corefile and "pods insecure" in corefile
    for plugin in ("errors", "health", "ready", "prometheus :9153", "forward . /etc/resolv.conf", "cache 30", "loop"):
        assert f"\n    {plugin}\n" in corefile
    assert "reload" in corefile and "loadbalance" in corefile


def test_the_service_maps_port_53_to_the_pods_1053() -> None:
    declared = objects()
    ports = {p["name"]: (p["port"], p["protocol"], p["targetPort"]) for p in declared["Service"]["spec"]["ports"]}
    assert ports == {"dns": (53, "UDP", 1053), "dns-tcp": (53, "TCP", 1053), "metrics": (9153, "TCP", 9153)}
    container = pod_spec(declared)["containers"][0]
    assert {(p["containerPort"], p["protocol"]) for p in container["ports"]} == {
        (1053, "UDP"),
        (1053, "TCP"),
        (9153, "TCP"),
    }
    selector = declared["Service"]["spec"]["selector"]
    assert declared["Deployment"]["spec"]["selector"]["matchLabels"] == selector == {"k8s-app": "kube-dns"}
    assert declared["Deployment"]["spec"]["template"]["metadata"]["labels"].items() >= selector.items()


def test_the_deployment_runs_the_configured_image_and_replicas_with_the_node_resolver() -> None:
    declared = objects(replicas=0)
    assert declared["Deployment"]["spec"]["replicas"] == 0
    spec = pod_spec(declared)
    assert (spec["serviceAccountName"], spec["dnsPolicy"]) == ("coredns", "Default")
    assert "priorityClassName" not in spec
    container = spec["containers"][0]
    assert container["image"] == "registry.example/coredns:v1"
    assert container["livenessProbe"]["httpGet"] == {"path": "/health", "port": 8080}
    assert container["readinessProbe"]["httpGet"] == {"path": "/ready", "port": 8181}
    assert container["resources"] == {"requests": {"cpu": "100m", "memory": "70Mi"}, "limits": {"memory": "170Mi"}}
    assert spec["volumes"][0]["configMap"]["name"] == declared["ConfigMap"]["metadata"]["name"]


@pytest.mark.parametrize("level", ["baseline", "restricted"])
def test_the_pod_meets_the_pod_security_standard(level: str) -> None:
    template = objects()["Deployment"]["spec"]["template"]
    assert check_pod({"metadata": template["metadata"], "spec": template["spec"]}, level) == []
    spec = template["spec"]
    assert spec["securityContext"]["runAsUser"] == 65532
    assert spec["containers"][0]["securityContext"]["readOnlyRootFilesystem"] is True


# ---- holds -----------------------------------------------------------------------------------------------------


def test_every_declared_object_holds_itself_and_survives_json() -> None:
    for obj in coredns_objects("kube-system", "kube-dns", "cluster.local", "img", 1):
        assert holds(json.loads(json.dumps(obj)), obj)


def test_holds_accepts_what_others_add() -> None:
    desired = {"metadata": {"labels": {"a": "1"}}, "spec": {"containers": [{"name": "c", "image": "x"}]}}
    current = {
        "metadata": {"labels": {"a": "1", "tenant": "yes"}, "uid": "u"},
        "spec": {"containers": [{"name": "sidecar"}, {"name": "c", "image": "x", "imagePullPolicy": "Always"}]},
        "status": {},
    }
    assert holds(current, desired)


@pytest.mark.parametrize(
    "current",
    [
        None,
        {"metadata": {"labels": {}}, "spec": {"containers": [{"name": "c", "image": "x"}]}},
        {"metadata": {"labels": {"a": "2"}}, "spec": {"containers": [{"name": "c", "image": "x"}]}},
        {"metadata": {"labels": {"a": "1"}}, "spec": {"containers": [{"name": "c", "image": "y"}]}},
        {"metadata": {"labels": {"a": "1"}}, "spec": {"containers": [{"name": "d", "image": "x"}]}},
        {"metadata": {"labels": {"a": "1"}}, "spec": {"containers": {"c": {}}}},
    ],
    ids=["missing", "label-gone", "label-changed", "image-changed", "container-gone", "not-a-list"],
)
def test_holds_refuses_what_lost_a_declared_field(current: Obj | None) -> None:
    desired = {"metadata": {"labels": {"a": "1"}}, "spec": {"containers": [{"name": "c", "image": "x"}]}}
    assert not holds(current, desired)


def test_unnamed_lists_compare_element_by_element_with_equal_length() -> None:
    assert holds({"args": ["-conf", "/f"]}, {"args": ["-conf", "/f"]})
    assert not holds({"args": ["-conf", "/f", "-x"]}, {"args": ["-conf", "/f"]})
    assert not holds({"args": ["/f", "-conf"]}, {"args": ["-conf", "/f"]})
    rule = {"apiGroups": [""], "verbs": ["list"]}
    assert holds({"rules": [{**rule, "extra": 1}]}, {"rules": [rule]})
    assert not holds({"rules": [rule, rule]}, {"rules": [rule]})


def test_holds_compares_types_as_the_api_returns_them() -> None:
    assert not holds({"targetPort": "1053"}, {"targetPort": 1053})
    assert not holds({"replicas": True}, {"replicas": 1})
    assert not holds({"readOnly": 1}, {"readOnly": True})


# ---- flags -----------------------------------------------------------------------------------------------------


def test_flags_default_to_off_kubeadms_image_and_one_replica() -> None:
    loaded = config()
    assert (loaded.coredns, loaded.coredns_image, loaded.coredns_replicas) == (False, COREDNS_IMAGE, 1)
    assert COREDNS_IMAGE == "registry.k8s.io/coredns/coredns:v1.14.2"
    loaded = config("--coredns", "--coredns-replicas=0", "--coredns-image=mirror/coredns:v2")
    assert (loaded.coredns, loaded.coredns_image, loaded.coredns_replicas) == (True, "mirror/coredns:v2", 0)


@pytest.mark.parametrize(
    ("arg", "message"),
    [
        ("--coredns-replicas=-1", "--coredns-replicas: -1 is negative; expected 0 or more"),
        ("--coredns-replicas=two", "--coredns-replicas: 'two' is not an integer"),
        ("--coredns-image=", "--coredns-image: '' is not a container image reference"),
    ],
)
def test_bad_coredns_flags_are_one_clear_sentence(arg: str, message: str) -> None:
    with pytest.raises(ConfigError) as e:
        config(arg)
    assert str(e.value) == message


# ---- the component ---------------------------------------------------------------------------------------------


class RecordingApi:
    dry_run = False

    def __init__(self, refuse: str = "") -> None:
        self.applied: list[tuple[str, str | None, str]] = []
        self.refuse = refuse

    async def apply(self, res: Any, namespace: str | None, body: Obj, *, field_manager: str) -> Obj:
        assert field_manager == FIELD_MANAGER
        if res.plural == self.refuse:
            raise ApiError(422, "Invalid", "cannot change roleRef")
        self.applied.append((res.plural, namespace, body["metadata"]["name"]))
        return copy.deepcopy(body)


def component(*args: str, refuse: str = "") -> tuple[Engine, CoreDns, RecordingApi]:
    engine = Engine(config("--coredns", *args), None, None, "unit")  # type: ignore[arg-type]  # never run
    api = RecordingApi(refuse)
    engine.virtual_api = engine.host_api = api  # type: ignore[assignment]
    coredns = next(c for c in engine.controllers if isinstance(c, CoreDns))
    coredns.wire()
    return engine, coredns, api


def stored(obj: Obj, version: str = "1") -> Obj:
    """`obj` as the API server would return it: defaults and server fields added."""
    live = json.loads(json.dumps(obj))
    live["metadata"] |= {"uid": "u", "resourceVersion": version, "creationTimestamp": "2026-01-01T00:00:00Z"}
    if obj["kind"] == "Deployment":
        live["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] = "IfNotPresent"
        live["spec"]["strategy"] = {"type": "RollingUpdate"}
        live["status"] = {"availableReplicas": 1}
    return live


def fill(coredns: CoreDns) -> None:
    for store, obj in zip(coredns.stores, coredns.desired, strict=True):
        store.upsert(stored(obj))


def test_the_engine_watches_each_object_by_name_apart_from_the_shared_stores() -> None:
    engine, coredns, _ = component("--dns-service=dns/resolver")
    assert len({id(store) for store in coredns.stores}) == 6
    assert engine.store("virtual", SERVICES) not in coredns.stores
    selectors = {(r.res.plural, r.namespace, r.field_selector) for r in engine._reflectors if r.store in coredns.stores}
    assert selectors == {
        ("serviceaccounts", "dns", "metadata.name=coredns"),
        ("clusterroles", None, "metadata.name=system:coredns"),
        ("clusterrolebindings", None, "metadata.name=system:coredns"),
        ("configmaps", "dns", "metadata.name=coredns"),
        ("deployments", "dns", "metadata.name=coredns"),
        ("services", "dns", "metadata.name=resolver"),
    }
    assert engine.declare_named("virtual", DEPLOYMENTS, "dns", "coredns") is coredns.stores[4]


def test_no_component_without_the_flag() -> None:
    engine = Engine(config(), None, None, "unit")  # type: ignore[arg-type]
    assert not any(isinstance(c, CoreDns) for c in engine.controllers)


async def test_everything_missing_is_applied_in_order() -> None:
    _, coredns, api = component()
    assert await coredns.reconcile("coredns") == "changed"
    assert api.applied == [
        ("serviceaccounts", "kube-system", "coredns"),
        ("clusterroles", None, "system:coredns"),
        ("clusterrolebindings", None, "system:coredns"),
        ("configmaps", "kube-system", "coredns"),
        ("deployments", "kube-system", "coredns"),
        ("services", "kube-system", "kube-dns"),
    ]
    assert await coredns.reconcile("coredns") == "unchanged"  # the answers stand in until the watch catches up
    assert len(api.applied) == 6


async def test_a_refused_object_holds_back_no_other_and_fails_the_reconcile() -> None:
    _, coredns, api = component(refuse="clusterrolebindings")
    with pytest.raises(ApiError):
        await coredns.reconcile("coredns")
    assert [plural for plural, _, _ in api.applied] == [
        "serviceaccounts",
        "clusterroles",
        "configmaps",
        "deployments",
        "services",
    ]


async def test_nothing_is_written_while_everything_holds_what_was_declared() -> None:
    _, coredns, api = component()
    fill(coredns)
    tenant = stored(coredns.desired[4], "2")
    tenant["metadata"]["labels"]["team"] = "platform"
    coredns.stores[4].upsert(tenant)
    assert await coredns.reconcile("coredns") == "unchanged"
    assert api.applied == []


async def test_only_the_deleted_or_changed_objects_are_applied_again() -> None:
    _, coredns, api = component()
    fill(coredns)
    coredns.stores[4].remove(coredns.stores[4].values()[0])
    coredns._deleted_at[4] -= DELETION_GRACE  # a while ago
    changed = stored(coredns.desired[3], "2")
    changed["data"]["Corefile"] = ".:53 {}"
    coredns.stores[3].upsert(changed)
    assert await coredns.reconcile("coredns") == "changed"
    assert api.applied == [("configmaps", "kube-system", "coredns"), ("deployments", "kube-system", "coredns")]


async def test_a_fresh_deletion_is_left_to_whoever_deleted_it_for_a_moment() -> None:
    _, coredns, api = component()
    fill(coredns)
    coredns.stores[5].remove(coredns.stores[5].values()[0])  # the Services controller re-creating it, say
    assert await coredns.reconcile("coredns") == "unchanged"
    assert api.applied == []
    coredns._deleted_at[5] -= DELETION_GRACE  # nobody re-created it in time
    assert await coredns.reconcile("coredns") == "changed"
    assert api.applied == [("services", "kube-system", "kube-dns")]


# ---- server-side apply on the wire -----------------------------------------------------------------------------


class FakeResponse:
    status = 200

    async def read(self) -> bytes:
        return b'{"kind": "Deployment"}'

    def release(self) -> None:
        pass


class FakeSession:
    """Where KubeApi hands its requests: kubernetes_asyncio's aiohttp session."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, dict[str, Any]]] = []

    async def request(self, method: str, url: str, **kwargs: Any) -> FakeResponse:
        self.calls.append((method, url, kwargs))
        return FakeResponse()


class FakeConfiguration:
    host = "https://virtual"

    async def auth_settings(self) -> dict[str, Any]:
        return {"BearerToken": {"key": "authorization", "value": "Bearer t"}}


class FakeClient:
    def __init__(self) -> None:
        self.configuration, self.default_headers = FakeConfiguration(), {"User-Agent": "x"}
        self.rest_client = SimpleNamespace(pool_manager=FakeSession(), proxy=None, server_hostname=None)
        self.calls = self.rest_client.pool_manager.calls


async def test_apply_is_a_forced_server_side_apply_patch_unless_dry_run() -> None:
    fake = FakeClient()
    api = KubeApi(fake, "virtual", bucket=TokenBucket(100, 100))  # type: ignore[arg-type]
    body = objects()["Deployment"]
    assert await api.apply(DEPLOYMENTS, "kube-system", body, field_manager="vcsync") == {"kind": "Deployment"}
    ((method, url, kwargs),) = fake.calls
    assert method == "PATCH"
    assert (
        url == "https://virtual/apis/apps/v1/namespaces/kube-system/deployments/coredns?fieldManager=vcsync&force=true"
    )
    assert kwargs["headers"]["Content-Type"] == "application/apply-patch+yaml"
    assert kwargs["headers"]["authorization"] == "Bearer t"
    assert json.loads(kwargs["data"]) == body

    dry = KubeApi(fake, "virtual", bucket=TokenBucket(100, 100), dry_run=True)  # type: ignore[arg-type]
    assert await dry.apply(DEPLOYMENTS, "kube-system", body, field_manager="vcsync") == body
    assert len(fake.calls) == 1
