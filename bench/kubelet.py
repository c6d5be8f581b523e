"""Scenario 5, the kubelet endpoint: `kubectl logs` of a large log through vcsync against the same command on the host
pod directly (MB/s); `kubectl exec -- true` round trips through vcsync against the host (p50/p99, the difference is
vcsync's overhead); and create latency while many followed log streams run through vcsync, against the same
measurement without them."""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import time
from pathlib import Path

from bench.harness import Bench, is_running, name_of
from bench.kube import path, pod
from bench.latency import QUANTILES, through_vcsync
from bench.results import percentile
from bench.watch import Seen, Watcher

VNS = "kubelet"
POD = "target"
LINE = "x" * 180  # ~200-byte CRI lines, a typical application log line


def _write_log(log: Path, megabytes: int) -> int:
    """Replace the host pods' shared kwok log with `megabytes` MB of CRI lines; returns the payload bytes."""
    line = f"2026-01-01T00:00:00Z stdout F {LINE}\n"
    count = megabytes * 1024 * 1024 // len(line)
    log.write_text(line * count)
    return count * (len(LINE) + 1)


async def _kubectl(bench: Bench, cluster: str, *args: str) -> float:
    """Seconds one kubectl command takes against `cluster` ("host" or "virtual"), its output discarded."""
    kubeconfig = getattr(bench.pair, cluster).kubeconfig
    started = time.monotonic()
    proc = await asyncio.create_subprocess_exec(
        str(bench.pair.binaries["kubectl"]),
        f"--kubeconfig={kubeconfig}",
        *args,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await proc.communicate()
    if proc.returncode:
        raise RuntimeError(f"kubectl {' '.join(args)} on {cluster} failed: {err.decode()[:300]}")
    return time.monotonic() - started


async def kubelet_endpoint(bench: Bench) -> None:
    await bench.virtual_namespace(VNS)
    seen = Seen(name_of, is_running)
    async with Watcher(bench.virtual, path("pods", VNS)).on(seen) as watch:
        await bench.virtual.create(path("pods", VNS), pod(POD))
        await seen.wait([POD], 120, "the kubelet benchmark pod Running in the virtual cluster", watch)
    host_pod = ("-n", bench.target, bench.host_name(POD, VNS))
    virtual_pod = ("-n", VNS, POD)
    try:
        await _log_throughput(bench, host_pod, virtual_pod)
        await _exec_latency(bench, host_pod, virtual_pod)
        await _latency_with_streams(bench)
    finally:
        bench.pair.host.pod_log.write_text("")
        await bench.remove_virtual_namespace(VNS, 120)


async def _log_throughput(bench: Bench, host_pod: tuple[str, ...], virtual_pod: tuple[str, ...]) -> None:
    size = bench.opts.log_mb
    payload = _write_log(bench.pair.host.pod_log, size) / 1e6
    for run in range(bench.opts.runs):
        floor = payload / await _kubectl(bench, "host", "logs", *host_pod)
        ours = payload / await _kubectl(bench, "virtual", "logs", *virtual_pod)
        bench.results.add("kubelet", f"{size} MB log", "kubectl logs MB/s", size, ours, floor)
        bench.log(f"logs {size} MB run {run + 1}: {ours:.1f} MB/s through vcsync, {floor:.1f} MB/s on the host")


async def _exec_latency(bench: Bench, host_pod: tuple[str, ...], virtual_pod: tuple[str, ...]) -> None:
    count = bench.opts.exec_count
    for run in range(bench.opts.runs):
        floor, ours = [], []
        for _ in range(count):  # interleaved, so both see the same machine load
            floor.append(await _kubectl(bench, "host", "exec", *host_pod, "--", "true"))
            ours.append(await _kubectl(bench, "virtual", "exec", *virtual_pod, "--", "true"))
        for q in (50, 99):
            ms = percentile(ours, q) * 1000
            bench.results.add(
                "kubelet", f"{count} x exec -- true", f"exec p{q} ms", count, ms, percentile(floor, q) * 1000
            )
        overhead = (statistics.median(ours) - statistics.median(floor)) * 1000
        bench.log(f"exec run {run + 1}: p50 {percentile(ours, 50) * 1000:.0f} ms, overhead {overhead:.0f} ms")


async def _latency_with_streams(bench: Bench) -> None:
    """Create latency (20 pods/s) without, then with, `streams` followed log streams open through vcsync."""
    streams, count, rate = bench.opts.log_streams, bench.opts.latency_pods, 20.0
    bench.pair.host.pod_log.write_text(f"2026-01-01T00:00:00Z stdout F {LINE}\n")
    size = f"{rate:g}/s x {count} pods, {streams} log streams"
    for run in range(bench.opts.runs):
        quiet = await through_vcsync(bench, rate, count, f"quiet-{run}")
        async with _followed(bench, streams):
            busy = await through_vcsync(bench, rate, count, f"streams-{run}")
        for q in QUANTILES:
            bench.results.add(
                "kubelet", size, f"create p{q} ms", streams, percentile(busy, q) * 1000, percentile(quiet, q) * 1000
            )
        bench.log(f"create with {streams} streams run {run + 1}: p99 {percentile(busy, 99) * 1000:.0f} ms "
                  f"(without {percentile(quiet, 99) * 1000:.0f} ms)")  # fmt: skip


@contextlib.asynccontextmanager
async def _followed(bench: Bench, streams: int):
    """`streams` open `kubectl logs -f`-equivalent requests on the virtual API server, each answered through vcsync."""
    query = [("follow", "true"), ("tailLines", "1")]
    log_path = path("pods", VNS, POD, sub="log")
    responses = [await bench.virtual.open_stream(log_path, query) for _ in range(streams)]
    try:
        for response in responses:
            if response.status != 200:
                raise RuntimeError(f"log stream answered {response.status}")
        yield
    finally:
        for response in responses:
            response.close()
