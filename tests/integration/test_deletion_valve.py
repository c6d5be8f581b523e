"""The mass-deletion safety valve against the real clusters: a virtual API server that comes back on an empty etcd
costs the tenant no host object — the deletions are held, reported on the vcluster Service, still held by a
restarted syncer, and go only when an operator allows them; deletions missed while vcsync was down wait until the
objects show up again; and a namespace the tenant deletes while vcsync watches is deleted on the host at once."""

from __future__ import annotations

import datetime as dt

import pytest
from kubernetes_asyncio import client

from tests.conftest import S, ensure_virtual_dns
from tests.support import eventually
from translators.names import host_name

pytestmark = pytest.mark.controlplane
SYNC = ("--sync=-pods,-fake-nodes,-events", "--sync-all-secrets")
COUNT = 30  # more than --mass-deletion-minimum (20), and (nearly) all of the kind's host objects


async def synced_secrets(v, h, vns: str, t: str, count: int = COUNT) -> None:
    for i in range(count):
        await v.create("secret", vns, {"metadata": {"name": f"s-{i}"}, "stringData": {"i": str(i)}})
    await eventually(lambda: host_copies(h, t, vns, count), 60, f"{count} Secrets on the host")


async def host_copies(h, t: str, vns: str, count: int) -> bool:
    items = (await h.v1.list_namespaced_secret(t, label_selector=f"vcluster.loft.sh/namespace={vns}")).items
    return len([c for c in items if c.metadata.name.startswith("s-")]) == count


async def held(syncer, count: int = COUNT) -> bool:
    return await syncer.metric("vcsync_deletions_held", kind="secrets") >= count


async def test_a_virtual_cluster_that_comes_back_empty_loses_no_host_object(
    cluster_pair, run_syncer, vcluster_service, v, h, virtual_namespace, host_namespace
):
    vns, t = virtual_namespace, host_namespace
    syncer = await run_syncer(*SYNC)
    await synced_secrets(v, h, vns, t)
    try:
        await cluster_pair.virtual.wipe_storage_async()
        await eventually(lambda: held(syncer), 60, "the valve to hold the Secrets' deletion")
        assert await syncer.metric("vcsync_watch_restarts_total", cluster="virtual", reason="storage_back") >= 1
    finally:
        ensure_virtual_dns(cluster_pair)  # the other tests' session fixture
    assert await host_copies(h, t, vns, COUNT)
    held_events = [e for e in await h.events_for(t, S) if e["reason"] == "MassDeletionHeld"]
    (event,) = [e for e in held_events if " host secrets " in e["message"]]  # (Services may be held too)
    assert event["type"] == "Warning" and event["message"].startswith(f"holding the deletion of {COUNT} of ")

    await syncer.stop()
    syncer = await run_syncer(*SYNC)  # one that starts on the empty virtual cluster holds them too
    await eventually(lambda: held(syncer), 30, "the restarted syncer to hold them")
    await syncer.settle()
    assert await host_copies(h, t, vns, COUNT)

    until = (dt.datetime.now(dt.UTC) + dt.timedelta(minutes=10)).strftime("%Y-%m-%dT%H:%M:%SZ")
    await h.patch("service", t, S, {"metadata": {"annotations": {"vcluster.loft.sh/allow-mass-deletion-until": until}}})
    await eventually(lambda: host_copies(h, t, vns, 0), 60, "the operator-allowed deletions")
    assert await syncer.metric("vcsync_deletions_held", kind="secrets") == 0


async def test_deletions_missed_while_vcsync_was_down_wait_for_the_objects_to_come_back(
    run_syncer, vcluster_service, virtual_api, v, h, virtual_namespace, host_namespace
):
    vns, t = virtual_namespace, host_namespace
    syncer = await run_syncer(*SYNC)
    await synced_secrets(v, h, vns, t)
    await syncer.stop()
    await client.CoreV1Api(virtual_api).delete_collection_namespaced_secret(vns)
    syncer = await run_syncer(*SYNC)
    await eventually(lambda: held(syncer, COUNT), 30, "the valve to hold the deletions it did not see")
    await syncer.settle()
    assert await host_copies(h, t, vns, COUNT)

    for i in range(COUNT):  # the objects show up again: they sync as usual, nothing is held any more
        await v.create("secret", vns, {"metadata": {"name": f"s-{i}"}, "stringData": {"i": str(i)}})

    async def synced_again():
        for i in range(COUNT):
            copy = await h.get("secret", t, host_name(f"s-{i}", vns, S))
            uid = (await v.get("secret", vns, f"s-{i}"))["metadata"]["uid"]
            if not copy or copy["metadata"]["annotations"]["vcluster.loft.sh/object-uid"] != uid:
                return False
        return True

    await eventually(synced_again, 60, "the host copies to follow the re-created Secrets")
    assert await syncer.metric("vcsync_deletions_held", kind="secrets") == 0


async def test_a_namespace_the_tenant_deletes_goes_from_the_host_at_once(
    run_syncer, vcluster_service, virtual_api, v, h, virtual_namespace, host_namespace
):
    vns, t = virtual_namespace, host_namespace
    syncer = await run_syncer(*SYNC)
    await synced_secrets(v, h, vns, t)
    await client.CoreV1Api(virtual_api).delete_namespace(vns)
    await eventually(lambda: host_copies(h, t, vns, 0), 60, "the namespace's Secrets to go from the host")
    assert await syncer.metric("vcsync_deletions_held", kind="secrets") == 0
    assert [e for e in await h.events_for(t, S) if e["reason"] == "MassDeletionHeld"] == []
