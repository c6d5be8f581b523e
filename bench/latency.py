"""Scenarios 1 and 2, per-object latency: virtual create acknowledged -> host copy seen by a host watch, against the
same client creating straight on the host; and a host pod status change -> the virtual pod's status seen by a virtual
watch, against the host watch seeing that change. Percentiles are per run; the table takes the median over runs."""

from __future__ import annotations

import contextlib
import datetime as dt
import time

from bench.harness import Bench, is_running, name_of, paced, virtual_name
from bench.kube import Obj, path, pod
from bench.results import percentile
from bench.watch import Seen, Watcher

QUANTILES = (50, 95, 99)
PROBE_REASON = "BenchProbeFailed"


def _record(
    bench: Bench, scenario: str, size: str, x: float, ours: list[float], floor: list[float] | None, prefix: str = ""
) -> None:
    for q in QUANTILES:
        ours_q = percentile(ours, q) * 1000
        floor_q = percentile(floor, q) * 1000 if floor else None
        bench.results.add(scenario, size, f"{prefix}p{q} ms", x, ours_q, floor_q)


def _budget(count: int, rate: float) -> float:
    return count / rate + 120


# ---- 1. create latency -----------------------------------------------------------------------------------------
async def create_latency(bench: Bench) -> None:
    count = bench.opts.latency_pods
    for rate in bench.opts.rates:
        size = f"{rate:g}/s x {count} pods"
        for run in range(bench.opts.runs):
            ours = await through_vcsync(bench, rate, count, f"create-{rate:g}-{run}")
            floor = await _direct(bench, rate, count, f"floor-create-{rate:g}-{run}")
            _record(bench, "create", size, rate, ours, floor)
            bench.log(
                f"create {size} run {run + 1}: p50 {percentile(ours, 50) * 1000:.0f} ms, "
                f"p99 {percentile(ours, 99) * 1000:.0f} ms (floor p99 {percentile(floor, 99) * 1000:.1f} ms)"
            )


async def through_vcsync(bench: Bench, rate: float, count: int, vns: str) -> list[float]:
    names = [f"p-{i}" for i in range(count)]
    await bench.virtual_namespace(vns)
    seen = Seen(virtual_name)
    async with bench.host_copies("pods", vns).on(seen) as watch:
        acks = await paced(rate, names, lambda n: bench.virtual.create(path("pods", vns), pod(n)))
        observed = await seen.wait(names, _budget(count, rate), f"host copies of {vns} pods", watch)
    await bench.remove_virtual_namespace(vns, _budget(count, bench.opts.host_qps))
    return [observed[n] - acks[n] for n in names]


async def _direct(bench: Bench, rate: float, count: int, namespace: str) -> list[float]:
    names = [f"p-{i}" for i in range(count)]
    await bench.host_namespace(namespace)
    seen = Seen(name_of)
    async with Watcher(bench.host, path("pods", namespace)).on(seen) as watch:
        acks = await paced(rate, names, lambda n: bench.host.create(path("pods", namespace), pod(n)))
        observed = await seen.wait(names, _budget(count, rate), f"pods in host {namespace}", watch)
    await bench.remove_host_namespace(namespace, _budget(count, 50))
    return [observed[n] - acks[n] for n in names]


# ---- 2. status latency -----------------------------------------------------------------------------------------
def _probe_failed(obj: Obj) -> bool:
    conditions = (obj.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("reason") == PROBE_REASON for c in conditions)


def _not_ready_patch() -> Obj:
    """What a kubelet writes when a readiness probe starts failing (strategic merge: conditions merge by type)."""
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    condition = {"status": "False", "reason": PROBE_REASON, "lastTransitionTime": now}
    return {"status": {"conditions": [{"type": t, **condition} for t in ("Ready", "ContainersReady")]}}


async def status_latency(bench: Bench) -> None:
    count, rate = bench.opts.status_pods, bench.opts.status_rate
    size = f"{rate:g}/s x {count} pods"
    for run in range(bench.opts.runs):
        ours, floor, running = await _status_run(bench, rate, count, f"status-{run}")
        _record(bench, "status", size, rate, ours, floor)
        _record(bench, "status", size, rate, running, None, prefix="Running seen host->virtual ")
        bench.log(
            f"status {size} run {run + 1}: p99 {percentile(ours, 99) * 1000:.0f} ms (floor p99 "
            f"{percentile(floor, 99) * 1000:.1f} ms); Running host->virtual p99 {percentile(running, 99) * 1000:.0f} ms"
        )


async def _status_run(bench: Bench, rate: float, count: int, vns: str) -> tuple[list[float], list[float], list[float]]:
    """Pods go Running on the host (kwok) and in the virtual cluster (vcsync); then, as a kubelet would on a failing
    readiness probe, the benchmark sets each host pod NotReady at `rate` and times both watches seeing it."""
    names = [f"p-{i}" for i in range(count)]
    await bench.virtual_namespace(vns)
    host_running, host_failed = Seen(virtual_name, is_running), Seen(virtual_name, _probe_failed)
    virtual_running, virtual_failed = Seen(name_of, is_running), Seen(name_of, _probe_failed)
    host_watch = bench.host_copies("pods", vns).on(host_running).on(host_failed)
    virtual_watch = Watcher(bench.virtual, path("pods", vns)).on(virtual_running).on(virtual_failed)
    budget = _budget(count, rate)
    async with contextlib.AsyncExitStack() as stack:
        watches = [await stack.enter_async_context(w) for w in (host_watch, virtual_watch)]
        await paced(rate, names, lambda n: bench.virtual.create(path("pods", vns), pod(n)))
        went_running = await host_running.wait(names, budget, f"host pods of {vns} Running", *watches)
        seen_running = await virtual_running.wait(names, budget, f"virtual pods of {vns} Running", *watches)

        async def flip(name: str) -> float:
            host_pod = path("pods", bench.target, bench.host_name(name, vns), "status")
            await bench.host.call("PATCH", host_pod, _not_ready_patch(), patch="strategic")
            return time.monotonic()

        acks = await paced(rate, names, flip)
        on_host = await host_failed.wait(names, budget, f"host pods of {vns} NotReady", *watches)
        on_virtual = await virtual_failed.wait(names, budget, f"virtual pods of {vns} NotReady", *watches)
    await bench.remove_virtual_namespace(vns, _budget(count, bench.opts.host_qps))
    ours = [on_virtual[n] - acks[n] for n in names]
    floor = [on_host[n] - acks[n] for n in names]
    running = [seen_running[n] - went_running[n] for n in names]
    return ours, floor, running
