"""Scenario 3, bulk throughput: N pods, each with the ConfigMap and Secret it uses, created in the virtual cluster as
fast as the client allows, until all 3N host copies are seen; the floor creates the same 3N objects straight on the
host through a client limited to vcsync's host QPS/burst, since that budget is what bounds vcsync."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable

from bench.harness import SYNCED_KINDS, Bench, name_of, virtual_name
from bench.kube import Http, Obj, path, pod_set, run_bounded
from bench.watch import Seen, Watcher


async def bulk_throughput(bench: Bench) -> None:
    opts = bench.opts
    for pods in opts.bulk_sizes:
        size = f"{pods} pods ({3 * pods} objects)"
        budget = 3 * pods / opts.host_qps * 3 + 120
        for run in range(opts.runs):
            vns, floor_ns = f"bulk-{pods}-{run}", f"floor-bulk-{pods}-{run}"
            await bench.virtual_namespace(vns)
            watches = [bench.host_copies(kind, vns) for kind in SYNCED_KINDS]
            client = bench.virtual.paced(opts.virtual_qps, opts.virtual_burst)
            ours = await _timed(client, vns, pods, opts.concurrency, watches, virtual_name, budget)
            await bench.remove_virtual_namespace(vns, budget)

            await bench.host_namespace(floor_ns)
            watches = [Watcher(bench.host, path(kind, floor_ns)) for kind in SYNCED_KINDS]
            client = bench.host.paced(opts.host_qps, opts.host_burst)
            floor = await _timed(client, floor_ns, pods, opts.concurrency, watches, name_of, budget)
            await bench.remove_host_namespace(floor_ns, budget)

            bench.results.add("bulk", size, "objects/s", pods, 3 * pods / ours, 3 * pods / floor)
            bench.results.add("bulk", size, "seconds", pods, ours, floor)
            bench.log(f"bulk {size} run {run + 1}: {3 * pods / ours:.1f} objects/s (floor {3 * pods / floor:.1f})")


async def _timed(
    client: Http,
    namespace: str,
    pods: int,
    concurrency: int,
    watches: list[Watcher],
    key: Callable[[Obj], str | None],
    budget: float,
) -> float:
    """Seconds from the first create to the last of the 3N objects seen by the (host) watches."""
    objects = [(kind, body) for i in range(pods) for kind, body in _objects(i)]
    expected = {kind: [body["metadata"]["name"] for k, body in objects if k == kind] for kind in SYNCED_KINDS}
    trackers = {kind: Seen(key) for kind in SYNCED_KINDS}
    async with contextlib.AsyncExitStack() as stack:
        for kind, watch in zip(SYNCED_KINDS, watches, strict=True):
            await stack.enter_async_context(watch.on(trackers[kind]))
        start = time.monotonic()
        await run_bounded((client.create(path(kind, namespace), body) for kind, body in objects), concurrency)
        last = start
        for kind in SYNCED_KINDS:
            seen = await trackers[kind].wait(expected[kind], budget, f"{kind} of {namespace} on the host", *watches)
            last = max(last, *seen.values())
    return last - start


def _objects(i: int) -> list[tuple[str, Obj]]:
    return pod_set("b", i)
