"""ConfigMaps and Secrets (SPEC §6.4): synced only while used (force-sync annotation, sync-all flag, or a virtual
pod reference found through the real cache index), with content copied down as is, service-account tokens made
Opaque, and a recreate only where the host cannot be patched (immutable content, Secret type)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from syncer.cache import Store
from translators import configmaps, secrets
from translators.kind import KindSpec
from vocab.resources import PODS, Resource

Obj = dict[str, Any]
FORCE_SYNC = "vcluster.loft.sh/force-sync"


class FakeContext:
    """The part of a SyncContext that should_sync reads: config flags and the virtual pod cache."""

    def __init__(self, spec: KindSpec, *, sync_all_configmaps: bool = False, sync_all_secrets: bool = False) -> None:
        self.config = SimpleNamespace(
            sync_all_configmaps=sync_all_configmaps, sync_all_secrets=sync_all_secrets, sync=frozenset()
        )
        self.names = None
        self.pods = Store("pods", "virtual")
        for name, func in spec.virtual_indexes[PODS].items():
            self.pods.add_index(name, func)

    def virtual(self, res: Resource) -> Store:
        assert res == PODS, f"unexpected cache read: {res}"
        return self.pods

    def host(self, res: Resource) -> Store:
        raise AssertionError("should_sync must not read host caches")


def configmap(name: str = "settings", namespace: str = "default", **fields: Any) -> Obj:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": namespace}, **fields}


def secret(name: str = "creds", namespace: str = "default", **fields: Any) -> Obj:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": namespace}, **fields}


def pod(name: str, namespace: str = "default", **spec: Any) -> Obj:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": namespace}, "spec": spec}


def forced(obj: Obj, value: str = "true") -> Obj:
    obj["metadata"]["annotations"] = {FORCE_SYNC: value}
    return obj


# ---- ConfigMaps: desired ---------------------------------------------------------------------------------------
def test_configmap_desired_copies_data_binary_data_and_immutable() -> None:
    cm = configmap(data={"a": "1", "empty": ""}, binaryData={"b": "AAE="}, immutable=True)
    assert configmaps.KIND.desired(FakeContext(configmaps.KIND), cm) == {
        "data": {"a": "1", "empty": ""},
        "binaryData": {"b": "AAE="},
        "immutable": True,
    }


def test_configmap_desired_leaves_out_metadata_and_absent_fields() -> None:
    cm = configmap(data={"a": "1"})
    cm["metadata"].update(uid="u1", resourceVersion="9", labels={"x": "y"})
    assert configmaps.KIND.desired(FakeContext(configmaps.KIND), cm) == {"data": {"a": "1"}}


def test_configmap_owns_exactly_its_content_fields() -> None:
    assert set(configmaps.KIND.owned) == {"data", "binaryData", "immutable"}


# ---- ConfigMaps: must_recreate -----------------------------------------------------------------------------------
def test_configmap_immutable_host_with_different_data_must_be_recreated() -> None:
    host = configmap(data={"a": "1"}, immutable=True)
    assert configmaps.KIND.must_recreate(host, {"data": {"a": "2"}, "immutable": True})


def test_configmap_immutable_host_with_different_binary_data_must_be_recreated() -> None:
    host = configmap(binaryData={"b": "AAE="}, immutable=True)
    assert configmaps.KIND.must_recreate(host, {"binaryData": {"b": "AAI="}, "immutable": True})


def test_configmap_immutable_host_with_equal_content_is_not_recreated() -> None:
    host = configmap(data={"a": "1"}, immutable=True)
    host["metadata"].update(resourceVersion="5", uid="h1")
    assert not configmaps.KIND.must_recreate(host, {"data": {"a": "1"}, "immutable": True})


def test_configmap_mutable_host_with_different_data_is_patched_not_recreated() -> None:
    host = configmap(data={"a": "1"})
    assert not configmaps.KIND.must_recreate(host, {"data": {"a": "2"}})


def test_configmap_immutable_host_gaining_an_empty_valued_key_must_be_recreated() -> None:
    host = configmap(data={"a": "1"}, immutable=True)
    assert configmaps.KIND.must_recreate(host, {"data": {"a": "1", "empty": ""}, "immutable": True})


# ---- Secrets: desired ----------------------------------------------------------------------------------------------
def test_secret_desired_copies_data_immutable_and_type() -> None:
    s = secret(data={"password": "aHVudGVyMg=="}, immutable=True, type="kubernetes.io/tls")
    assert secrets.KIND.desired(FakeContext(secrets.KIND), s) == {
        "data": {"password": "aHVudGVyMg=="},
        "immutable": True,
        "type": "kubernetes.io/tls",
    }


def test_secret_without_type_becomes_opaque() -> None:
    assert secrets.KIND.desired(FakeContext(secrets.KIND), secret(data={"k": "dg=="})) == {
        "data": {"k": "dg=="},
        "type": "Opaque",
    }


def test_secret_with_empty_type_becomes_opaque() -> None:
    assert secrets.KIND.desired(FakeContext(secrets.KIND), secret(type=""))["type"] == "Opaque"


def test_service_account_token_secret_becomes_opaque_on_host() -> None:
    s = secret(type="kubernetes.io/service-account-token", data={"token": "dG9r"})
    s["metadata"]["annotations"] = {"kubernetes.io/service-account.name": "default"}
    assert secrets.KIND.desired(FakeContext(secrets.KIND), s) == {"data": {"token": "dG9r"}, "type": "Opaque"}


@pytest.mark.parametrize("kind", ["kubernetes.io/dockerconfigjson", "kubernetes.io/basic-auth", "example.com/custom"])
def test_other_secret_types_are_kept(kind: str) -> None:
    assert secrets.KIND.desired(FakeContext(secrets.KIND), secret(type=kind))["type"] == kind


# ---- Secrets: must_recreate --------------------------------------------------------------------------------------
def test_secret_with_different_type_must_be_recreated() -> None:
    host = secret(type="Opaque", data={"k": "dg=="})
    assert secrets.KIND.must_recreate(host, {"type": "kubernetes.io/tls", "data": {"k": "dg=="}})


def test_secret_host_without_type_counts_as_opaque() -> None:
    assert not secrets.KIND.must_recreate(secret(data={"k": "dg=="}), {"type": "Opaque", "data": {"k": "dg=="}})


def test_secret_immutable_host_with_different_data_must_be_recreated() -> None:
    host = secret(type="Opaque", data={"k": "dg=="}, immutable=True)
    assert secrets.KIND.must_recreate(host, {"type": "Opaque", "data": {"k": "dzI="}, "immutable": True})


def test_secret_immutable_host_with_equal_data_is_not_recreated() -> None:
    host = secret(type="Opaque", data={"k": "dg=="}, immutable=True)
    assert not secrets.KIND.must_recreate(host, {"type": "Opaque", "data": {"k": "dg=="}, "immutable": True})


def test_secret_mutable_host_with_different_data_is_patched_not_recreated() -> None:
    host = secret(type="Opaque", data={"k": "dg=="})
    assert not secrets.KIND.must_recreate(host, {"type": "Opaque", "data": {"k": "dzI="}})


def test_synced_service_account_token_secret_is_not_recreated_on_every_pass() -> None:
    virtual = secret(type="kubernetes.io/service-account-token", data={"token": "dG9r"})
    want = secrets.KIND.desired(FakeContext(secrets.KIND), virtual)
    host = secret(type="Opaque", data={"token": "dG9r"})
    assert not secrets.KIND.must_recreate(host, want)


# ---- should_sync -------------------------------------------------------------------------------------------------
KINDS = pytest.mark.parametrize(
    ("spec", "make"),
    [(configmaps.KIND, configmap), (secrets.KIND, secret)],
    ids=["configmaps", "secrets"],
)


@KINDS
def test_unreferenced_object_is_not_synced(spec: KindSpec, make: Any) -> None:
    ctx = FakeContext(spec)
    ctx.pods.upsert(pod("unrelated", containers=[{"name": "c", "image": "nginx"}]))
    assert not spec.should_sync(ctx, make())


@KINDS
def test_force_sync_annotation_syncs_an_unreferenced_object(spec: KindSpec, make: Any) -> None:
    assert spec.should_sync(FakeContext(spec), forced(make()))


@KINDS
@pytest.mark.parametrize("value", ["false", "True", "yes", ""])
def test_force_sync_annotation_other_than_true_does_not_sync(spec: KindSpec, make: Any, value: str) -> None:
    assert not spec.should_sync(FakeContext(spec), forced(make(), value))


def test_sync_all_configmaps_syncs_an_unreferenced_configmap() -> None:
    assert configmaps.KIND.should_sync(FakeContext(configmaps.KIND, sync_all_configmaps=True), configmap())


def test_sync_all_secrets_syncs_an_unreferenced_secret() -> None:
    assert secrets.KIND.should_sync(FakeContext(secrets.KIND, sync_all_secrets=True), secret())


def test_sync_all_flags_apply_to_their_own_kind_only() -> None:
    assert not configmaps.KIND.should_sync(FakeContext(configmaps.KIND, sync_all_secrets=True), configmap())
    assert not secrets.KIND.should_sync(FakeContext(secrets.KIND, sync_all_configmaps=True), secret())


def test_configmap_referenced_by_a_pod_volume_is_synced() -> None:
    ctx = FakeContext(configmaps.KIND)
    ctx.pods.upsert(pod("web", volumes=[{"name": "conf", "configMap": {"name": "settings"}}]))
    assert configmaps.KIND.should_sync(ctx, configmap("settings"))


def test_configmap_referenced_by_init_container_env_is_synced() -> None:
    ctx = FakeContext(configmaps.KIND)
    env = [{"name": "A", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "a"}}}]
    ctx.pods.upsert(pod("web", initContainers=[{"name": "i", "image": "busybox", "env": env}]))
    assert configmaps.KIND.should_sync(ctx, configmap("settings"))


def test_secret_referenced_by_image_pull_secrets_is_synced() -> None:
    ctx = FakeContext(secrets.KIND)
    ctx.pods.upsert(pod("web", imagePullSecrets=[{"name": "registry"}]))
    assert secrets.KIND.should_sync(ctx, secret("registry"))


def test_secret_referenced_by_env_from_is_synced() -> None:
    ctx = FakeContext(secrets.KIND)
    ctx.pods.upsert(pod("web", containers=[{"name": "c", "image": "x", "envFrom": [{"secretRef": {"name": "creds"}}]}]))
    assert secrets.KIND.should_sync(ctx, secret("creds"))


def test_reference_from_a_pod_in_another_namespace_does_not_count() -> None:
    ctx = FakeContext(configmaps.KIND)
    ctx.pods.upsert(pod("web", namespace="other", volumes=[{"name": "v", "configMap": {"name": "settings"}}]))
    assert not configmaps.KIND.should_sync(ctx, configmap("settings", namespace="default"))


def test_secret_named_like_a_referenced_configmap_is_not_synced() -> None:
    ctx = FakeContext(secrets.KIND)
    ctx.pods.upsert(pod("web", volumes=[{"name": "v", "configMap": {"name": "shared-name"}}]))
    assert not secrets.KIND.should_sync(ctx, secret("shared-name"))


def test_configmap_stops_syncing_when_its_last_pod_is_removed() -> None:
    ctx = FakeContext(configmaps.KIND)
    web = pod("web", volumes=[{"name": "v", "configMap": {"name": "settings"}}])
    ctx.pods.upsert(web)
    assert configmaps.KIND.should_sync(ctx, configmap("settings"))
    ctx.pods.remove(web)
    assert not configmaps.KIND.should_sync(ctx, configmap("settings"))


def test_secret_stops_syncing_when_the_pod_drops_the_reference() -> None:
    ctx = FakeContext(secrets.KIND)
    ctx.pods.upsert(pod("web", imagePullSecrets=[{"name": "registry"}]))
    ctx.pods.upsert(pod("web", imagePullSecrets=[{"name": "mirror"}]))
    assert not secrets.KIND.should_sync(ctx, secret("registry"))
    assert secrets.KIND.should_sync(ctx, secret("mirror"))


# ---- triggers ------------------------------------------------------------------------------------------------------
def test_pod_change_requeues_the_configmaps_it_references() -> None:
    (trigger,) = configmaps.KIND.triggers
    web = pod("web", volumes=[{"name": "v", "configMap": {"name": "b"}}, {"name": "w", "secret": {"secretName": "s"}}])
    assert (trigger.side, trigger.resource) == ("virtual", PODS)
    assert list(trigger.keys(web)) == ["default/b"]


def test_pod_change_requeues_the_secrets_it_references() -> None:
    trigger, _ingress_trigger = secrets.KIND.triggers
    web = pod("web", volumes=[{"name": "v", "configMap": {"name": "b"}}, {"name": "w", "secret": {"secretName": "s"}}])
    assert (trigger.side, trigger.resource) == ("virtual", PODS)
    assert list(trigger.keys(web)) == ["default/s"]
