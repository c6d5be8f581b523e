"""Seeded chaos on the real cluster pair: a random but replayable mix of tenant operations (ConfigMaps, Secrets,
Services, selector-less Endpoints, pods, PVCs, a second namespace; update storms), a host admin's interference
(deleting, editing, squatting on or un-marking synced objects, evicting pods, deleting fake nodes) and faults (the
leader of two vcsync replicas killed or frozen past its renew deadline, either API server or etcd restarted, etcd
compacted under a watch). After a quiet period the invariants are checked on both API servers directly. A failure
prints the seed, the operation log and what differs; replay it with `VCSYNC_CHAOS_SEEDS=<seed> make chaos`. CI runs
a short version (three seeds); `make chaos RUNS=200` the long one."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import signal

import aiohttp
import pytest
from kubernetes_asyncio.client.exceptions import ApiException

from tests.chaos.plan import Op, plan
from tests.conftest import S
from tests.integration.test_sync_resilience import compact_etcd
from tests.kube import Any_, Core
from tests.support import eventually, others_gone
from translators.markers import MANAGED_BY, NAMESPACE_LABEL, OBJECT_NAME
from translators.names import host_name

pytestmark = pytest.mark.controlplane
SEEDS = [int(s) for s in os.environ.get("VCSYNC_CHAOS_SEEDS", "1,2,3").split(",") if s]
LENGTH = int(os.environ.get("VCSYNC_CHAOS_OPS", "50"))
FAULTS = int(os.environ.get("VCSYNC_CHAOS_FAULTS", "3"))
QUIET = 150  # seconds to converge after the last operation (a flapping key waits out its minute)
LEASE = ("--leader-elect", "--lease-duration=4s", "--renew-deadline=3s", "--retry-period=1s")
FLAGS = (*LEASE, "--endpoints-allowed-cidrs=10.200.0.0/16")
FORCED = {"vcluster.loft.sh/force-sync": "true"}
CORE = {"pvc": "persistent_volume_claim", "endpoints": "service"}  # plan kind -> tests.kube.Core kind, if not equal
PLURAL = {
    "config_map": "configmaps",
    "secret": "secrets",
    "service": "services",
    "endpoints": "endpoints",
    "pod": "pods",
    "persistent_volume_claim": "persistentvolumeclaims",
    "pvc": "persistentvolumeclaims",
}
ETCD_PREFIX = {
    "config_map": "/registry/configmaps",
    "secret": "/registry/secrets",
    "service": "/registry/services/specs",
    "endpoints": "/registry/services/endpoints",
    "pod": "/registry/pods",
    "persistent_volume_claim": "/registry/persistentvolumeclaims",
}
CHECKED = ("config_map", "secret", "service", "endpoints", "pod", "persistent_volume_claim")
GONE = (403, 404, 409)  # what the tenant meets in a namespace being deleted or an object being re-created


class Run:
    """Carries out a plan against the pair; remembers what it did, for the report."""

    def __init__(self, pair, run_syncer, v: Core, virtual: Any_, host: Any_, vns: str, t: str) -> None:
        self.pair, self.run_syncer, self.v, self.vns, self.t = pair, run_syncer, v, vns, t
        self.virtual, self.host = virtual, host  # for merge patches and kinds tests.kube.Core does not name
        self.second = f"{vns}-b"
        self.replicas: list = []
        self.squatted: dict[tuple[str, str, str], str] = {}  # (kind, namespace, name) -> the admin's version
        self.log: list[str] = []
        self.counter = 0

    async def start(self) -> None:
        self.replicas = [await self.run_syncer(*FLAGS), await self.run_syncer(*FLAGS)]

    async def do(self, op: Op) -> None:
        self.counter += 1
        self.log.append(str(op))
        if op.kind:
            await getattr(self, f"_{op.action}")(op.kind, op.name)
        else:
            await getattr(self, f"_{op.action}")()
        await self._replace_exited()

    async def stop(self) -> None:
        namespace = await self.v.v1.list_namespace(field_selector=f"metadata.name={self.second}")
        if namespace.items:
            await self.v.v1.delete_collection_namespaced_pod(self.second, grace_period_seconds=0)
            await self.v.v1.delete_namespace(self.second)

    # ---- the tenant --------------------------------------------------------------------------------------------
    def _body(self, kind: str, name: str) -> dict:
        meta = {"name": name, "annotations": dict(FORCED), "labels": {"v": str(self.counter)}}
        if kind in ("service", "endpoints"):
            selector = {"selector": {"app": name}} if kind == "service" else {}
            return {"metadata": meta, "spec": {**selector, "ports": [{"port": 80 + self.counter}]}}
        if kind == "secret":
            return {"metadata": meta, "stringData": {"v": str(self.counter)}}
        if kind == "pod":
            container = {"name": "c", "image": f"app:{self.counter}"}
            return {"metadata": meta, "spec": {"containers": [container], "automountServiceAccountToken": False}}
        if kind == "pvc":
            request = {"requests": {"storage": "1Gi"}}
            return {"metadata": meta, "spec": {"accessModes": ["ReadWriteOnce"], "resources": request}}
        return {"metadata": meta, "data": {"v": str(self.counter)}}

    def _addresses(self) -> dict:
        ip = f"10.200.{self.counter // 250}.{self.counter % 250 + 1}"
        return {"subsets": [{"addresses": [{"ip": ip}], "ports": [{"port": 80}]}]}

    async def _create(self, kind: str, name: str, namespace: str | None = None) -> None:
        namespace = namespace or self.vns
        await _tolerate(self._create_once(kind, name, namespace), GONE)
        if kind == "endpoints":
            body = {"metadata": {"name": name}, **self._addresses()}
            await _tolerate(self.virtual.call("POST", f"/api/v1/namespaces/{namespace}/endpoints", body), GONE)

    async def _create_once(self, kind: str, name: str, namespace: str) -> None:
        if await self.v.get(CORE.get(kind, kind), namespace, name) is None:
            # a Service may meet vcsync's own re-create of it (for the host ClusterIP): the tenant then gets 409
            await self.v.create(CORE.get(kind, kind), namespace, self._body(kind, name))

    async def _update(self, kind: str, name: str) -> None:
        core = CORE.get(kind, kind)
        if await self.v.get(core, self.vns, name) is None:
            return
        body = self._body(kind, name)
        if kind == "endpoints":
            path = f"/api/v1/namespaces/{self.vns}/endpoints/{name}"
            await _tolerate(self.virtual.call("PATCH", path, self._addresses(), patch=True), GONE)
            return
        if kind == "service":
            change = {"spec": body["spec"]}
        elif kind == "pod":  # a strategic merge: only the image may change
            change = {"spec": {"containers": body["spec"]["containers"]}}
            await _tolerate(self.v.patch("pod", self.vns, name, change), GONE)
            return
        elif kind == "pvc":
            change = {"metadata": {"labels": body["metadata"]["labels"]}}
        else:
            change = {k: body[k] for k in ("data", "stringData") if k in body}
        path = f"/api/v1/namespaces/{self.vns}/{PLURAL[core]}/{name}"
        await _tolerate(self.virtual.call("PATCH", path, change, patch=True), GONE)

    async def _delete(self, kind: str, name: str) -> None:
        await self.v.delete(CORE.get(kind, kind), self.vns, name)
        if kind == "endpoints":  # the virtual endpoints controller would too, for the Service it sees deleted
            await self.virtual.call("DELETE", f"/api/v1/namespaces/{self.vns}/endpoints/{name}")

    async def _storm(self, kind: str, name: str) -> None:
        await self._create(kind, name)
        for _ in range(5):
            self.counter += 1
            await self._update(kind, name)

    async def _create_namespace(self) -> None:
        await _tolerate(self.v.v1.create_namespace({"metadata": {"name": self.second}}), GONE)
        await self._create("config_map", "c0", self.second)
        with contextlib.suppress(AssertionError):  # pods wait for the controller-manager's default ServiceAccount
            await eventually(lambda: self.v.get("service_account", self.second, "default"), 10, "a ServiceAccount")
        await self._create("pod", "p0", self.second)

    async def _delete_namespace(self) -> None:
        await _tolerate(self.v.v1.delete_namespace(self.second), (404,))

    # ---- a host admin ------------------------------------------------------------------------------------------
    def _host_path(self, kind: str, name: str, namespace: str | None = None) -> str:
        copy = host_name(name, namespace or self.vns, S)
        return f"/api/v1/namespaces/{self.t}/{PLURAL[kind]}/{copy}"

    async def _host_delete(self, kind: str, name: str) -> None:
        await self.host.call("DELETE", self._host_path(kind, name))
        if kind == "endpoints":
            await self.host.call("DELETE", self._host_path("service", name))
        self.squatted.pop((kind, self.vns, name), None)

    async def _host_edit(self, kind: str, name: str) -> None:
        if kind == "service":
            change: dict = {"spec": {"ports": [{"port": 9, "targetPort": 9}]}}
        elif kind == "endpoints":
            change = {"subsets": [{"addresses": [{"ip": "10.200.255.9"}], "ports": [{"port": 9}]}]}
        elif kind == "pvc":
            change = {"metadata": {"labels": {"v": "edited"}}}
        else:
            change = {"data": {"v": "ZWRpdGVk"}}  # base64 for Secrets, plain text for ConfigMaps: both valid
        edited = await _tolerate(self.host.call("PATCH", self._host_path(kind, name), change, patch=True), (409,))
        key = (kind, self.vns, name)
        if edited is not None and key in self.squatted:
            self.squatted[key] = edited["metadata"]["resourceVersion"]

    async def _squat(self, kind: str, name: str) -> None:
        path = self._host_path(kind, name)
        await self.host.call("DELETE", path)
        body = self._body(kind, name)
        body["metadata"] = {"name": path.rsplit("/", 1)[1], "labels": {"owner": "host-admin"}}
        if kind == "service":
            body["spec"].pop("selector")
        squatter = await _tolerate(self.host.call("POST", path.rsplit("/", 1)[0], body), (409,))
        if squatter is not None:  # 409: vcsync re-created its copy first; nothing squatted
            self.squatted[(kind, self.vns, name)] = squatter["metadata"]["resourceVersion"]

    async def _drop_markers(self, kind: str, name: str) -> None:
        change = {"metadata": {"labels": {MANAGED_BY: None}}}
        unmarked = await self.host.call("PATCH", self._host_path(kind, name), change, patch=True)
        if unmarked is not None:
            self.squatted[(kind, self.vns, name)] = unmarked["metadata"]["resourceVersion"]

    async def _delete_node(self, kind: str, name: str) -> None:
        pod = await self.v.get("pod", self.vns, name)
        node = (pod or {}).get("spec", {}).get("nodeName")
        if node:
            await self.virtual.call("DELETE", f"/api/v1/nodes/{node}")

    # ---- faults ------------------------------------------------------------------------------------------------
    async def leader(self):
        async def found():
            for replica in self.replicas:
                if replica.proc.returncode is None and await replica.metric("vcsync_leader") == 1:
                    return replica
            return None

        return await eventually(found, 30, "a leader among the replicas", every=0.5)

    async def _replace_exited(self) -> None:
        """A replica that lost its lease exits (as it must); the run keeps two."""
        for i, replica in enumerate(self.replicas):
            if replica.proc.returncode is not None:
                self.replicas[i] = await self.run_syncer(*FLAGS)

    async def _kill_leader(self) -> None:
        await (await self.leader()).stop(signal.SIGKILL)

    async def _pause_leader(self) -> None:
        leader = await self.leader()
        leader.send(signal.SIGSTOP)
        await asyncio.sleep(4 + 2)  # the fault is its duration: the lease expires and the standby takes it
        leader.send(signal.SIGCONT)
        await eventually(lambda: _exited(leader), 30, "the old leader to step down and exit")

    async def _restart_virtual_apiserver(self) -> None:
        await self.pair.virtual.restart_async("kube-apiserver")

    async def _restart_host_apiserver(self) -> None:
        await self.pair.host.restart_async("kube-apiserver")

    async def _restart_virtual_etcd(self) -> None:
        await self.pair.virtual.restart_async("etcd")

    async def _restart_host_etcd(self) -> None:
        await self.pair.host.restart_async("etcd")

    async def _compact_virtual_etcd(self) -> None:
        await compact_etcd(self.pair.virtual)
        await self.pair.virtual.restart_async("kube-apiserver")

    async def _compact_host_etcd(self) -> None:
        await compact_etcd(self.pair.host)
        await self.pair.host.restart_async("kube-apiserver")

    # ---- invariants --------------------------------------------------------------------------------------------
    async def violations(self) -> list[str]:
        """What differs between the two API servers now; empty when every invariant holds."""
        found: list[str] = []
        for namespace in (self.vns, self.second):
            for kind in CHECKED:
                found += await self._kind_violations(kind, namespace)
        found += await self._squatter_violations()
        found += await self._node_violations()
        return found

    async def _kind_violations(self, kind: str, namespace: str) -> list[str]:
        virtual = {o["metadata"]["name"]: o for o in await self._list(self.virtual, kind, namespace)}
        virtual.pop("kube-root-ca.crt", None)
        if kind == "endpoints":  # only the selector-less Services' Endpoints are the tenant's to sync
            virtual = {name: o for name, o in virtual.items() if name.startswith("e")}
        for squatted_kind, squatted_ns, name in self.squatted:
            if (squatted_kind, squatted_ns) == (kind, namespace):
                virtual.pop(name, None)
        selector = f"{MANAGED_BY}={S},{NAMESPACE_LABEL}={namespace}"
        host = await self._list(self.host, kind, self.t, selector)
        copies = {o["metadata"]["annotations"][OBJECT_NAME]: o for o in host if OBJECT_NAME in _annotations(o)}
        if kind == "endpoints":
            copies = {name: o for name, o in copies.items() if name.startswith("e")}
        found = [
            f"{kind} {namespace}/{name}: host copy without a virtual object" for name in set(copies) - set(virtual)
        ]
        for name, obj in sorted(virtual.items()):
            copy = copies.get(name)
            if obj["metadata"].get("deletionTimestamp"):
                found.append(f"{kind} {namespace}/{name}: still terminating")
            elif copy is None:
                read = await self.host.call("GET", self._host_path(_plan_kind(kind), name, namespace))
                stale = ", though a GET finds it: the host API server's list is stale" if read else ""
                found.append(f"{kind} {namespace}/{name}: no host copy{stale}")
            elif (difference := _differs(kind, obj, copy)) is not None:
                found.append(f"{kind} {namespace}/{name}: {difference}")
        return found

    async def unchanged_for_a_while(self, window: float = 5.0) -> bool:
        """The write rate is back to zero, seen from the API servers: no object of the run, virtual or host copy,
        changes over `window` (vcsync's own lease renewals and copied-up host Events are not the run's objects)."""
        before = await self._versions()
        await asyncio.sleep(window)
        return await self._versions() == before

    async def _versions(self) -> dict[tuple[str, ...], str]:
        versions = {}
        for namespace in (self.vns, self.second):
            selector = f"{MANAGED_BY}={S},{NAMESPACE_LABEL}={namespace}"
            for kind in CHECKED:
                for side, objs in (
                    ("virtual", await self._list(self.virtual, kind, namespace)),
                    ("host", await self._list(self.host, kind, self.t, selector)),
                ):
                    for obj in objs:
                        versions[(side, kind, namespace, obj["metadata"]["name"])] = obj["metadata"]["resourceVersion"]
        return versions

    async def storage_report(self) -> str:
        """For a failure: etcd's own view of the run's host objects next to the host API server's list, which
        tells a stale API server cache from lost writes."""
        lines = []
        async with aiohttp.ClientSession() as session:
            for kind, prefix in ETCD_PREFIX.items():
                key = base64.b64encode(f"{prefix}/{self.t}/".encode()).decode()
                end = base64.b64encode(f"{prefix}/{self.t}0".encode()).decode()
                async with session.post(
                    f"{self.pair.host.etcd_url}/v3/kv/range", json={"key": key, "range_end": end, "keys_only": True}
                ) as resp:
                    answer = await resp.json()
                in_etcd = {base64.b64decode(kv["key"]).decode().rsplit("/", 1)[1] for kv in answer.get("kvs", [])}
                listed = {o["metadata"]["name"] for o in await self._list(self.host, kind, self.t)}
                revision = answer["header"]["revision"]
                if in_etcd != listed:
                    lines.append(
                        f"{kind}: etcd (revision {revision}) and the host API server's list differ: "
                        f"only in etcd {sorted(in_etcd - listed)}, only listed {sorted(listed - in_etcd)}"
                    )
        return "\n".join(lines) or "etcd and the host API server's lists agree"

    async def _squatter_violations(self) -> list[str]:
        found = []
        for (kind, namespace, name), version in self.squatted.items():
            obj = await self.host.call("GET", self._host_path(kind, name, namespace))
            if obj is None:
                found.append(f"{kind} {namespace}/{name}: the admin's unmanaged object was deleted")
            elif obj["metadata"]["resourceVersion"] != version or MANAGED_BY in (obj["metadata"].get("labels") or {}):
                found.append(f"{kind} {namespace}/{name}: the admin's unmanaged object was modified")
        return found

    async def _node_violations(self) -> list[str]:
        """Fake nodes exactly those the virtual pods are bound to."""
        pods = (await self.virtual.call("GET", "/api/v1/pods"))["items"]
        needed = {p["spec"]["nodeName"] for p in pods if p["spec"].get("nodeName")}
        nodes = {n["metadata"]["name"] for n in (await self.virtual.call("GET", "/api/v1/nodes"))["items"]}
        return [f"node {n}: a bound pod's fake node is missing" for n in sorted(needed - nodes)] + [
            f"node {n}: a fake node no pod needs" for n in sorted(nodes - needed)
        ]

    async def _list(self, api: Any_, kind: str, namespace: str, selector: str = "") -> list[dict]:
        query = f"?labelSelector={selector}" if selector else ""
        listed = await api.call("GET", f"/api/v1/namespaces/{namespace}/{PLURAL[kind]}{query}")
        return listed["items"] if listed else []


def _plan_kind(kind: str) -> str:
    return "pvc" if kind == "persistent_volume_claim" else kind


def _annotations(obj: dict) -> dict:
    return obj["metadata"].get("annotations") or {}


def _differs(kind: str, virtual: dict, copy: dict) -> str | None:
    if kind == "service":
        ports = [(p["port"], p.get("protocol", "TCP")) for p in virtual["spec"]["ports"]]
        host_ports = [(p["port"], p.get("protocol", "TCP")) for p in copy["spec"]["ports"]]
        if ports != host_ports:
            return f"ports {host_ports} on the host, {ports} in virtual"
        if virtual["spec"].get("clusterIP") != copy["spec"].get("clusterIP"):
            return f"clusterIP {virtual['spec'].get('clusterIP')} in virtual, {copy['spec'].get('clusterIP')} on host"
        return None
    if kind == "endpoints":
        ips, host_ips = _ips(virtual), _ips(copy)
        return None if ips == host_ips else f"addresses {host_ips} on the host, {ips} in virtual"
    if kind == "pod":
        pair = [(o["status"].get("phase"), o["spec"]["containers"][0]["image"]) for o in (virtual, copy)]
        return None if pair[0] == pair[1] else f"phase and image {pair[1]} on the host, {pair[0]} in virtual"
    if kind == "persistent_volume_claim":
        v, h = ((o["metadata"].get("labels") or {}).get("v") for o in (virtual, copy))
        return None if v == h else f"label v={h} on the host, {v} in virtual"
    if (virtual.get("data") or {}) != (copy.get("data") or {}):
        return f"data {copy.get('data')} on the host, {virtual.get('data')} in virtual"
    return None


def _ips(endpoints: dict) -> list[str]:
    return sorted(a["ip"] for subset in endpoints.get("subsets") or () for a in subset.get("addresses") or ())


async def _tolerate(call, statuses: tuple[int, ...]):
    """The call's result, or None when the API answers one of `statuses` (what a real tenant or admin meets)."""
    try:
        return await call
    except ApiException as e:
        if e.status in statuses:
            return None
        raise
    except AssertionError as e:  # tests.kube.Any_ reports errors this way
        if any(f": {status} " in str(e) for status in statuses):
            return None
        raise


async def _exited(replica) -> bool:
    return replica.proc.returncode is not None


@pytest.mark.parametrize("seed", SEEDS)
async def test_chaos_converges_with_nothing_lost(
    seed, cluster_pair, run_syncer, vcluster_service, virtual_api, host_api, v, virtual_namespace, host_namespace
):
    await others_gone(virtual_api, virtual_namespace)  # no earlier test's objects in flight through this syncer
    run = Run(cluster_pair, run_syncer, v, Any_(virtual_api), Any_(host_api), virtual_namespace, host_namespace)
    await run.start()
    try:
        for op in plan(seed, LENGTH, FAULTS):
            await run.do(op)
        await _converged(run, seed)
        await eventually(run.unchanged_for_a_while, 60, "no synced object to change for 5 s (the writes are done)")
        await (await run.leader()).wait_ready(timeout=5)
    finally:
        await run.stop()


async def _converged(run: Run, seed: int) -> None:
    async def holds():
        return await run.violations() == []

    try:
        await eventually(holds, QUIET, "the invariants to hold", every=1.0)
    except AssertionError:
        report = "\n".join(await run.violations()) + "\n" + await run.storage_report()
        ops = "\n".join(f"  {i:3} {line}" for i, line in enumerate(run.log))
        pytest.fail(f"seed {seed}: invariants violated after {QUIET}s:\n{report}\noperations:\n{ops}", pytrace=False)
