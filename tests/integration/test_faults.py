"""Rows of the fault table that need more than a restart: the syncer killed in the middle of a burst of pods, a
host watch that comes back 410 Gone after changes vcsync never saw, a host watch whose connection stalls (a
black-holing NAT, played by tests.netfault's relay), the leader frozen under load while a standby takes over,
a pod a host LimitRange refuses, a 409 storm on one object, and a host that answers 429 (API Priority and Fairness,
every seat of vcsync's priority level taken). Each row asserts convergence and a bound on what was written (nothing
twice, nothing late, retries that back off)."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import itertools
import json
import signal
import ssl
import time

import aiohttp
import pytest
import yaml
from kubernetes_asyncio import client
from multidict import CIMultiDict

from tests.conftest import POD_SYNC, S
from tests.integration.test_sync_configmaps_secrets import create_pod, on_host
from tests.integration.test_sync_resilience import FORCED, compact_etcd
from tests.kube import Any_
from tests.netfault import Relay
from tests.support import eventually, others_gone, token_kubeconfig
from tests.syncer_process import WRITE_VERBS
from translators.markers import OBJECT_UID
from translators.names import host_name

pytestmark = pytest.mark.controlplane
BURST = 200
IDLE, REQUEST, SLACK = 5, 3, 15  # the stalled-watch row: --watch-idle-timeout, --request-timeout, slack (s)
MANAGED = f"vcluster.loft.sh/managed-by={S}"


async def test_sigkill_in_the_middle_of_a_burst_then_a_restart_gives_every_pod_exactly_once(
    run_syncer, vcluster_service, virtual_api, v, h, virtual_namespace, host_namespace
):
    vns, t = virtual_namespace, host_namespace
    syncer = await run_syncer(*POD_SYNC)
    labels = {"app": "burst"}
    spec = {
        "replicas": BURST,
        "selector": {"matchLabels": labels},
        "template": {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "c", "image": "app"}]}},
    }
    await client.AppsV1Api(virtual_api).create_namespaced_deployment(vns, {"metadata": {"name": "burst"}, "spec": spec})

    async def host_pods() -> list[dict]:
        pods = await h.v1.list_namespaced_pod(t, label_selector=f"vcluster.loft.sh/managed-by={S}")
        return [p.to_dict() for p in pods.items]

    await eventually(lambda: _at_least(host_pods, BURST // 4), 60, "a quarter of the burst on the host")
    await syncer.stop(signal.SIGKILL)
    killed_at = len(await host_pods())
    assert killed_at < BURST, "the burst was over before the kill: the row proves nothing"

    await run_syncer(*POD_SYNC)

    async def all_running():
        vpods = [p.to_dict() for p in (await v.v1.list_namespaced_pod(vns)).items]
        running = [p for p in vpods if p["status"]["phase"] == "Running"]
        return vpods if len(vpods) == BURST and len(running) == BURST else None

    vpods = await eventually(all_running, 180, f"{BURST} virtual pods Running")
    hpods = await host_pods()
    assert len(hpods) == BURST  # no pod twice, none missing
    by_uid = {p["metadata"]["annotations"]["vcluster.loft.sh/uid"] for p in hpods}
    assert by_uid == {p["metadata"]["uid"] for p in vpods}  # each host pod is the copy of a live virtual pod


async def test_a_host_watch_gone_after_compaction_repairs_what_changed_while_it_was_away(
    run_syncer, cluster_pair, v, h, virtual_namespace, host_namespace
):
    vns, t = virtual_namespace, host_namespace
    for name in ("deleted", "edited"):
        await v.create("config_map", vns, {"metadata": {"name": name, "annotations": FORCED}, "data": {"a": "1"}})
    syncer = await run_syncer()
    for name in ("deleted", "edited"):
        await on_host(h, "config_map", t, name, vns)

    syncer.send(signal.SIGSTOP)  # it must not see these changes on its open watch
    try:
        await cluster_pair.host.restart_async("kube-apiserver")
        await h.delete("config_map", t, host_name("deleted", vns, S))
        await h.patch("config_map", t, host_name("edited", vns, S), {"data": {"a": "changed by a host admin"}})
        await compact_etcd(cluster_pair.host)
        await cluster_pair.host.restart_async("kube-apiserver")  # a fresh watch cache: old versions are gone
    finally:
        syncer.send(signal.SIGCONT)

    await on_host(h, "config_map", t, "deleted", vns, timeout=60)
    await on_host(h, "config_map", t, "edited", vns, timeout=60, data={"a": "1"})
    assert await syncer.metric("vcsync_watch_restarts_total", cluster="host", reason="gone") >= 1


async def test_a_stalled_host_watch_is_dropped_and_resumed_without_a_relist(
    run_syncer, cluster_pair, v, h, virtual_api, virtual_namespace, host_namespace, tmp_path
):
    vns, t = virtual_namespace, host_namespace
    await others_gone(virtual_api, vns)  # their host copies' deletion would count as writes here
    await v.create("config_map", vns, {"metadata": {"name": "cfg", "annotations": FORCED}, "data": {"a": "1"}})
    async with Relay(cluster_pair.host.port) as relay:
        kubeconfig = relay.kubeconfig(cluster_pair.host.kubeconfig, tmp_path / "host-via-relay.kubeconfig")
        syncer = await run_syncer(
            f"--host-kubeconfig={kubeconfig}", f"--watch-idle-timeout={IDLE}s", f"--request-timeout={REQUEST}s"
        )
        await on_host(h, "config_map", t, "cfg", vns)
        await syncer.settle()
        idle = {"cluster": "host", "kind": "configmaps", "reason": "idle"}
        restarts, written = await syncer.metric("vcsync_watch_restarts_total", **idle), await _answered_writes(syncer)

        assert relay.stall() > 0  # vcsync's open host connections, its watches among them, now deliver nothing
        await h.delete("config_map", t, host_name("cfg", vns, S))  # a host admin, straight to the API server

        await on_host(h, "config_map", t, "cfg", vns, timeout=IDLE + REQUEST + SLACK)
        await syncer.settle()
        assert await syncer.metric("vcsync_watch_restarts_total", **idle) > restarts
        assert await _answered_writes(syncer) - written == 1  # the one re-create
        for reason in ("gone", "storage_back"):  # the ways to a relist: none taken
            assert await syncer.metric("vcsync_watch_restarts_total", reason=reason) == 0
        assert "re-listing" not in syncer.log_text()
        await syncer.stop()


async def _answered_writes(syncer) -> float:
    """Host writes that reached the host: those sent into a stalled connection time out (code "error") unseen."""
    metric = "vcsync_api_requests_total"
    failed = [await syncer.metric(metric, cluster="host", verb=v, code="error") for v in WRITE_VERBS]
    return await syncer.writes("host") - sum(failed)


async def _at_least(pods, count: int) -> bool:
    return len(await pods()) >= count


LEASE_DURATION, RENEW_DEADLINE, RETRY_PERIOD = 4, 3, 1
REPLICA = (
    "--leader-elect",
    f"--lease-duration={LEASE_DURATION}s",
    f"--renew-deadline={RENEW_DEADLINE}s",
    f"--retry-period={RETRY_PERIOD}s",
    "--log-level=debug",  # `api write`: the moment each write is sent
    "--host-qps=5",  # the replicas stay behind the stream: writes wait for their token, renewals must not
    "--host-burst=1",
)
FENCED = 2  # creates answered 409: one caught on its way out by the freeze, one of a cache that lags a create
STREAM, LAG = 100, 10  # ConfigMaps created; each is updated once, LAG creates later
OBJECT_VERBS = ("create", "patch", "delete")  # how vcsync writes objects (updates are the lease's renewals)
PACE = 0.1  # seconds between two steps of the tenant's stream (the load's shape, not a wait)


async def test_a_leader_frozen_under_load_hands_over_and_writes_nothing_after_its_renew_deadline(
    run_syncer, v, h, virtual_api, virtual_namespace, host_namespace
):
    """Two replicas, each with a small host request budget (5/s) so writes queue for their tokens; the tenant
    creates 100 forced ConfigMaps and updates each once, steadily, while the leader is frozen (SIGSTOP) for longer
    than lease duration + retry period, the standby takes over, and the old leader is resumed (SIGCONT).

    Every object ends with one host copy holding its last data, created once across both replicas (a create caught
    on its way out by the freeze may go out on resume and meet 409), updated at most once, nothing deleted. The old
    leader lets no write through its gate after its renew deadline (its debug log has an `api write` line, with
    `ts`, for each write it sends): the writes that were waiting for a token when it froze are refused on resume,
    counted and logged; it finds the lease taken and exits 1. Neither replica's gate ever shuts while it holds the
    lease: renewals do not queue behind the writes."""
    vns, t = virtual_namespace, host_namespace
    await others_gone(virtual_api, vns)  # their host copies' deletion would count as writes here
    leader = await run_syncer(*REPLICA)

    async def leads(syncer) -> bool:
        return await syncer.metric("vcsync_leader") == 1

    await eventually(lambda: leads(leader), 30, "the first replica to take the lease")
    standby = await run_syncer(*REPLICA)
    assert await standby.metric("vcsync_leader") == 0

    def name(i: int) -> str:
        return f"cm-{i:03d}"

    async def tenant_stream() -> None:
        for i in range(STREAM + LAG):
            if i < STREAM:
                body = {"metadata": {"name": name(i), "annotations": FORCED}, "data": {"n": str(i), "gen": "1"}}
                await v.create("config_map", vns, body)
            if i >= LAG:
                await v.patch("config_map", vns, name(i - LAG), {"data": {"gen": "2"}})
            await asyncio.sleep(PACE)

    async def host_copies() -> dict[str, dict]:
        resp = await h.v1.list_namespaced_config_map(t, label_selector=MANAGED, _preload_content=False)
        return {c["metadata"]["name"]: c for c in json.loads(await resp.read())["items"]}

    async def at_least(count: int) -> bool:
        return len(await host_copies()) >= count

    stream = asyncio.create_task(tenant_stream())
    try:
        await eventually(lambda: at_least(STREAM // 4), 60, "a quarter of the stream on the host")
        leader.send(signal.SIGSTOP)
        frozen_at, frozen_wall = time.monotonic(), time.time()

        await eventually(lambda: leads(standby), 30, "the standby to take the lease")
        takeover = time.monotonic() - frozen_at
        assert takeover < LEASE_DURATION + 2 * RETRY_PERIOD + 3  # + slack for a loaded machine
        held = LEASE_DURATION + RETRY_PERIOD + 1 - (time.monotonic() - frozen_at)
        if held > 0:
            await asyncio.sleep(held)  # the fault is a duration: frozen longer than lease duration + retry period
        leader.send(signal.SIGCONT)

        async def exited() -> bool:
            return leader.proc.returncode is not None

        await eventually(exited, 30, "the old leader to exit")
        assert leader.proc.returncode == 1  # a replica that lost the lease exits 1 (SPEC §9.6), to restart as standby
        await stream
    finally:
        stream.cancel()

    expected = {host_name(name(i), vns, S): {"n": str(i), "gen": "2"} for i in range(STREAM)}

    async def converged() -> dict[str, dict] | None:
        copies = await host_copies()
        return copies if {n: c.get("data") for n, c in copies.items()} == expected else None

    started = time.monotonic()
    copies = await eventually(converged, 90, "every ConfigMap's last data on the host")
    recovery = time.monotonic() - started
    assert len(copies) == STREAM  # exactly one host copy each: no stray name, none missing
    virtual = (await v.v1.list_namespaced_config_map(vns)).items
    uids = {c.metadata.uid for c in virtual if c.metadata.name.startswith("cm-")}
    assert {c["metadata"]["annotations"][OBJECT_UID] for c in copies.values()} == uids  # each of a live object

    lines = [json.loads(line) for line in leader.log_text().splitlines() if line.startswith("{")]
    deadline = frozen_wall + RENEW_DEADLINE

    def at(line: dict) -> float:
        return dt.datetime.fromisoformat(line["ts"]).timestamp()

    writes = [ln for ln in lines if ln["msg"] == "api write" and "/leases" not in ln["path"]]  # the lease: no gate
    late = [ln for ln in writes if at(ln) > deadline]
    assert late == [], f"the old leader let writes through after its renew deadline: {late[:5]}"
    refused = [ln for ln in lines if ln["msg"] == "write refused: not the leader"]
    assert refused, "the old leader tried no write after its resume: the gate was not exercised"
    early = [ln for ln in refused if at(ln) <= deadline]
    assert early == [], f"the leader's gate shut before it was frozen (renewals late under load): {early[:3]}"
    assert any(ln["msg"] == "lost leadership" for ln in lines)
    assert "write refused" not in standby.log_text()  # the new leader's renewals kept up with its writes

    await _quiet(lambda: _object_writes(standby))

    async def standby_count(verb: str) -> float:
        return await standby.metric("vcsync_api_requests_total", cluster="host", verb=verb)

    old = {verb: len([ln for ln in writes if (ln["cluster"], ln["verb"]) == ("host", verb)]) for verb in OBJECT_VERBS}
    new = {verb: await standby_count(verb) for verb in OBJECT_VERBS}
    conflicts = await standby.metric("vcsync_api_requests_total", cluster="host", code="409")
    print(
        f"takeover {takeover:.1f}s, converged {recovery:.1f}s after the old leader exited; host writes: old leader "
        f"{old}, standby {new} ({conflicts:g} answered 409); refused after resume {len(refused)}"
    )
    creates, patches = old["create"] + new["create"], old["patch"] + new["patch"]
    # Each ConfigMap created once; a create that meets an existing copy is answered 409 AlreadyExists and changes
    # nothing. One may have been on its way out when the leader froze (past the gate, not yet on the wire): it goes
    # out on resume, since the Kubernetes API has no fencing token beyond a write's own precondition.
    assert STREAM <= creates <= STREAM + FENCED, f"{creates:g} creates for {STREAM} ConfigMaps"
    assert patches <= STREAM, f"{patches:g} updates for {STREAM} changes"  # each change once at most (or merged)
    assert old["delete"] + new["delete"] == 0


async def _object_writes(syncer) -> float:
    """Host writes of objects: creates, patches and deletes (lease renewals are updates, and never stop)."""
    return sum([await syncer.metric("vcsync_api_requests_total", cluster="host", verb=v) for v in OBJECT_VERBS])


async def _quiet(count, quiet: float = 3.0, timeout: float = 60) -> float:
    """`count()` once it has not changed for `quiet` seconds."""
    last, since = await count(), time.monotonic()

    async def still() -> bool:
        nonlocal last, since
        now = await count()
        if now != last:
            last, since = now, time.monotonic()
        return time.monotonic() - since >= quiet

    await eventually(still, timeout, f"no change for {quiet:g}s")
    return last


BACKOFF_WINDOW = 10.0  # seconds over which the refused pod's retries are counted
MAX_RETRIES_IN_WINDOW = 5  # per-key backoff doubles from 5 ms: after 8 refusals, 3-4 attempts in 10 s; 1/s is 10


async def test_a_pod_a_host_limitrange_refuses_is_told_why_retried_with_backoff_and_synced_once_it_is_lifted(
    run_syncer, vcluster_service, v, h, virtual_api, virtual_namespace, host_namespace
):
    """A host LimitRange (at most 100m cpu per container) in the vcluster's host namespace makes the host refuse a
    tenant pod asking for 500m at create. The tenant's pod gets a SyncError Warning with the host's reason, scrubbed
    of host names; vcsync retries with backoff (at most 5 creates in 10 s once 8 were refused, no flap guard); once
    the LimitRange is deleted the next attempt creates the host pod, exactly once, with the tenant's resources."""
    vns, t = virtual_namespace, host_namespace
    await others_gone(virtual_api, vns)  # the window counts this syncer's host writes only
    await h.create("limit_range", t, {"metadata": {"name": "small"}, "spec": {"limits": [SMALL]}})
    syncer = await run_syncer(*POD_SYNC)
    resources = {"requests": {"cpu": "500m"}, "limits": {"cpu": "500m"}}
    body = {"metadata": {"name": "big"}, "spec": {"containers": [{"name": "c", "image": "x", "resources": resources}]}}
    await create_pod(v, vns, body)

    async def refusals() -> float:
        return await syncer.metric("vcsync_sync_errors_total", kind="pods", reason="host_rejected")

    async def refused(count: int) -> bool:
        return await refusals() >= count

    await eventually(lambda: refused(8), 60, "eight refused creates")
    messages = [e["message"] for e in await v.events_for(vns, "big") if e["type"] == "Warning"]
    assert any("maximum cpu usage per Container is 100m" in m for m in messages), messages
    leaked = [m for m in messages if host_name("big", vns, S) in m or t in m]
    assert leaked == [], leaked  # the host's names are scrubbed: the tenant reads its own pod's name
    assert any('pods "big" is forbidden' in m for m in messages), messages
    assert await h.get("pod", t, host_name("big", vns, S)) is None

    before, writes = await refusals(), await syncer.writes("host")
    await asyncio.sleep(BACKOFF_WINDOW)  # a retry rate needs a window: what the refused pod costs in it
    retried, written = await refusals() - before, await syncer.writes("host") - writes
    assert 1 <= retried <= MAX_RETRIES_IN_WINDOW, f"{retried:g} refused creates in {BACKOFF_WINDOW:g}s"
    assert written == retried  # the refused creates are all this syncer writes meanwhile
    assert await syncer.metric("vcsync_flapping_total") == 0  # refused writes are not a loop of vcsync's own

    await h.delete("limit_range", t, "small")
    lifted = time.monotonic()
    copy = await on_host(h, "pod", t, "big", vns, timeout=120)  # the backoff's next attempt succeeds
    recovery = time.monotonic() - lifted
    assert copy["spec"]["containers"][0]["resources"]["limits"] == {"cpu": "500m"}
    await syncer.settle()
    total = await refusals()
    attempts = [
        e
        for e in syncer.log_entries()
        if e.get("msg") == "create host object" and e.get("kind") == "pods" and e.get("vname") == "big"
    ]
    print(
        f"{retried:g} refused creates in {BACKOFF_WINDOW:g}s after the 8th, {total:g} in all; the pod on the host "
        f"{recovery:.1f}s after the LimitRange went"
    )
    assert len(attempts) == total + 1  # every refused attempt, then one create: none after it succeeded
    assert await refusals() == total


SMALL = {"type": "Container", "max": {"cpu": "100m"}}


TENANT_CHANGES = 5  # within the flap guard's 5 writes a minute, so every change may be written
STORM_PACE = 0.2  # seconds between two tenant changes during the host admin's storm (the load's shape)


async def test_a_409_storm_on_one_object_converges_to_the_tenants_last_value_with_bounded_writes(
    run_syncer, v, h, virtual_api, virtual_namespace, host_namespace
):
    """vcsync's host updates are merge patches carrying the cached resourceVersion (SPEC §6), so a host object that
    someone else keeps writing answers them 409 Conflict. Here a host admin annotates the synced copy of a forced
    ConfigMap in a tight loop (hundreds of writes a second, for as long as the tenant keeps changing it) while the
    tenant changes its data 5 times. The host copy ends with the tenant's last data and the admin's last annotation
    (vcsync never writes what it does not own); vcsync met at least one 409, wrote each change at most once, and made
    at most 2 update attempts per tenant change: a 409 is retried after 1 s (SPEC §9.4), not at each of the admin's
    watch events, which would retry against a cache that is still behind, in a loop as fast as the admin's."""
    vns, t = virtual_namespace, host_namespace
    await others_gone(virtual_api, vns)  # the counts are of this object's writes only
    await v.create("config_map", vns, {"metadata": {"name": "hot", "annotations": FORCED}, "data": {"v": "0"}})
    syncer = await run_syncer()
    await on_host(h, "config_map", t, "hot", vns)
    await syncer.settle()
    hot, touch = host_name("hot", vns, S), "admin.example.com/touch"
    tenant_done = asyncio.Event()
    admin_writes = 0

    async def host_admin() -> None:
        nonlocal admin_writes
        while not tenant_done.is_set():
            admin_writes += 1
            await h.patch("config_map", t, hot, {"metadata": {"annotations": {touch: str(admin_writes)}}})

    async def patches(code: str = "") -> float:
        where = {"code": code} if code else {}
        return await syncer.metric("vcsync_api_requests_total", cluster="host", verb="patch", **where)

    storm = asyncio.create_task(host_admin())
    try:
        for i in range(1, TENANT_CHANGES + 1):
            await v.patch("config_map", vns, "hot", {"data": {"v": str(i)}})
            await asyncio.sleep(STORM_PACE)
    finally:
        tenant_done.set()
        await storm
    stopped = time.monotonic()

    async def converged() -> dict | None:
        copy = await h.get("config_map", t, hot)
        return copy if copy["data"] == {"v": str(TENANT_CHANGES)} else None

    copy = await eventually(converged, 60, "the tenant's last value on the host")
    recovery = time.monotonic() - stopped
    assert copy["metadata"]["annotations"][touch] == str(admin_writes)  # the admin's own field is left alone
    await syncer.settle()
    written, conflicts = await patches("200"), await patches("409")
    print(
        f"{admin_writes} admin writes; vcsync: {written:g} updates, {conflicts:g} answered 409; converged "
        f"{recovery:.1f}s after the storm"
    )
    assert conflicts >= 1, "no 409 met: the row proves nothing"
    assert written <= TENANT_CHANGES  # each change written once at most (or merged with later ones)
    assert written + conflicts <= 2 * TENANT_CHANGES, f"{written + conflicts:g} update attempts"
    assert await syncer.metric("vcsync_flapping_total") == 0


APF = "/apis/flowcontrol.apiserver.k8s.io/v1"
THROTTLED_OBJECTS = 50
THROTTLED_SHARES = 10  # the priority level's seats: 10 of the server's ~250 shares of 600, over vcsync's 10 workers
REFUSALS_PER_OBJECT = 3  # the throttled window lasts until vcsync met this many 429s per object (on average)
MIN_RETRY_AFTER = 1.0  # seconds: the API server's Retry-After is whole seconds, at least 1 (then doubling to 32)
HOLDERS_MAX = 200  # requests opened to take the level's seats, at most
CREATES, CODES = "vcsync_api_requests_total", ("201", "429")  # how create attempts were answered


def _throttle(name: str, account: str, namespace: str) -> tuple[dict, dict]:
    """API Priority and Fairness objects for `namespace/account` alone: a priority level of its own that neither
    lends nor borrows seats (so its limit is fixed, whatever the rest of the host is doing) and rejects at once
    (429, no queue) a request that finds every seat taken."""
    level = {
        "metadata": {"name": name},
        "spec": {
            "type": "Limited",
            "limited": {
                "nominalConcurrencyShares": THROTTLED_SHARES,
                "lendablePercent": 0,
                "borrowingLimitPercent": 0,  # unset, a level borrows without limit from levels that lend
                "limitResponse": {"type": "Reject"},
            },
        },
    }
    everything = {"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"], "clusterScope": True, "namespaces": ["*"]}
    subject = {"kind": "ServiceAccount", "serviceAccount": {"name": account, "namespace": namespace}}
    schema = {
        "metadata": {"name": name},
        "spec": {
            "matchingPrecedence": 100,
            "priorityLevelConfiguration": {"name": name},
            "rules": [
                {
                    "subjects": [subject],
                    "resourceRules": [everything],
                    "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}],
                }
            ],
        },
    }
    return level, schema


class _Seats:
    """Requests of the throttled identity that take its priority level's seats and keep them. Each sends its headers
    with `Expect: 100-continue` and holds its body back: a request given a seat is answered `100 Continue` when the
    API server starts reading the body (inside the seat), one that finds no free seat is answered 429 at once.
    `release()` sends the held bodies (dry-run creates), each then answered 201."""

    def __init__(self, port: int, ca_data: str, token: str, namespace: str) -> None:
        self.port, self.token, self.namespace = port, token, namespace
        self.ssl = ssl.create_default_context(cadata=base64.b64decode(ca_data).decode())
        self.ssl.set_alpn_protocols(["http/1.1"])
        self.open: list[tuple[asyncio.StreamReader, asyncio.StreamWriter, asyncio.Task[bytes], bytes]] = []

    async def take(self, count: int) -> None:
        for _ in range(count):
            reader, writer = await asyncio.open_connection("127.0.0.1", self.port, ssl=self.ssl)
            name = f"seat-{len(self.open)}"
            body = json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}}).encode()
            head = (
                f"POST /api/v1/namespaces/{self.namespace}/configmaps?dryRun=All HTTP/1.1\r\n"
                f"Host: 127.0.0.1:{self.port}\r\nAuthorization: Bearer {self.token}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\nExpect: 100-continue\r\n\r\n"
            )
            writer.write(head.encode())
            await writer.drain()
            self.open.append((reader, writer, asyncio.create_task(reader.readline()), body))

    def _answered(self, status: bytes) -> int:
        return sum(1 for *_, answer, _ in self.open if answer.done() and answer.result().startswith(status))

    def held(self) -> int:
        return self._answered(b"HTTP/1.1 100 ")

    def refused(self) -> int:
        return self._answered(b"HTTP/1.1 429 ")

    def pending(self) -> int:
        return sum(1 for *_, answer, _ in self.open if not answer.done())

    async def release(self) -> list[bytes]:
        """Send the held requests' bodies; the status line each is then answered with."""
        held = [(r, w, body) for r, w, answer, body in self.open if answer.done() and answer.result()[9:12] == b"100"]
        for _, writer, body in held:
            writer.write(body)
        lines = []
        for reader, _, _ in held:
            while not (line := await asyncio.wait_for(reader.readline(), 60)).strip():
                pass  # the blank line that ends the 100 Continue
            lines.append(line)
        self.close()
        return lines

    def close(self) -> None:
        for _, writer, answer, _ in self.open:
            answer.cancel()
            writer.close()
        self.open = []


async def _status_as(port: int, ssl_context: ssl.SSLContext, token: str, path: str) -> tuple[int, CIMultiDict[str]]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(
            f"https://127.0.0.1:{port}{path}", headers={"Authorization": f"Bearer {token}"}, ssl=ssl_context
        ) as resp,
    ):
        return resp.status, CIMultiDict(resp.headers)


async def test_a_host_that_answers_429_is_waited_for_as_it_asks_and_everything_syncs_once(
    run_syncer, cluster_pair, host_api, v, h, virtual_api, virtual_namespace, host_namespace, tmp_path
):
    """The host's API Priority and Fairness puts vcsync's identity (a ServiceAccount of its own, so no other client
    is touched) in a priority level of its own that rejects what finds no free seat; the test then takes every seat
    of that level itself, so each request vcsync sends meanwhile is answered 429 with a Retry-After (1 s, doubling
    under load up to 32 s). The tenant creates 50 forced ConfigMaps. Until vcsync met 3 refusals per ConfigMap,
    every next attempt at a key comes no sooner than the Retry-After it was given (its log: `create host object`,
    then `throttled; retrying` with `retry_in_s`), and the host requests of the window stay under what 1 s apart
    per key allows. Once the seats are released every ConfigMap is created exactly once, with its data."""
    vns, t = virtual_namespace, host_namespace
    await others_gone(virtual_api, vns)  # the counts are of this test's objects only
    host = Any_(host_api)
    name = f"vcsync-throttled-{t}"  # the server's Retry-After history is per priority level name: a fresh one
    binding = {
        "metadata": {"name": name},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
        "subjects": [{"kind": "ServiceAccount", "name": "throttled", "namespace": t}],
    }
    level, schema = _throttle(name, "throttled", t)
    paths = (
        f"{APF}/flowschemas/{name}",
        f"{APF}/prioritylevelconfigurations/{name}",
        f"/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/{name}",
    )
    seats: _Seats | None = None
    try:
        await h.create("service_account", t, {"metadata": {"name": "throttled"}})
        await host.call("POST", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", binding)
        level_uid = (await host.call("POST", f"{APF}/prioritylevelconfigurations", level))["metadata"]["uid"]
        await host.call("POST", f"{APF}/flowschemas", schema)
        kubeconfig = token_kubeconfig(cluster_pair, t, "throttled", tmp_path / "throttled.kubeconfig")
        cluster = yaml.safe_load(kubeconfig.read_text())["clusters"][0]["cluster"]
        token = yaml.safe_load(kubeconfig.read_text())["users"][0]["user"]["token"]
        port = cluster_pair.host.port
        seats = _Seats(port, cluster["certificate-authority-data"], token, t)

        async def classified() -> bool:  # the API server tells each request's priority level in a header
            status, headers = await _status_as(port, seats.ssl, token, f"/api/v1/namespaces/{t}")
            return status == 200 and headers.get("X-Kubernetes-PF-PriorityLevel-UID") == level_uid

        await eventually(classified, 30, "the throttled identity's requests in their own priority level")
        syncer = await run_syncer(f"--host-kubeconfig={kubeconfig}")
        await syncer.settle()  # what it syncs at start (objects other tests left in the virtual cluster) is done
        baseline = {code: await syncer.metric(CREATES, cluster="host", verb="create", code=code) for code in CODES}
        written = await syncer.writes("host")

        async def all_taken() -> bool:
            if seats.pending():
                return False  # every request answered, either way
            probe = f"/api/v1/namespaces/{t}"
            if seats.refused() and (await _status_as(port, seats.ssl, token, probe))[0] == 429:
                return True  # a seat vcsync held when a request was refused is free again: take more
            assert len(seats.open) < HOLDERS_MAX, f"{seats.held()} seats held, none refused"
            await seats.take(10)
            return False

        await eventually(all_taken, 60, "every seat of the throttled level taken")
        held = seats.held()
        met = await syncer.metric("vcsync_api_requests_total", cluster="host", code="429")
        requests = await syncer.metric("vcsync_api_requests_total", cluster="host")
        started = time.monotonic()
        names = [f"cm-{i:02d}" for i in range(THROTTLED_OBJECTS)]
        for cm in names:
            await v.create("config_map", vns, {"metadata": {"name": cm, "annotations": FORCED}, "data": {"n": cm}})

        async def refused_enough() -> bool:
            now = await syncer.metric("vcsync_api_requests_total", cluster="host", code="429")
            return now - met >= REFUSALS_PER_OBJECT * THROTTLED_OBJECTS

        await eventually(refused_enough, 120, f"{REFUSALS_PER_OBJECT} refusals per ConfigMap")
        window = time.monotonic() - started
        sent = await syncer.metric("vcsync_api_requests_total", cluster="host") - requests
        refused = await syncer.metric("vcsync_api_requests_total", cluster="host", code="429") - met
        throttled_for = time.monotonic() - started
        answers = await seats.release()
        released = time.monotonic()
        assert len(answers) == held and all(a.startswith(b"HTTP/1.1 201") for a in answers), answers  # seats held

        expected = {host_name(cm, vns, S): {"n": cm} for cm in names}

        async def converged() -> dict[str, dict] | None:
            resp = await h.v1.list_namespaced_config_map(t, label_selector=MANAGED, _preload_content=False)
            copies = {c["metadata"]["name"]: c for c in json.loads(await resp.read())["items"]}
            return copies if {n: c.get("data") for n, c in copies.items()} == expected else None

        await eventually(converged, 120, "every ConfigMap on the host, once each, once the seats are free")
        drained = time.monotonic() - released
        await syncer.settle()
    finally:
        if seats is not None:
            seats.close()
        for path in paths:
            await host.call("DELETE", path)

    def host_requests(**labels: str):
        return syncer.metric("vcsync_api_requests_total", cluster="host", **labels)

    creates = {code: await host_requests(verb="create", code=code) - baseline[code] for code in CODES}
    attempts = await host_requests(verb="create") - sum(baseline.values())
    lines = [json.loads(line) for line in syncer.log_text().splitlines() if line.startswith("{")]
    steps = [ln for ln in lines if ln.get("vns") == vns and ln["msg"] in ("create host object", "throttled; retrying")]
    longest = max((ln["retry_in_s"] for ln in steps if "retry_in_s" in ln), default=0)
    print(
        f"{held} seats held; window {window:.1f}s: {sent:g} host requests, {refused:g} answered 429; seats released "
        f"after {throttled_for:.1f}s, all synced {drained:.1f}s later; {attempts:g} create attempts ({creates}); "
        f"longest Retry-After {longest:g}s; {await syncer.writes('host') - written:g} host writes"
    )
    assert await host_requests(code="429") > 0, "never throttled: the row proves nothing"
    assert sent == refused  # with every seat taken, each request of the window was refused
    # No hot loop: the Retry-After is at least 1 s, so each ConfigMap is tried at most once a second
    assert sent <= THROTTLED_OBJECTS * (1 + window / MIN_RETRY_AFTER), f"{sent:g} requests in {window:.1f}s"
    # Each attempt at a key after a 429 waited the Retry-After that 429 carried (the log's ts: wall clock, ms)
    early = []
    for cm in names:
        mine = [ln for ln in steps if ln["vname"] == cm]
        for before, after in itertools.pairwise(mine):
            if before["msg"] == "throttled; retrying" and _at(after) - _at(before) < before["retry_in_s"] - 0.01:
                early.append((cm, before["retry_in_s"], round(_at(after) - _at(before), 3)))
    assert early == [], f"retried before the Retry-After: {early[:5]}"
    assert len([ln for ln in steps if "retry_in_s" in ln]) == creates["429"]  # every refusal seen above
    # Exactly once: one successful create per ConfigMap, every other attempt refused with 429, nothing else written
    assert creates["201"] == THROTTLED_OBJECTS
    assert attempts == creates["201"] + creates["429"]
    assert await syncer.writes("host") - written == attempts
    # and the refused attempts are bounded by the throttled time: at most one a second per ConfigMap
    assert creates["429"] <= THROTTLED_OBJECTS * (1 + throttled_for / MIN_RETRY_AFTER)


def _at(line: dict) -> float:
    return dt.datetime.fromisoformat(line["ts"]).timestamp()
