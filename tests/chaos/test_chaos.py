"""Seeded chaos on the real cluster pair: a random but replayable mix of tenant operations (creates, updates,
deletes, update storms), host-side interference (a host admin deleting or editing synced objects) and faults (vcsync
killed or frozen, either API server restarted). After a quiet period the invariants are checked on both API servers
directly. A failure prints the seed, the operation log and what differs; replay it with
`VCSYNC_CHAOS_SEEDS=<seed> make chaos`. CI runs a short version (three seeds); `make chaos RUNS=200` the long one."""

from __future__ import annotations

import asyncio
import os
import signal

import pytest
from kubernetes_asyncio.client.exceptions import ApiException

from tests.chaos.plan import Op, plan
from tests.conftest import S
from tests.kube import Any_, Core
from tests.support import eventually
from translators.names import host_name

pytestmark = pytest.mark.controlplane
SEEDS = [int(s) for s in os.environ.get("VCSYNC_CHAOS_SEEDS", "1,2,3").split(",") if s]
LENGTH = int(os.environ.get("VCSYNC_CHAOS_OPS", "50"))
FAULTS = int(os.environ.get("VCSYNC_CHAOS_FAULTS", "3"))
FORCED = {"vcluster.loft.sh/force-sync": "true"}
PLURAL = {"config_map": "configmaps", "secret": "secrets", "service": "services"}
QUIET = 150  # seconds to converge after the last operation (a flapping key waits out its minute)


class Run:
    """Carries out a plan against the pair; remembers what it did, for the report."""

    def __init__(self, pair, run_syncer, v: Core, h: Core, virtual: Any_, host: Any_, vns: str, t: str) -> None:
        self.pair, self.run_syncer, self.v, self.h, self.vns, self.t = pair, run_syncer, v, h, vns, t
        self.virtual, self.host = virtual, host  # for merge patches: a Service's ports are replaced, not merged
        self.syncer = None
        self.log: list[str] = []
        self.counter = 0

    async def start(self) -> None:
        self.syncer = await self.run_syncer()

    async def do(self, op: Op) -> None:
        self.counter += 1
        self.log.append(str(op))
        if op.kind:
            await getattr(self, f"_{op.action}")(op.kind, op.name)
        else:
            await getattr(self, f"_{op.action}")()

    # ---- the tenant --------------------------------------------------------------------------------------------
    def _body(self, kind: str, name: str) -> dict:
        meta = {"name": name, "annotations": dict(FORCED)}
        if kind == "service":
            return {"metadata": meta, "spec": {"selector": {"app": name}, "ports": [{"port": 80 + self.counter}]}}
        if kind == "secret":
            return {"metadata": meta, "stringData": {"v": str(self.counter)}}
        return {"metadata": meta, "data": {"v": str(self.counter)}}

    async def _create(self, kind: str, name: str) -> None:
        if await self.v.get(kind, self.vns, name) is not None:
            return
        try:
            await self.v.create(kind, self.vns, self._body(kind, name))
        except ApiException as e:
            # vcsync re-creates a virtual Service to give it the host ClusterIP: between its delete and its create
            # the tenant reads nothing, then vcsync's create lands first and the tenant gets a real tenant's 409
            if e.status != 409:
                raise

    async def _update(self, kind: str, name: str) -> None:
        if await self.v.get(kind, self.vns, name) is None:
            return
        body = self._body(kind, name)
        change = (
            {"spec": body["spec"]} if kind == "service" else {k: body[k] for k in ("data", "stringData") if k in body}
        )
        await self.virtual.call("PATCH", f"/api/v1/namespaces/{self.vns}/{PLURAL[kind]}/{name}", change, patch=True)

    async def _delete(self, kind: str, name: str) -> None:
        await self.v.delete(kind, self.vns, name)

    async def _storm(self, kind: str, name: str) -> None:
        await self._create(kind, name)
        for _ in range(5):
            self.counter += 1
            await self._update(kind, name)

    # ---- a host admin ------------------------------------------------------------------------------------------
    async def _host_delete(self, kind: str, name: str) -> None:
        await self.h.delete(kind, self.t, host_name(name, self.vns, S))

    async def _host_edit(self, kind: str, name: str) -> None:
        copy = await self.h.get(kind, self.t, host_name(name, self.vns, S))
        if copy is None:
            return
        if kind == "service":
            change = {"spec": {"ports": [{"port": 9, "targetPort": 9}]}}
        else:
            change = {"data": {"v": "ZWRpdGVk"}}  # base64 for Secrets, plain text for ConfigMaps: both valid
        path = f"/api/v1/namespaces/{self.t}/{PLURAL[kind]}/{copy['metadata']['name']}"
        await self.host.call("PATCH", path, change, patch=True)

    # ---- faults ------------------------------------------------------------------------------------------------
    async def _kill_syncer(self) -> None:
        await self.syncer.stop(signal.SIGKILL)
        self.syncer = await self.run_syncer()

    async def _pause_syncer(self) -> None:
        self.syncer.send(signal.SIGSTOP)
        await asyncio.sleep(2)  # the fault is its duration
        self.syncer.send(signal.SIGCONT)

    async def _restart_virtual_apiserver(self) -> None:
        await self.pair.virtual.restart_async("kube-apiserver")

    async def _restart_host_apiserver(self) -> None:
        await self.pair.host.restart_async("kube-apiserver")

    # ---- invariants --------------------------------------------------------------------------------------------
    async def violations(self) -> list[str]:
        """What differs between the two API servers now; empty when every invariant holds."""
        found: list[str] = []
        for kind in ("config_map", "secret", "service"):
            listed = await getattr(self.v.v1, f"list_namespaced_{kind}")(self.vns, _preload_content=False)
            virtual = {o["metadata"]["name"]: o for o in (await listed.json())["items"]}
            virtual.pop("kube-root-ca.crt", None)
            selector = f"vcluster.loft.sh/managed-by={S},vcluster.loft.sh/namespace={self.vns}"
            listed = await getattr(self.h.v1, f"list_namespaced_{kind}")(
                self.t, label_selector=selector, _preload_content=False
            )
            copies = {
                o["metadata"]["annotations"]["vcluster.loft.sh/object-name"]: o for o in (await listed.json())["items"]
            }
            for name in sorted(set(copies) - set(virtual)):
                found.append(f"{kind} {name}: host copy without a virtual object")
            for name, obj in sorted(virtual.items()):
                copy = copies.get(name)
                if copy is None:
                    found.append(f"{kind} {name}: no host copy")
                elif (difference := _differs(kind, obj, copy)) is not None:
                    found.append(f"{kind} {name}: {difference}")
        return found


def _differs(kind: str, virtual: dict, copy: dict) -> str | None:
    if kind == "service":
        ports = [(p["port"], p.get("protocol", "TCP")) for p in virtual["spec"]["ports"]]
        host_ports = [(p["port"], p.get("protocol", "TCP")) for p in copy["spec"]["ports"]]
        if ports != host_ports:
            return f"ports {host_ports} on the host, {ports} in virtual"
        if virtual["spec"].get("clusterIP") != copy["spec"].get("clusterIP"):
            return (
                f"clusterIP {virtual['spec'].get('clusterIP')} in virtual, {copy['spec'].get('clusterIP')} on the host"
            )
        return None
    if (virtual.get("data") or {}) != (copy.get("data") or {}):
        return f"data {copy.get('data')} on the host, {virtual.get('data')} in virtual"
    return None


@pytest.mark.parametrize("seed", SEEDS)
async def test_chaos_converges_with_nothing_lost(
    seed, cluster_pair, run_syncer, vcluster_service, virtual_api, host_api, v, h, virtual_namespace, host_namespace
):
    run = Run(cluster_pair, run_syncer, v, h, Any_(virtual_api), Any_(host_api), virtual_namespace, host_namespace)
    await run.start()
    for op in plan(seed, LENGTH, FAULTS):
        await run.do(op)

    async def converged():
        return await run.violations() == []

    try:
        await eventually(converged, QUIET, "the invariants to hold", every=1.0)
    except AssertionError:
        report = "\n".join(await run.violations())
        ops = "\n".join(f"  {i:3} {line}" for i, line in enumerate(run.log))
        pytest.fail(f"seed {seed}: invariants violated after {QUIET}s:\n{report}\noperations:\n{ops}", pytrace=False)
    await run.syncer.settle()  # the write rate is back to zero
    await run.syncer.wait_ready(timeout=5)
