"""Scenarios 4-6 on one growing population (N pods with a ConfigMap and a Secret each, from empty): at each size,
restart vcsync -> time to /readyz 200 and the writes it made, then a quiet window -> CPU, API requests, writes
and resident memory. Writes exclude fake-node heartbeats (bench/heartbeats.py); host writes are counted as they are."""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import time

from bench.harness import SYNCED_KINDS, Bench, is_running, name_of, virtual_name
from bench.heartbeats import GUARD
from bench.kube import path, pod_set, run_bounded
from bench.vcsync import Counters, ProcStats
from bench.watch import Seen, Watcher

POPULATION = "population"


async def restart_memory_idle(bench: Bench) -> None:
    opts = bench.opts
    sizes = (0, *opts.memory_sizes)
    have = 0
    baseline: list[float] = []  # steady RSS with no pods, for the per-pod figure
    for pods in sizes:
        if pods > have:
            await _grow(bench, have, pods)
            have = pods
        await bench.vcsync.wait_quiet(300 + 3 * pods / opts.host_qps, also=bench.heartbeats.complete)
        window = opts.idle if pods == sizes[-1] else opts.settle
        for run in range(opts.runs):
            rss = await _restart_and_watch(bench, pods, window, run)
            if pods == 0:
                baseline.append(rss)
            elif baseline:
                per_pod = (rss - statistics.median(baseline)) / pods
                bench.results.add("memory", f"{pods} pods", "KB per pod (over empty)", pods, per_pod)
                await _cache_split(bench, pods)


async def _cache_split(bench: Bench, pods: int) -> None:
    """Where the per-pod memory is: the caches' bytes per pod, all and per cache holding >= 5% (syncer.cachesize)."""
    split = await bench.vcsync.caches()
    size = f"{pods} pods"
    bench.results.add("memory", size, "caches KB per pod", pods, split["total_bytes"] / 1024 / pods)
    for row in split["stores"]:
        if row["bytes"] >= split["total_bytes"] / 20:
            metric = f"{row['side']} {row['kind']} cache KB per pod"
            bench.results.add("memory", size, metric, pods, row["bytes"] / 1024 / pods)


async def _grow(bench: Bench, have: int, pods: int) -> None:
    """Create pods [have, pods) with their ConfigMaps and Secrets, and wait until all are on the host and Running."""
    opts = bench.opts
    budget = 3 * (pods - have) / opts.host_qps * 3 + 300
    if have == 0:
        await bench.virtual_namespace(POPULATION)
    trackers = {kind: Seen(virtual_name) for kind in SYNCED_KINDS}
    running = Seen(name_of, is_running)
    watches = [bench.host_copies(kind, POPULATION).on(trackers[kind]) for kind in SYNCED_KINDS]
    watches.append(Watcher(bench.virtual, path("pods", POPULATION)).on(running))
    objects = [item for i in range(have, pods) for item in pod_set("pop", i)]
    client = bench.virtual.paced(opts.virtual_qps, opts.virtual_burst)
    bench.log(f"growing the population to {pods} pods ({3 * pods} objects)")
    async with contextlib.AsyncExitStack() as stack:
        for watch in watches:
            await stack.enter_async_context(watch)
        await run_bounded((client.create(path(k, POPULATION), body) for k, body in objects), opts.concurrency)
        for kind in SYNCED_KINDS:
            names = [body["metadata"]["name"] for k, body in objects if k == kind]
            await trackers[kind].wait(names, budget, f"host {kind} of the population", *watches)
        pod_names = [body["metadata"]["name"] for k, body in objects if k == "pods"]
        await running.wait(pod_names, budget, "population pods Running in the virtual cluster", *watches)


async def _restart_and_watch(bench: Bench, pods: int, window: float, run: int) -> float:
    """One restart at the current size; returns the steady RSS in KB at the end of the quiet window."""
    vcsync, heartbeats, results = bench.vcsync, bench.heartbeats, bench.results

    async def read() -> tuple[Counters, ProcStats]:
        return await vcsync.counters(), vcsync.proc()

    await vcsync.stop()
    spawned = time.time()
    await vcsync.start()
    ready_s = await vcsync.wait_ready(timeout=900)
    ready = await heartbeats.snapshot(read)
    # the old process's last heartbeats may still be in delivery for GUARD after it exited; the new one is not
    # writing that early (it is still importing)
    restart_beats = heartbeats.between(vcsync.stopped_at + GUARD, ready.start)
    await asyncio.sleep(window)  # the quiet window: nothing changes, we only watch what vcsync does
    end = await heartbeats.snapshot(read)
    (c0, p0), (c1, p1) = ready.value, end.value
    ready_wall, end_wall = time.time() - (time.monotonic() - ready.end), time.time() - (time.monotonic() - end.end)
    minutes = (end.start - ready.start) / 60
    window_beats = heartbeats.between(ready.end, end.start)

    objects = f"{pods} pods ({3 * pods} objects)"
    results.add("restart", objects, "time to ready s", pods, ready_s)
    results.add("restart", objects, "writes (excl. heartbeats)", pods, c0.writes - restart_beats)
    results.add("restart", objects, "host writes", pods, c0.host_writes)
    results.add("memory", f"{pods} pods", "steady RSS MB", pods, p1.rss_kb / 1024)
    results.add("memory", f"{pods} pods", "peak RSS MB", pods, p1.hwm_kb / 1024)
    idle = f"{pods} pods, {window:g} s"
    results.add("idle", idle, "CPU s/min", pods, (p1.cpu_seconds - p0.cpu_seconds) / minutes)
    results.add("idle", idle, "API requests/min", pods, (c1.requests - c0.requests) / minutes)
    results.add("idle", idle, "writes (excl. heartbeats)", pods, c1.writes - c0.writes - window_beats)
    results.add("idle", idle, "heartbeat writes/min", pods, window_beats / minutes)
    results.add("idle", idle, "host writes", pods, c1.host_writes - c0.host_writes)
    unexpected = results.meta.setdefault("unexpected writes", [])
    if c0.writes - restart_beats:
        found = vcsync.logged_writes(spawned, ready_wall)
        unexpected.append(f"restart at {objects}, run {run + 1}: {c0.write_delta(None)}; log: {found or 'nothing'}")
    if c1.writes - c0.writes - window_beats:
        found = vcsync.logged_writes(ready_wall, end_wall)
        unexpected.append(f"window at {idle}, run {run + 1}: {c1.write_delta(c0)}; log: {found or 'nothing'}")
    bench.log(
        f"restart at {objects} run {run + 1}: ready {ready_s:.2f}s, writes {c0.writes:g} - {restart_beats} heartbeats; "
        f"{window:g}s window: CPU {p1.cpu_seconds - p0.cpu_seconds:.2f}s, writes {c1.writes - c0.writes:g} - "
        f"{window_beats} heartbeats, RSS {p1.rss_kb / 1024:.0f} MB (peak {p1.hwm_kb / 1024:.0f} MB)"
    )
    return p1.rss_kb
