"""What a virtual pod references by name (SPEC §6.4, §6.1.3): these references decide which ConfigMaps and Secrets
are synced at all, so a missed reference leaves a pod without its volume or env, and a spurious one leaks an
unused Secret to the host."""

from __future__ import annotations

from typing import Any

import pytest

from translators.references import pod_references, referenced_keys


def pod(spec: dict[str, Any], namespace: str = "team-a") -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": namespace}, "spec": spec}


def container(**fields: Any) -> dict[str, Any]:
    return {"name": "c", "image": "nginx", **fields}


# ---- env and envFrom ---------------------------------------------------------------------------------------------
def test_env_config_map_key_ref_is_a_configmap_reference() -> None:
    env = [{"name": "A", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "a"}}}]
    refs = pod_references(pod({"containers": [container(env=env)]}))
    assert refs.configmaps == {"settings"}
    assert refs.secrets == set()


def test_env_secret_key_ref_is_a_secret_reference() -> None:
    env = [{"name": "P", "valueFrom": {"secretKeyRef": {"name": "db-creds", "key": "password"}}}]
    refs = pod_references(pod({"containers": [container(env=env)]}))
    assert refs.secrets == {"db-creds"}
    assert refs.configmaps == set()


def test_plain_env_values_and_field_refs_reference_nothing() -> None:
    env = [
        {"name": "PLAIN", "value": "x"},
        {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
        {"name": "CPU", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu"}}},
    ]
    refs = pod_references(pod({"containers": [container(env=env)]}))
    assert (refs.configmaps, refs.secrets, refs.pvcs) == (set(), set(), set())


def test_env_from_config_map_and_secret_are_references() -> None:
    env_from = [{"configMapRef": {"name": "base-env"}}, {"secretRef": {"name": "api-keys"}, "prefix": "K_"}]
    refs = pod_references(pod({"containers": [container(envFrom=env_from)]}))
    assert refs.configmaps == {"base-env"}
    assert refs.secrets == {"api-keys"}


@pytest.mark.parametrize("kind", ["containers", "initContainers", "ephemeralContainers"])
def test_references_are_found_in_every_container_kind(kind: str) -> None:
    spec = {
        kind: [
            container(
                env=[{"name": "A", "valueFrom": {"secretKeyRef": {"name": f"{kind}-secret", "key": "k"}}}],
                envFrom=[{"configMapRef": {"name": f"{kind}-cm"}}],
            )
        ]
    }
    refs = pod_references(pod(spec))
    assert refs.secrets == {f"{kind}-secret"}
    assert refs.configmaps == {f"{kind}-cm"}


def test_references_from_all_container_kinds_are_combined() -> None:
    spec = {
        "initContainers": [container(envFrom=[{"configMapRef": {"name": "init"}}])],
        "containers": [container(envFrom=[{"configMapRef": {"name": "main"}}])],
        "ephemeralContainers": [container(envFrom=[{"configMapRef": {"name": "debug"}}])],
    }
    assert pod_references(pod(spec)).configmaps == {"init", "main", "debug"}


# ---- volumes -----------------------------------------------------------------------------------------------------
def test_config_map_volume_is_a_configmap_reference() -> None:
    refs = pod_references(pod({"volumes": [{"name": "v", "configMap": {"name": "nginx-conf"}}]}))
    assert refs.configmaps == {"nginx-conf"}


def test_secret_volume_uses_secret_name() -> None:
    refs = pod_references(pod({"volumes": [{"name": "v", "secret": {"secretName": "tls"}}]}))
    assert refs.secrets == {"tls"}


def test_persistent_volume_claim_volume_is_a_pvc_reference() -> None:
    refs = pod_references(pod({"volumes": [{"name": "v", "persistentVolumeClaim": {"claimName": "data"}}]}))
    assert refs.pvcs == {"data"}
    assert refs.secrets == set()


def test_projected_config_map_and_secret_sources_are_references() -> None:
    volume = {
        "name": "bundle",
        "projected": {
            "sources": [
                {"configMap": {"name": "ca-bundle"}},
                {"secret": {"name": "client-cert"}},
                {"downwardAPI": {"items": [{"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}}]}},
                {"serviceAccountToken": {"path": "token", "expirationSeconds": 3600}},
            ]
        },
    }
    refs = pod_references(pod({"volumes": [volume]}))
    assert refs.configmaps == {"ca-bundle"}
    assert refs.secrets == {"client-cert"}


def test_csi_node_publish_secret_ref_is_a_secret_reference() -> None:
    volume = {"name": "v", "csi": {"driver": "example.csi", "nodePublishSecretRef": {"name": "csi-creds"}}}
    assert pod_references(pod({"volumes": [volume]})).secrets == {"csi-creds"}


@pytest.mark.parametrize("plugin", ["cephfs", "rbd", "iscsi", "flexVolume", "cinder", "scaleIO", "storageos"])
def test_volume_plugin_secret_ref_is_a_secret_reference(plugin: str) -> None:
    volume = {"name": "v", plugin: {"secretRef": {"name": f"{plugin}-secret"}}}
    assert pod_references(pod({"volumes": [volume]})).secrets == {f"{plugin}-secret"}


def test_azure_file_secret_name_is_a_secret_reference() -> None:
    volume = {"name": "v", "azureFile": {"secretName": "azure-storage", "shareName": "share"}}
    assert pod_references(pod({"volumes": [volume]})).secrets == {"azure-storage"}


def test_volumes_without_object_references_reference_nothing() -> None:
    volumes = [
        {"name": "scratch", "emptyDir": {}},
        {"name": "host", "hostPath": {"path": "/var/log"}},
        {"name": "info", "downwardAPI": {"items": [{"path": "n", "fieldRef": {"fieldPath": "metadata.name"}}]}},
        {"name": "csi-no-secret", "csi": {"driver": "example.csi"}},
    ]
    refs = pod_references(pod({"volumes": volumes}))
    assert (refs.configmaps, refs.secrets, refs.pvcs) == (set(), set(), set())


# ---- imagePullSecrets --------------------------------------------------------------------------------------------
def test_image_pull_secrets_are_secret_references() -> None:
    refs = pod_references(pod({"imagePullSecrets": [{"name": "registry"}, {"name": "mirror"}]}))
    assert refs.secrets == {"registry", "mirror"}


# ---- absent and empty names --------------------------------------------------------------------------------------
def test_absent_and_empty_names_are_ignored() -> None:
    spec = {
        "containers": [
            container(
                env=[
                    {"name": "A", "valueFrom": {"configMapKeyRef": {"key": "a"}}},
                    {"name": "B", "valueFrom": {"secretKeyRef": {"name": "", "key": "b"}}},
                    {"name": "C", "valueFrom": None},
                ],
                envFrom=[{"configMapRef": {}}, {"secretRef": {"name": ""}}, {"configMapRef": None}],
            )
        ],
        "volumes": [
            {"name": "a", "configMap": {}},
            {"name": "b", "secret": {"secretName": ""}},
            {"name": "c", "persistentVolumeClaim": {"claimName": ""}},
            {"name": "d", "rbd": {"secretRef": None}},
            {"name": "e", "projected": {"sources": [{"configMap": {"name": ""}}, {"secret": {}}]}},
            {"name": "f", "projected": {"sources": None}},
        ],
        "imagePullSecrets": [{}, {"name": ""}],
    }
    refs = pod_references(pod(spec))
    assert (refs.configmaps, refs.secrets, refs.pvcs) == (set(), set(), set())


def test_pod_without_spec_references_nothing() -> None:
    refs = pod_references({"metadata": {"name": "bare", "namespace": "ns"}})
    assert (refs.configmaps, refs.secrets, refs.pvcs) == (set(), set(), set())


def test_null_lists_in_spec_reference_nothing() -> None:
    spec = {"containers": None, "initContainers": None, "volumes": None, "imagePullSecrets": None}
    refs = pod_references(pod(spec))
    assert (refs.configmaps, refs.secrets, refs.pvcs) == (set(), set(), set())


# ---- referenced_keys ---------------------------------------------------------------------------------------------
def full_pod() -> dict[str, Any]:
    return pod(
        {
            "containers": [
                container(
                    env=[{"name": "A", "valueFrom": {"secretKeyRef": {"name": "zeta", "key": "k"}}}],
                    envFrom=[{"configMapRef": {"name": "common"}}],
                )
            ],
            "initContainers": [container(envFrom=[{"secretRef": {"name": "alpha"}}])],
            "volumes": [
                {"name": "a", "secret": {"secretName": "mid"}},
                {"name": "b", "configMap": {"name": "app"}},
                {"name": "c", "persistentVolumeClaim": {"claimName": "data"}},
                {"name": "d", "secret": {"secretName": "alpha"}},
            ],
            "imagePullSecrets": [{"name": "beta"}],
        }
    )


def test_referenced_keys_are_namespaced_and_sorted() -> None:
    assert referenced_keys(full_pod(), "secrets") == ("team-a/alpha", "team-a/beta", "team-a/mid", "team-a/zeta")


def test_referenced_keys_for_configmaps() -> None:
    assert referenced_keys(full_pod(), "configmaps") == ("team-a/app", "team-a/common")


def test_referenced_keys_for_pvcs() -> None:
    assert referenced_keys(full_pod(), "pvcs") == ("team-a/data",)


def test_referenced_keys_list_a_name_used_twice_once() -> None:
    keys = referenced_keys(full_pod(), "secrets")
    assert keys.count("team-a/alpha") == 1


def test_referenced_keys_use_the_pods_own_namespace() -> None:
    other = pod({"volumes": [{"name": "v", "configMap": {"name": "app"}}]}, namespace="team-b")
    assert referenced_keys(other, "configmaps") == ("team-b/app",)


def test_referenced_keys_of_pod_without_references_is_empty() -> None:
    assert referenced_keys(pod({"containers": [container()]}), "secrets") == ()


def test_referenced_keys_answer_for_each_pod_object_although_recent_answers_are_remembered() -> None:
    with_cm = pod({"volumes": [{"name": "v", "configMap": {"name": "one"}}]})
    other = pod({"volumes": [{"name": "v", "configMap": {"name": "two"}}]}, namespace="team-b")
    answers = [referenced_keys(p, "configmaps") for p in (with_cm, other, with_cm, pod({}), other)]
    assert answers == [("team-a/one",), ("team-b/two",), ("team-a/one",), (), ("team-b/two",)]
