"""One PNG with a panel per scenario, medians with min-max error bars and the floor beside them, so a regression is
visible at a glance next to the table. Matplotlib's Agg backend: no display needed (CI, servers)."""

from __future__ import annotations

import statistics
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.axes import Axes

from bench.results import Results, Row


def _errorbar(ax: Axes, rows: list[Row], label: str, *, floor: bool = False, **style) -> None:
    rows = sorted(rows, key=lambda r: r.x)
    if floor:
        rows = [r for r in rows if r.floor]
    if not rows:
        return
    series = [r.floor if floor else r.values for r in rows]
    medians = [statistics.median(v) for v in series]
    low = [m - min(v) for m, v in zip(medians, series, strict=True)]
    high = [max(v) - m for m, v in zip(medians, series, strict=True)]
    ax.errorbar([r.x for r in rows], medians, yerr=[low, high], label=label, capsize=3, marker="o", **style)


def _panel(ax: Axes, title: str, xlabel: str, ylabel: str) -> None:
    ax.set_title(title, fontsize=10)
    ax.set_xlabel(xlabel, fontsize=8)
    ax.set_ylabel(ylabel, fontsize=8)
    ax.tick_params(labelsize=7)
    ax.grid(True, alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7)
    else:
        ax.text(0.5, 0.5, "not measured", ha="center", va="center", transform=ax.transAxes, color="grey")


def _latency(ax: Axes, results: Results, scenario: str, xlabel: str) -> None:
    for q, color in (("p50", "tab:blue"), ("p95", "tab:orange"), ("p99", "tab:red")):
        rows = results.find(scenario, f"{q} ms")
        _errorbar(ax, rows, f"vcsync {q}", color=color)
        _errorbar(ax, rows, f"floor {q}", floor=True, color=color, linestyle="--", alpha=0.6)
    ax.set_yscale("log")
    _panel(ax, f"{scenario} latency", xlabel, "ms (log)")


def _bars(ax: Axes, groups: list[str], series: list[tuple[str, list[list[float]]]], *, log: bool = False) -> None:
    """Grouped bars: one group per entry of `groups`, one bar per series (its values per group), min-max whiskers."""
    width = 0.8 / max(len(series), 1)
    for i, (label, per_group) in enumerate(series):
        xs = [g + (i - (len(series) - 1) / 2) * width for g in range(len(groups))]
        present = [(x, v) for x, v in zip(xs, per_group, strict=True) if v]
        if not present:
            continue
        medians = [statistics.median(v) for _, v in present]
        low = [m - min(v) for m, (_, v) in zip(medians, present, strict=True)]
        high = [max(v) - m for m, (_, v) in zip(medians, present, strict=True)]
        ax.bar([x for x, _ in present], medians, width, yerr=[low, high], capsize=3, label=label)
    ax.set_xticks(range(len(groups)), groups)
    if log:
        ax.set_yscale("log")


def _status(ax: Axes, results: Results) -> None:
    groups = ["p50", "p95", "p99"]
    values = {q: [v for r in results.find("status", f"{q} ms") for v in r.values] for q in groups}
    floors = {q: [v for r in results.find("status", f"{q} ms") for v in r.floor] for q in groups}
    running = {
        q: [v for r in results.find("status", f"Running seen host->virtual {q} ms") for v in r.values] for q in groups
    }
    series = [
        ("vcsync: host status write -> virtual watch", [values[q] for q in groups]),
        ("floor: -> host watch", [floors[q] for q in groups]),
        ("kwok Running: host watch -> virtual watch", [running[q] for q in groups]),
    ]
    _bars(ax, groups, series, log=True)
    _panel(ax, "status latency", "percentile", "ms (log)")


def _bulk(ax: Axes, results: Results) -> None:
    rows = sorted(results.find("bulk", "objects/s"), key=lambda r: r.x)
    qps = results.meta.get("host_qps", "?")
    series = [("vcsync", [r.values for r in rows]), (f"floor (host QPS {qps})", [r.floor for r in rows])]
    _bars(ax, [f"{r.x:g} pods" for r in rows], series)
    _panel(ax, "bulk throughput", "pods (each with a ConfigMap and a Secret)", "objects/s")


def _deployment(ax: Axes, results: Results) -> None:
    metrics = {"to Ready": "s to Ready", "delete -> host empty": "s from delete to host empty"}
    rows = {group: results.find("deployment", metric) for group, metric in metrics.items()}
    size = next((r.size for found in rows.values() for r in found), "")
    series = [
        ("vcsync", [[v for r in rows[g] for v in r.values] for g in metrics]),
        ("floor: the same Deployment on the host", [[v for r in rows[g] for v in r.floor] for g in metrics]),
    ]
    _bars(ax, list(metrics), series)
    _panel(ax, f"a Deployment of {size}".strip(), "", "s")


def _capacity(throughput: Axes, cpu: Axes, by_process: Axes, results: Results) -> None:
    rows = sorted(results.find("capacity", "pods/s to Running"), key=lambda r: r.x)
    series = [("vcsync", [r.values for r in rows]), ("floor: straight on the host", [r.floor for r in rows])]
    _bars(throughput, [f"{r.x:g} pods" for r in rows], series)
    _panel(throughput, "capacity, client limits lifted", "pods created as fast as the client can", "pods/s to Running")
    _errorbar(cpu, results.find("capacity", "CPU ms per pod life cycle"), "vcsync CPU per pod", color="tab:brown")
    _panel(cpu, "CPU per pod life cycle (capacity runs)", "pods", "ms (user + system)")
    prefix = "CPU ms per pod: "
    rows = [r for r in results.rows if r.scenario == "capacity" and r.metric.startswith(prefix)]
    largest = max((r.x for r in rows), default=0)
    rows = [r for r in rows if r.x == largest]
    series = [("through vcsync", [r.values for r in rows]), ("floor: straight on the host", [r.floor for r in rows])]
    _bars(by_process, [r.metric.removeprefix(prefix) for r in rows], series)
    by_process.tick_params(axis="x", labelrotation=60)
    _panel(by_process, "where the machine's CPU goes per pod (capacity)", "process", "ms per pod")


def _kubelet(logs: Axes, execs: Axes, streams: Axes, results: Results) -> None:
    rows = sorted(results.find("kubelet", "kubectl logs MB/s"), key=lambda r: r.x)
    series = [("through vcsync", [r.values for r in rows]), ("host pod directly", [r.floor for r in rows])]
    _bars(logs, [r.size for r in rows], series)
    _panel(logs, "kubelet: kubectl logs", "log size", "MB/s")
    groups = ["p50", "p99"]
    exec_rows = {q: results.find("kubelet", f"exec {q} ms") for q in groups}
    series = [
        ("through vcsync", [[v for r in exec_rows[q] for v in r.values] for q in groups]),
        ("host pod directly", [[v for r in exec_rows[q] for v in r.floor] for q in groups]),
    ]
    _bars(execs, groups, series)
    _panel(execs, "kubelet: kubectl exec -- true", "percentile", "ms")
    groups = ["p50", "p95", "p99"]
    create_rows = {q: results.find("kubelet", f"create {q} ms") for q in groups}
    label = next((r.size.split(", ")[-1] for rows in create_rows.values() for r in rows), "log streams")
    series = [
        (f"with {label}", [[v for r in create_rows[q] for v in r.values] for q in groups]),
        ("without", [[v for r in create_rows[q] for v in r.floor] for q in groups]),
    ]
    _bars(streams, groups, series)
    _panel(streams, "create latency while logs are followed", "percentile", "ms")


def draw(results: Results, png_path: Path) -> None:
    fig, axes = plt.subplots(5, 3, figsize=(15, 20.5))
    (create, status, bulk), (capacity, cpu, by_process), (restart, memory, idle), (logs, execs, streams) = axes[:4]
    deployment, *unused = axes[4]
    _deployment(deployment, results)
    for ax in unused:
        ax.axis("off")
    _capacity(capacity, cpu, by_process, results)
    _kubelet(logs, execs, streams, results)
    _latency(create, results, "create", "pods/s")
    _status(status, results)
    _bulk(bulk, results)

    _errorbar(restart, results.find("restart", "time to ready s"), "time to /readyz (s)", color="tab:green")
    _errorbar(restart, results.find("restart", "writes (excl. heartbeats)"), "writes (target 0)", color="tab:red")
    _panel(restart, "restart", "synced pods", "s / writes")

    _errorbar(memory, results.find("memory", "steady RSS MB"), "steady RSS", color="tab:purple")
    _errorbar(memory, results.find("memory", "peak RSS MB"), "peak RSS (VmHWM)", color="tab:pink")
    _panel(memory, "memory", "synced pods", "MB")

    _errorbar(idle, results.find("idle", "CPU s/min"), "CPU s/min", color="tab:brown")
    _errorbar(idle, results.find("idle", "writes (excl. heartbeats)"), "writes (target 0)", color="tab:red")
    _panel(idle, "after restart: quiet window", "synced pods", "CPU s/min, writes")
    requests = idle.twinx()
    _errorbar(requests, results.find("idle", "API requests/min"), "API requests/min (right)", color="tab:cyan")
    requests.set_ylabel("API requests/min", fontsize=8)
    requests.tick_params(labelsize=7)
    if requests.get_legend_handles_labels()[0]:
        requests.legend(fontsize=7, loc="lower right")

    fig.suptitle(results.meta.get("title", "vcsync benchmark"), fontsize=12)
    fig.tight_layout()
    png_path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png_path, dpi=110)
    plt.close(fig)
