"""The engine proven on ConfigMaps and Secrets against the real clusters: used-only sync with markers, force-sync
and sync-all, updates and deletes both ways, self-healing host copies, unmanaged objects left alone with a Warning,
orphans removed at startup, zero writes after a restart, owner references, and two vclusters in one namespace."""

from __future__ import annotations

import base64

import pytest
from kubernetes_asyncio.client.exceptions import ApiException

from tests.conftest import S
from tests.kube import Core, pod
from tests.support import eventually, others_gone
from translators.names import host_name

pytestmark = pytest.mark.controlplane


async def create_pod(v: Core, ns: str, body: dict) -> None:
    """Pods wait for the namespace's default ServiceAccount, which the controller-manager creates."""

    async def created():
        try:
            return await v.create("pod", ns, body)
        except ApiException as e:
            if e.status == 403 and "serviceaccount" in (e.body or ""):
                return None
            raise

    await eventually(created, 30, "the pod to be admitted")


async def on_host(h: Core, kind: str, target: str, name: str, vns: str, timeout: float = 30, **match):
    """Wait for the host copy of virtual `vns/name` and return it (optionally until fields match)."""

    async def probe():
        obj = await h.get(kind, target, host_name(name, vns, S))
        return obj if obj and all(obj.get(k) == want for k, want in match.items()) else None

    return await eventually(probe, timeout, f"{kind} {vns}/{name} on the host")


async def gone_from_host(h: Core, kind: str, target: str, name: str, vns: str, timeout: float = 30) -> None:
    async def gone():
        return await h.get(kind, target, host_name(name, vns, S)) is None

    await eventually(gone, timeout, f"{kind} {vns}/{name} to leave the host")


async def test_configmap_used_by_a_pod_syncs_with_markers_and_an_unused_one_does_not(
    run_syncer, v, h, virtual_namespace, host_namespace
):
    vns, t = virtual_namespace, host_namespace
    used = await v.create(
        "config_map", vns, {"metadata": {"name": "used", "labels": {"app": "shop"}}, "data": {"a": "1"}}
    )
    await v.create("config_map", vns, {"metadata": {"name": "unused"}, "data": {"a": "1"}})
    await create_pod(v, vns, pod("web", env_configmap="used"))
    await run_syncer()

    copy = await on_host(h, "config_map", t, "used", vns)
    assert copy["metadata"]["name"] == f"used-x-{vns}-x-{S}"
    assert copy["data"] == {"a": "1"}
    assert copy["metadata"]["labels"] == {
        "app": "shop",
        "vcluster.loft.sh/managed-by": S,
        "vcluster.loft.sh/namespace": vns,
    }
    annotations = copy["metadata"]["annotations"]
    assert annotations["vcluster.loft.sh/object-name"] == "used"
    assert annotations["vcluster.loft.sh/object-namespace"] == vns
    assert annotations["vcluster.loft.sh/object-uid"] == used["metadata"]["uid"]
    assert annotations["vcluster.loft.sh/object-kind"] == "/v1, Kind=ConfigMap"
    assert annotations["vcluster.loft.sh/object-host-name"] == copy["metadata"]["name"]
    assert annotations["vcluster.loft.sh/object-host-namespace"] == t
    assert await h.get("config_map", t, host_name("unused", vns, S)) is None  # ready => processed once


async def test_force_synced_secret_is_opaque_on_host_and_its_data_never_logged(
    run_syncer, v, h, virtual_namespace, host_namespace
):
    vns, t = virtual_namespace, host_namespace
    # The token controller deletes token Secrets of a ServiceAccount that does not exist (yet): make ours first.
    await v.create("service_account", vns, {"metadata": {"name": "robot"}})
    annotations = {"vcluster.loft.sh/force-sync": "true", "kubernetes.io/service-account.name": "robot"}
    await v.create(
        "secret",
        vns,
        {
            "metadata": {"name": "token", "annotations": annotations},
            "type": "kubernetes.io/service-account-token",
            "stringData": {"password": "s3cr3t-value"},
        },
    )
    await v.create("secret", vns, {"metadata": {"name": "plain"}, "stringData": {"k": "v"}})
    syncer = await run_syncer()

    copy = await on_host(h, "secret", t, "token", vns)
    assert copy["type"] == "Opaque"
    assert base64.b64decode(copy["data"]["password"]) == b"s3cr3t-value"
    assert await h.get("secret", t, host_name("plain", vns, S)) is None
    await v.patch("secret", vns, "token", {"metadata": {"annotations": {"vcluster.loft.sh/force-sync": None}}})
    await gone_from_host(h, "secret", t, "token", vns)
    encoded = base64.b64encode(b"s3cr3t-value").decode()
    assert "s3cr3t-value" not in syncer.log_text() and encoded not in syncer.log_text()


async def test_sync_all_flags_sync_unused_configmaps_and_secrets(run_syncer, v, h, virtual_namespace, host_namespace):
    vns, t = virtual_namespace, host_namespace
    await v.create("config_map", vns, {"metadata": {"name": "loose"}, "data": {"x": "y"}})
    await v.create("secret", vns, {"metadata": {"name": "loose"}, "stringData": {"x": "y"}})
    await run_syncer("--sync-all-configmaps", "--sync-all-secrets")
    await on_host(h, "config_map", t, "loose", vns)
    await on_host(h, "secret", t, "loose", vns)


async def test_updates_and_deletes_propagate_and_the_last_user_leaving_removes_the_copy(
    run_syncer, v, h, virtual_namespace, host_namespace
):
    vns, t = virtual_namespace, host_namespace
    await run_syncer()
    await v.create("config_map", vns, {"metadata": {"name": "cfg"}, "data": {"a": "1", "b": "2"}})
    await v.create("secret", vns, {"metadata": {"name": "creds"}, "stringData": {"p": "1"}})
    await create_pod(v, vns, pod("web", volume_configmap="cfg", env_from_secret="creds"))
    await on_host(h, "config_map", t, "cfg", vns)
    await on_host(h, "secret", t, "creds", vns)

    await v.patch(
        "config_map", vns, "cfg", {"data": {"a": "changed", "b": None}, "metadata": {"annotations": {"team": "blue"}}}
    )
    copy = await on_host(h, "config_map", t, "cfg", vns, data={"a": "changed"})
    assert copy["metadata"]["annotations"]["team"] == "blue"

    await v.delete("config_map", vns, "cfg")
    await gone_from_host(h, "config_map", t, "cfg", vns)
    await v.delete("pod", vns, "web")  # unscheduled, so it goes at once; the Secret's last user is gone
    await gone_from_host(h, "secret", t, "creds", vns)


async def test_host_copy_deleted_or_edited_by_hand_is_restored_and_host_only_keys_survive(
    run_syncer, v, h, virtual_namespace, host_namespace
):
    vns, t = virtual_namespace, host_namespace
    await v.create(
        "config_map",
        vns,
        {"metadata": {"name": "cfg", "annotations": {"vcluster.loft.sh/force-sync": "true"}}, "data": {"a": "1"}},
    )
    await run_syncer()
    name = host_name("cfg", vns, S)
    await on_host(h, "config_map", t, "cfg", vns)

    await h.patch(
        "config_map", t, name, {"data": {"a": "tampered"}, "metadata": {"annotations": {"host-admin/note": "keep me"}}}
    )
    copy = await on_host(h, "config_map", t, "cfg", vns, data={"a": "1"})
    assert copy["metadata"]["annotations"]["host-admin/note"] == "keep me"

    await h.delete("config_map", t, name)
    await on_host(h, "config_map", t, "cfg", vns)


async def test_unmanaged_host_object_is_left_untouched_and_the_virtual_object_gets_a_warning(
    run_syncer, v, h, virtual_namespace, host_namespace
):
    vns, t = virtual_namespace, host_namespace
    name = host_name("cfg", vns, S)
    await h.create("config_map", t, {"metadata": {"name": name}, "data": {"owner": "someone else"}})
    await v.create(
        "config_map",
        vns,
        {"metadata": {"name": "cfg", "annotations": {"vcluster.loft.sh/force-sync": "true"}}, "data": {"a": "1"}},
    )
    await run_syncer()

    async def warning():
        events = await v.events_for(vns, "cfg")
        return [e for e in events if e["reason"] == "SyncError" and e["type"] == "Warning"]

    events = await eventually(warning, 30, "a SyncError event on the virtual ConfigMap")
    assert "not managed by this virtual cluster" in events[0]["message"]
    assert "-x-" not in events[0]["message"]
    assert (await h.get("config_map", t, name))["data"] == {"owner": "someone else"}

    await h.delete("config_map", t, name)  # once it is gone, sync proceeds
    await on_host(h, "config_map", t, "cfg", vns, data={"a": "1"}, timeout=60)


async def test_managed_orphan_on_the_host_is_deleted_at_startup(run_syncer, h, virtual_namespace, host_namespace):
    vns, t = virtual_namespace, host_namespace
    name = host_name("ghost", vns, S)
    await h.create(
        "config_map",
        t,
        {
            "metadata": {
                "name": name,
                "labels": {"vcluster.loft.sh/managed-by": S, "vcluster.loft.sh/namespace": vns},
                "annotations": {
                    "vcluster.loft.sh/object-name": "ghost",
                    "vcluster.loft.sh/object-namespace": vns,
                    "vcluster.loft.sh/object-kind": "/v1, Kind=ConfigMap",
                },
            }
        },
    )
    await run_syncer()
    assert await h.get("config_map", t, name) is None  # ready => every managed host key processed once


async def test_a_restart_with_everything_in_sync_makes_zero_writes(
    run_syncer, v, h, virtual_api, virtual_namespace, host_namespace
):
    vns, t = virtual_namespace, host_namespace
    await others_gone(virtual_api, vns)
    await h.create("service", t, {"metadata": {"name": S}, "spec": {"ports": [{"port": 443}]}})
    for i in range(5):
        await v.create(
            "config_map", vns, {"metadata": {"name": f"cm{i}", "labels": {"release": "x"}}, "data": {"a": str(i)}}
        )
        await v.create("secret", vns, {"metadata": {"name": f"s{i}"}, "stringData": {"a": str(i)}})
        await create_pod(v, vns, pod(f"p{i}", env_configmap=f"cm{i}", env_from_secret=f"s{i}"))
    only_these = "--sync=-pods,-fake-nodes,-events"  # pods have their own zero-writes test; events: new data
    first = await run_syncer(only_these)
    for i in range(5):
        await on_host(h, "secret", t, f"s{i}", vns)
    assert await first.writes("host") >= 10
    await first.settle()
    await first.stop()

    second = await run_syncer(only_these)
    assert await second.metric("vcsync_sync_total", kind="configmaps", result="unchanged") >= 5
    assert await second.writes() == 0


async def test_host_copies_are_owned_by_the_vcluster_service(run_syncer, v, h, virtual_namespace, host_namespace):
    vns, t = virtual_namespace, host_namespace
    service = await h.create("service", t, {"metadata": {"name": S}, "spec": {"ports": [{"port": 443}]}})
    await v.create(
        "config_map", vns, {"metadata": {"name": "cfg", "annotations": {"vcluster.loft.sh/force-sync": "true"}}}
    )
    await run_syncer()

    copy = await on_host(h, "config_map", t, "cfg", vns)
    assert copy["metadata"]["ownerReferences"] == [
        {"apiVersion": "v1", "kind": "Service", "name": S, "uid": service["metadata"]["uid"], "controller": False}
    ]


async def test_two_vclusters_in_one_namespace_keep_to_their_own_objects(
    run_syncer, v, h, virtual_namespace, host_namespace
):
    vns, t = virtual_namespace, host_namespace
    await v.create(
        "config_map",
        vns,
        {"metadata": {"name": "same", "annotations": {"vcluster.loft.sh/force-sync": "true"}}, "data": {"a": "1"}},
    )
    one = await run_syncer(name="one")
    await run_syncer(name="two")
    ones = await eventually(lambda: h.get("config_map", t, host_name("same", vns, "one")), 30, "one's copy")
    await eventually(lambda: h.get("config_map", t, host_name("same", vns, "two")), 30, "two's copy")
    await one.stop()

    await v.patch("config_map", vns, "same", {"data": {"a": "2"}})  # only `two` runs now
    await v.delete("config_map", vns, "same")

    async def twos_gone():
        return await h.get("config_map", t, host_name("same", vns, "two")) is None

    await eventually(twos_gone, 30, "two's copy deleted")
    untouched = await h.get("config_map", t, host_name("same", vns, "one"))
    assert untouched["metadata"]["resourceVersion"] == ones["metadata"]["resourceVersion"]
