"""Scenario 6, capacity: what vcsync itself can carry when no rate limit holds it back. vcsync is restarted with its
client QPS limits lifted, N pods are created in the virtual cluster as fast as the benchmark client can, and the
figures are pods/s from the first create to the last virtual pod Running, and vcsync's CPU per pod life cycle (create,
Running, events and fake node, then the namespace's deletion until the host is empty and vcsync quiet), read from
/proc. Floor: the same pods created straight on the host, to Running by kwok."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator

from bench.harness import NAME, Bench, is_running, name_of
from bench.kube import Http, path, pod, run_bounded
from bench.vcsync import Vcsync
from bench.watch import Seen, Watcher

LIFTED = ("--host-qps=100000", "--host-burst=100000", "--virtual-qps=100000", "--virtual-burst=100000")


async def capacity(bench: Bench) -> None:
    count = bench.opts.capacity_pods
    size = f"{count} pods, limits lifted"
    async with _lifted(bench) as vcsync:
        for run in range(bench.opts.runs):
            await bench.virtual_namespace(vns := f"capacity-{run}")
            before = vcsync.proc()
            ours = await _to_running(bench.virtual, vns, count, bench.opts.concurrency)
            await bench.remove_virtual_namespace(vns, count / 10 + 120)
            await vcsync.wait_quiet(120, also=bench.heartbeats.complete)
            cpu_ms = (vcsync.proc().cpu_seconds - before.cpu_seconds) * 1000 / count

            await bench.host_namespace(floor_ns := f"floor-capacity-{run}")
            floor = await _to_running(bench.host, floor_ns, count, bench.opts.concurrency)
            await bench.remove_host_namespace(floor_ns, count / 10 + 120)

            bench.results.add("capacity", size, "pods/s to Running", count, count / ours, count / floor)
            bench.results.add("capacity", size, "CPU ms per pod life cycle", count, cpu_ms)
            bench.log(
                f"capacity {size} run {run + 1}: {count / ours:.1f} pods/s to Running (floor {count / floor:.1f}), "
                f"vcsync CPU {cpu_ms:.2f} ms per pod life cycle"
            )


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
