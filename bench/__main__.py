"""`python -m bench`: start a host+virtual pair, run the scenarios against one vcsync, and write
bench/results/<date>-<host>.{md,png,json}. Exit 1 if any scenario failed (its error is in the results file)."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import platform
import socket
import subprocess
import sys
import time
from pathlib import Path

from bench import bulk, capacity, deployment, harness, kubelet, latency, lifecycle, plot, report
from bench.options import Options, parse
from bench.results import Results
from syncer.controlplane import ClusterPair, ControlPlaneError, assets


def _scenarios(opts: Options) -> list[tuple[str, harness.Scenario]]:
    chosen: list[tuple[str, harness.Scenario]] = []
    if opts.wants("create"):
        chosen.append(("create latency", latency.create_latency))
    if opts.wants("status"):
        chosen.append(("status latency", latency.status_latency))
    if opts.wants("bulk"):
        chosen.append(("bulk throughput", bulk.bulk_throughput))
    if opts.wants("capacity"):
        chosen.append(("capacity, limits lifted", capacity.capacity))
    if opts.wants("deployment"):
        chosen.append(("deployment", deployment.deployment))
    if opts.wants("kubelet"):
        chosen.append(("kubelet endpoint", kubelet.kubelet_endpoint))
    if opts.wants("restart", "memory", "idle"):
        chosen.append(("restart, memory and idle", lifecycle.restart_memory_idle))
    return chosen


def _commit() -> str:
    root = Path(__file__).resolve().parent.parent
    try:
        sha = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True).stdout
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=root, capture_output=True, text=True).stdout
    except OSError:
        return "?"
    return sha.strip() + ("+dirty" if dirty.strip() else "") if sha.strip() else "?"


def _memory_gib() -> str:
    try:
        kb = int(
            next(ln for ln in Path("/proc/meminfo").read_text().splitlines() if ln.startswith("MemTotal")).split()[1]
        )
    except (OSError, StopIteration, ValueError):
        return "?"
    return f"{kb / 1024 / 1024:.0f} GiB"


def run_benchmark(opts: Options, pair: ClusterPair | None = None) -> tuple[Path, Path, Results]:
    """Run everything (on `pair` if given, else on a pair of our own) and write the results; returns the .md path,
    the .png path and the results."""
    started = time.monotonic()
    host = socket.gethostname().split(".")[0]
    today = dt.date.today().isoformat()
    md_path, png_path = opts.out / f"{today}-{host}.md", opts.out / f"{today}-{host}.png"
    results = Results()
    own = pair is None
    if pair is None:
        pair = ClusterPair(nodes=opts.nodes, keep=opts.keep, binaries=assets.ensure())
        print(
            f"[bench] starting host ({opts.nodes} kwok nodes) and virtual clusters in {pair.workdir}", file=sys.stderr
        )
        pair.start()
    try:
        results.meta.update(
            title=f"vcsync benchmark {today} on {host}" + (" (smoke)" if opts.smoke else ""),
            vcsync=_commit(),
            kubernetes=pair.virtual.version().get("gitVersion", "?"),
            machine=f"{os.cpu_count()} CPUs, {_memory_gib()}, {platform.system()} {platform.release()}",
            host_qps=f"{opts.host_qps:g}",
            options=" ".join(opts.argv),
        )
        asyncio.run(harness.run(opts, pair, _scenarios(opts), results))
    finally:
        if own:
            pair.stop()
    results.meta["duration"] = f"{time.monotonic() - started:.0f} s"
    report.write(results, md_path, png_path.name)
    plot.draw(results, png_path)
    return md_path, png_path, results


def main(argv: list[str] | None = None) -> int:
    opts = parse(argv)
    try:
        md_path, png_path, results = run_benchmark(opts)
    except (ControlPlaneError, TimeoutError) as e:
        print(f"bench: {e}", file=sys.stderr)
        return 1
    print(report.table(results))
    print()
    print(report.targets(results))
    print(f"\nwrote {md_path} and {png_path}")
    return 1 if results.meta.get("errors") else 0


if __name__ == "__main__":
    sys.exit(main())
