"""Scenario 6, capacity: what vcsync itself can carry when no rate limit holds it back. vcsync is restarted with its
client QPS limits lifted, N pods are created in the virtual cluster as fast as the benchmark client can, and the
figures are pods/s from the first create to the last virtual pod Running, and vcsync's CPU per pod life cycle (create,
Running, events and fake node, then the namespace's deletion until the host is empty and vcsync quiet), read from
/proc. Floor: the same pods created straight on the host, to Running by kwok. Every process of the pair is measured the
same way, so the table shows where the machine's CPU goes per pod with vcsync in the path and without it."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import AsyncIterator

from bench.harness import NAME, Bench, is_running, name_of
from bench.kube import Http, path, pod, run_bounded
from bench.vcsync import Vcsync, cpu_seconds
from bench.watch import Seen, Watcher

ALL = "all processes"
LIFTED = ("--host-qps=100000", "--host-burst=100000", "--virtual-qps=100000", "--virtual-burst=100000")


async def capacity(bench: Bench) -> None:
    count = bench.opts.capacity_pods
    size = f"{count} pods, limits lifted"
    async with _lifted(bench) as vcsync:
        for run in range(bench.opts.runs):
            await bench.virtual_namespace(vns := f"capacity-{run}")
            before = _cpu(bench, vcsync)
            ours = await _to_running(bench.virtual, vns, count, bench.opts.concurrency)
            await bench.remove_virtual_namespace(vns, count / 10 + 120)
            await vcsync.wait_quiet(120, also=bench.heartbeats.complete)
            used = _per_pod(before, _cpu(bench, vcsync), count)

            await bench.host_namespace(floor_ns := f"floor-capacity-{run}")
            before = _cpu(bench, vcsync)
            floor = await _to_running(bench.host, floor_ns, count, bench.opts.concurrency)
            await bench.remove_host_namespace(floor_ns, count / 10 + 120)
            floor_used = _per_pod(before, _cpu(bench, vcsync), count)

            bench.results.add("capacity", size, "pods/s to Running", count, count / ours, count / floor)
            bench.results.add("capacity", size, "CPU ms per pod life cycle", count, used["vcsync"])
            for process in sorted(used, key=lambda p: (p == ALL, p)):
                if process != "vcsync":
                    metric = f"CPU ms per pod: {process}"
                    bench.results.add("capacity", size, metric, count, used[process], floor_used[process])
            bench.log(
                f"capacity {size} run {run + 1}: {count / ours:.1f} pods/s to Running (floor {count / floor:.1f}), "
                f"vcsync CPU {used['vcsync']:.2f} ms per pod life cycle, all processes {used[ALL]:.1f} ms "
                f"(floor {floor_used[ALL]:.1f})"
            )


def _cpu(bench: Bench, vcsync: Vcsync) -> dict[str, float]:
    """CPU seconds used so far by each process of the pair, vcsync and the benchmark client."""
    pids = {"vcsync": vcsync.pid, "benchmark client": os.getpid()}
    for cluster in (bench.pair.host, bench.pair.virtual):
        pids |= {c.name: c.pid for c in cluster.components.values() if c.pid is not None}
    return {name: cpu_seconds(pid) for name, pid in pids.items()}


def _per_pod(before: dict[str, float], after: dict[str, float], pods: int) -> dict[str, float]:
    used = {name: (after[name] - before[name]) * 1000 / pods for name in before}
    return used | {ALL: sum(used.values())}


@contextlib.asynccontextmanager
async def _lifted(bench: Bench) -> AsyncIterator[Vcsync]:
    """The benchmark's vcsync swapped for one without client limits, and back afterwards."""
    await bench.vcsync.stop()
    log = bench.vcsync.component.log_path
    vcsync = Vcsync(bench.pair, name=NAME, namespace=NAME, args=(*bench.opts.vcsync_flags(), *LIFTED), log=log)
    try:
        await vcsync.start()
        await vcsync.wait_ready(120)
        yield vcsync
    finally:
        await vcsync.close()
        await bench.vcsync.start()
        await bench.vcsync.wait_ready(120)


async def _to_running(http: Http, namespace: str, count: int, concurrency: int) -> float:
    """Seconds from the first create to the last of `count` pods seen Running by a watch on `namespace`."""
    names = [f"c-{i}" for i in range(count)]
    seen = Seen(name_of, is_running)
    async with Watcher(http, path("pods", namespace)).on(seen) as watch:
        start = time.monotonic()
        await run_bounded((http.create(path("pods", namespace), pod(n)) for n in names), concurrency)
        running = await seen.wait(names, count / 5 + 120, f"{http.name} pods of {namespace} Running", watch)
    return max(running.values()) - start
