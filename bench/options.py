"""Benchmark sizes, durations and client settings. Every value is a flag; `--smoke` picks small CI-friendly defaults
(a few minutes on a laptop), and without it the defaults are the full sizes of issue 7 for a manual run (hours)."""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import dataclass
from pathlib import Path

from syncer.config import FLAGS

SCENARIOS = ("create", "status", "bulk", "capacity", "deployment", "restart", "memory", "idle", "kubelet")
LIFECYCLE = frozenset({"restart", "memory", "idle"})  # measured together: one restart, then a quiet window
VCSYNC_DEFAULTS = {flag.name: flag.default for flag in FLAGS}  # the bench runs vcsync with vcsync's own defaults
PODS_PER_NODE = 1000  # kwok node capacity (syncer/controlplane/cluster.py)

SMOKE = {
    "runs": 3,
    "rates": "20,50,100",
    "latency_pods": 50,
    "status_pods": 50,
    "status_rate": 20.0,
    "bulk_sizes": "100",
    "capacity_pods": 100,
    "deployment_pods": 100,
    "memory_sizes": "100",
    "settle": 5.0,
    "idle": 20.0,
    "log_mb": 5,
    "exec_count": 20,
    "log_streams": 50,
}
FULL = {
    "runs": 3,
    "rates": "20,50,100",
    "latency_pods": 500,
    "status_pods": 500,
    "status_rate": 50.0,
    "bulk_sizes": "1000,5000",
    "capacity_pods": 1000,
    "deployment_pods": 1000,
    "memory_sizes": "1000,5000,10000",
    "settle": 30.0,
    "idle": 300.0,
    "log_mb": 50,
    "exec_count": 200,
    "log_streams": 50,
}


@dataclass(frozen=True)
class Options:
    smoke: bool
    runs: int
    rates: tuple[float, ...]
    latency_pods: int
    status_pods: int
    status_rate: float
    bulk_sizes: tuple[int, ...]
    capacity_pods: int
    deployment_pods: int
    memory_sizes: tuple[int, ...]
    settle: float
    idle: float
    log_mb: int
    exec_count: int
    log_streams: int
    scenarios: frozenset[str]
    nodes: int
    concurrency: int
    host_qps: float
    host_burst: int
    virtual_qps: float
    virtual_burst: int
    workers: int
    vcsync_args: tuple[str, ...]
    out: Path
    keep: bool
    vcsync_log: Path | None = None
    argv: tuple[str, ...] = ()

    def vcsync_flags(self) -> tuple[str, ...]:
        return (
            f"--host-qps={self.host_qps:g}",
            f"--host-burst={self.host_burst}",
            f"--virtual-qps={self.virtual_qps:g}",
            f"--virtual-burst={self.virtual_burst}",
            f"--workers={self.workers}",
            *self.vcsync_args,
        )

    def wants(self, *scenarios: str) -> bool:
        return bool(self.scenarios & set(scenarios))


def _numbers(kind: type, text: str) -> tuple:
    try:
        values = tuple(kind(v) for v in text.split(",") if v.strip())
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"not a comma-separated list of numbers: {text!r}") from e
    if not values or any(v <= 0 for v in values):
        raise argparse.ArgumentTypeError(f"need one or more positive numbers: {text!r}")
    return values


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m bench",
        description="Benchmark vcsync on local host+virtual control planes; writes bench/results/<date>-<host>.md "
        "and a PNG. Without --smoke the sizes are the full ones (1k/5k/10k pods, 5 min idle: hours).",
    )
    p.add_argument("--smoke", action="store_true", help="small sizes for CI (100 pods, 20 s idle: a few minutes)")
    p.add_argument("--runs", type=int, help="runs per figure; the table shows their median, min and max (3)")
    p.add_argument("--rates", help="create-latency rates in pods/s, comma-separated (20,50,100)")
    p.add_argument("--latency-pods", type=int, help="pods per create-latency run (smoke 50, full 500)")
    p.add_argument("--status-pods", type=int, help="pods per status-latency run (smoke 50, full 500)")
    p.add_argument("--status-rate", type=float, help="host status changes per second (smoke 20, full 50)")
    p.add_argument("--bulk-sizes", help="bulk pods (each with a ConfigMap and a Secret) (smoke 100, full 1000,5000)")
    p.add_argument("--capacity-pods", type=int, help="pods per capacity run, limits lifted (smoke 100, full 1000)")
    p.add_argument("--deployment-pods", type=int, help="replicas of the deployment scenario (smoke 100, full 1000)")
    p.add_argument("--memory-sizes", help="synced pods for restart/memory/idle (smoke 100, full 1000,5000,10000)")
    p.add_argument("--settle", type=float, help="quiet window after a restart at the smaller sizes, s (5 / 30)")
    p.add_argument("--idle", type=float, help="idle window at the largest size, s (smoke 20, full 300)")
    p.add_argument("--log-mb", type=int, help="kubelet: size of the log `kubectl logs` reads, MB (smoke 5, full 50)")
    p.add_argument("--exec-count", type=int, help="kubelet: `kubectl exec -- true` per run (smoke 20, full 200)")
    p.add_argument("--log-streams", type=int, help="kubelet: followed log streams open during create latency (50)")
    p.add_argument("--scenarios", default=",".join(SCENARIOS), help=f"subset of {','.join(SCENARIOS)}")
    p.add_argument("--nodes", type=int, help="kwok host nodes (default: enough for the largest size)")
    p.add_argument("--concurrency", type=int, default=32, help="requests the benchmark client keeps in flight (32)")
    for flag, type_, why in (
        ("host-qps", float, ", and the bulk floor's QPS"),
        ("host-burst", int, ", and the bulk floor's burst"),
        ("virtual-qps", float, ""),
        ("virtual-burst", int, ""),
        ("workers", int, ""),
    ):
        default = VCSYNC_DEFAULTS[flag]
        p.add_argument(f"--{flag}", type=type_, default=default, help=f"vcsync --{flag}{why} ({default:g})")
    p.add_argument("--vcsync-arg", action="append", default=[], help="extra `vcsync run` flag (repeatable)")
    p.add_argument("--out", type=Path, default=Path(__file__).parent / "results", help="results folder")
    p.add_argument("--keep", action="store_true", help="keep the control planes' temp folder (logs, kubeconfigs)")
    p.add_argument("--vcsync-log", type=Path, help="where vcsync's log goes (default: the control planes' temp folder)")
    return p


def parse(argv: list[str] | None = None) -> Options:
    p = parser()
    args = p.parse_args(argv)
    preset = SMOKE if args.smoke else FULL
    value = {k: getattr(args, k) if getattr(args, k) is not None else v for k, v in preset.items()}
    scenarios = frozenset(s.strip() for s in args.scenarios.split(",") if s.strip())
    if unknown := scenarios - set(SCENARIOS):
        p.error(f"unknown scenarios {sorted(unknown)}; choose from {','.join(SCENARIOS)}")
    try:
        rates = _numbers(float, value["rates"])
        bulk_sizes = _numbers(int, value["bulk_sizes"])
        memory_sizes = tuple(sorted(_numbers(int, value["memory_sizes"])))
    except argparse.ArgumentTypeError as e:
        p.error(str(e))
    counts = ("runs", "latency_pods", "status_pods", "capacity_pods", "deployment_pods")
    if min(value[name] for name in counts) < 1:
        p.error("--runs, --latency-pods, --status-pods, --capacity-pods and --deployment-pods must be at least 1")
    largest = max(*(value[name] for name in counts[1:]), *bulk_sizes, *memory_sizes)
    # node kwok-node-2 is tainted (cluster.kwok_node), so one node more than the pods need, and one spare
    nodes = args.nodes or 3 + math.ceil(largest / PODS_PER_NODE)
    return Options(
        smoke=args.smoke,
        runs=value["runs"],
        rates=rates,
        latency_pods=value["latency_pods"],
        status_pods=value["status_pods"],
        status_rate=value["status_rate"],
        bulk_sizes=bulk_sizes,
        capacity_pods=value["capacity_pods"],
        deployment_pods=value["deployment_pods"],
        memory_sizes=memory_sizes,
        settle=value["settle"],
        idle=value["idle"],
        log_mb=value["log_mb"],
        exec_count=value["exec_count"],
        log_streams=value["log_streams"],
        scenarios=scenarios,
        nodes=nodes,
        concurrency=args.concurrency,
        host_qps=args.host_qps,
        host_burst=args.host_burst,
        virtual_qps=args.virtual_qps,
        virtual_burst=args.virtual_burst,
        workers=args.workers,
        vcsync_args=tuple(args.vcsync_arg),
        out=args.out,
        keep=args.keep,
        vcsync_log=args.vcsync_log,
        argv=tuple(sys.argv[1:] if argv is None else argv),
    )
