"""One benchmark run: the objects vcsync needs next to a pair of clusters, one vcsync process, the scenarios in an
order that leaves each one a clean cluster (latency and bulk clean up after themselves; restart, memory and idle
then grow one population from empty), and per-scenario failures recorded instead of losing the whole run."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
import traceback
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from bench.heartbeats import Heartbeats
from bench.kube import Http, Obj, ensure_namespace, path, pod, run_bounded
from bench.options import Options
from bench.results import Results
from bench.vcsync import Vcsync
from bench.watch import Seen, Watcher, meta
from syncer.controlplane import ClusterPair
from syncer.kube.client import connect
from translators.markers import NAMESPACE_LABEL, OBJECT_NAME
from translators.names import host_name

NAME = "bench"  # the vcluster name; also the host namespace (own and target) and the host Service
SYNCED_KINDS = ("pods", "configmaps", "secrets")


@dataclass
class Bench:
    opts: Options
    pair: ClusterPair
    host: Http
    virtual: Http
    vcsync: Vcsync
    heartbeats: Heartbeats
    results: Results
    target: str = NAME
    started: float = 0.0

    def log(self, message: str) -> None:
        print(f"[bench {time.monotonic() - self.started:7.1f}s] {message}", file=sys.stderr, flush=True)

    def host_name(self, name: str, vns: str) -> str:
        return host_name(name, vns, NAME)

    def host_copies(self, plural: str, vns: str) -> Watcher:
        """A watch on the host copies of one virtual namespace's objects of one kind."""
        return Watcher(self.host, path(plural, self.target), labels=f"{NAMESPACE_LABEL}={vns}")

    async def virtual_namespace(self, name: str) -> None:
        await ensure_namespace(self.virtual, name)
        await _default_service_account(self.virtual, name)

    async def host_namespace(self, name: str) -> None:
        await ensure_namespace(self.host, name)
        await _default_service_account(self.host, name)

    async def remove_virtual_namespace(self, vns: str, timeout: float) -> None:
        """Delete a virtual namespace the way a tenant would, and wait until vcsync has removed every host copy."""
        trackers = [Seen(virtual_name) for _ in SYNCED_KINDS]
        watchers = [self.host_copies(kind, vns).on(seen) for kind, seen in zip(SYNCED_KINDS, trackers, strict=True)]
        async with contextlib.AsyncExitStack() as stack:
            for watcher in watchers:
                await stack.enter_async_context(watcher)
            await self.virtual.call("DELETE", path("namespaces", name=vns), allow=(404,))
            for kind, seen in zip(SYNCED_KINDS, trackers, strict=True):
                await seen.wait_gone(timeout, f"host {kind} of {vns} to be deleted", *watchers)
        await _namespace_gone(self.virtual, vns, timeout)

    async def remove_host_namespace(self, name: str, timeout: float) -> None:
        await self.host.call("DELETE", path("namespaces", name=name), allow=(404,))
        await _namespace_gone(self.host, name, timeout)


def virtual_name(obj: Obj) -> str | None:
    """The virtual name a host copy carries in its annotations."""
    return (meta(obj).get("annotations") or {}).get(OBJECT_NAME)


def name_of(obj: Obj) -> str:
    return meta(obj)["name"]


def is_running(obj: Obj) -> bool:
    """Running and bound to a node (in the virtual cluster: vcsync has bound it to a fake node)."""
    return (obj.get("status") or {}).get("phase") == "Running" and bool((obj.get("spec") or {}).get("nodeName"))


async def _default_service_account(http: Http, namespace: str) -> None:
    """Pods are admitted once the controller-manager has made the namespace's `default` ServiceAccount."""
    seen = Seen(name_of)
    sa = Watcher(http, path("serviceaccounts", namespace), fields="metadata.name=default").on(seen)
    async with sa:
        await seen.wait(["default"], 60, f"{http.name} {namespace}/default ServiceAccount", sa)


async def _namespace_gone(http: Http, name: str, timeout: float) -> None:
    seen = Seen(name_of)
    async with Watcher(http, path("namespaces"), fields=f"metadata.name={name}").on(seen) as ns:
        await seen.wait_gone(timeout, f"{http.name} namespace {name} to be gone", ns)


async def paced(rate: float, items: Iterable[str], send: Callable[[str], Awaitable[float]]) -> dict[str, float]:
    """Send one request per item at `rate` per second (open loop: a slow answer does not delay the next request);
    returns each item's acknowledgement time."""
    start = time.monotonic() + 0.05

    async def one(i: int, item: str) -> tuple[str, float]:
        await asyncio.sleep(max(0.0, start + i / rate - time.monotonic()))
        return item, await send(item)

    return dict(await asyncio.gather(*(one(i, item) for i, item in enumerate(items))))


async def _prepare(host: Http, virtual: Http) -> None:
    """What a vcluster install provides (as `vcsync dev` makes it): the host namespace with the vcluster Service
    (pods get its ClusterIP), and the virtual kube-system/kube-dns Service (pods get its host copy's IP)."""
    await host.call("POST", path("namespaces"), {"metadata": {"name": NAME}}, allow=(409,))
    service = {"metadata": {"name": NAME}, "spec": {"ports": [{"name": "https", "port": 443}]}}
    await host.call("POST", path("services", NAME), service, allow=(409,))
    dns = {
        "metadata": {"name": "kube-dns"},
        "spec": {"selector": {"k8s-app": "kube-dns"}, "ports": [{"name": "dns", "port": 53, "protocol": "UDP"}]},
    }
    await virtual.call("POST", path("services", "kube-system"), dns, allow=(409,))


Scenario = Callable[[Bench], Awaitable[None]]
WARM_UP_PODS = 10


async def warm_up(bench: Bench) -> None:
    """A few pods through the whole path (host copy, Running, fake nodes, deletion) before anything is timed, so the
    first run does not pay for a cold process and empty connection pools (the restart scenario measures startup)."""
    vns, names = "warm-up", [f"w-{i}" for i in range(WARM_UP_PODS)]
    await bench.virtual_namespace(vns)
    seen = Seen(name_of, is_running)
    async with Watcher(bench.virtual, path("pods", vns)).on(seen) as watch:
        await run_bounded((bench.virtual.create(path("pods", vns), pod(n)) for n in names), bench.opts.concurrency)
        await seen.wait(names, 120, "warm-up pods Running in the virtual cluster", watch)
    await bench.remove_virtual_namespace(vns, 120)
    await bench.vcsync.wait_quiet(120, also=bench.heartbeats.complete)


async def run(opts: Options, pair: ClusterPair, scenarios: list[tuple[str, Scenario]], results: Results) -> None:
    """Run the wanted scenarios against a started pair; failures land in results.meta['errors']."""
    errors: list[str] = results.meta.setdefault("errors", [])
    async with connect(pair.host.kubeconfig) as host_client, connect(pair.virtual.kubeconfig) as virtual_client:
        host, virtual = Http(host_client, "host"), Http(virtual_client, "virtual")
        await _prepare(host, virtual)
        log = opts.vcsync_log or pair.workdir / "vcsync.log"
        vcsync = Vcsync(pair, name=NAME, namespace=NAME, args=opts.vcsync_flags(), log=log)
        heartbeats = await Heartbeats(virtual).start()
        bench = Bench(opts, pair, host, virtual, vcsync, heartbeats, results, started=time.monotonic())
        try:
            await vcsync.start()
            bench.log(f"vcsync ready in {await vcsync.wait_ready(120):.2f}s (pid {vcsync.pid}); warming up")
            await warm_up(bench)
            for name, scenario in scenarios:
                bench.log(f"--- {name}")
                try:
                    await scenario(bench)
                except Exception as e:
                    errors.append(f"{name}: {type(e).__name__}: {e}")
                    bench.log(
                        f"{name} FAILED:\n{traceback.format_exc()}\nvcsync log tail:\n{vcsync.component.tail(20)}"
                    )
                    if not vcsync.component.running():
                        break
        finally:
            await vcsync.close()
            await heartbeats.stop()
