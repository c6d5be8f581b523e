"""The results file: a Markdown table (scenario, size, metric, median, min, max, floor, ratio) with the run's
context and whether the targets of issues 7 and 15 hold, plus the raw per-run numbers as JSON so plots can be
redrawn later (`python -m bench.report <results.json>`)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from bench.options import SCENARIOS
from bench.results import Results, Row

NOTES = """\
- Every figure is the median of the runs, with min and max; `floor` is the median of the same figure measured
  without vcsync in the same run, and `ratio` = median / floor. Latency percentiles are per run. A few pods went
  through vcsync untimed first (warm-up); the restart scenario is where startup costs show.
- A latency floor is one hop (a write, then a watch event), which on loopback arrives with the write's own answer
  (p50 well under a millisecond), so p50 ratios are large by construction; vcsync's path has at least two such hops
  plus its own request (virtual watch -> host write -> host watch).
- **create**: virtual pod create acknowledged -> host copy seen by a host watch on the target namespace. Floor: the
  same client creating the same pods directly in a host namespace at the same rate, seen by a watch.
- **status**: the benchmark sets a Running host pod NotReady as a kubelet would on a failing readiness probe (a
  status write whose acknowledgement time is known) -> the virtual pod's condition seen by a virtual watch. Floor:
  the host watch seeing that write. `Running seen host->virtual`: kwok turning the host pod Running (its write time
  is unknown) seen by the host watch -> the virtual pod Running seen by the virtual watch; no floor.
- **bulk**: all 3N objects created in the virtual cluster (client at vcsync's virtual QPS/burst) -> all 3N host copies
  seen. Floor: the same objects created directly on the host by a client at vcsync's host QPS/burst.
- **capacity**: vcsync restarted with its client QPS limits lifted; N pods created in the virtual cluster as fast as
  the benchmark client can (its concurrency in flight) -> the last virtual pod Running, as pods/s. Floor: the same
  pods created straight on the host, Running by kwok. `CPU ms per pod life cycle`: vcsync's user + system CPU (from
  /proc) from the first create until the namespace's deletion has emptied the host and vcsync is quiet, per pod.
- **deployment**: a Deployment of N pods (all using one ConfigMap and one Secret) applied in the virtual cluster ->
  the Deployment reports N ready replicas (s, from the first create); then deleted -> a host watch sees none of its
  pods left. Floor: the same objects applied straight to the host, the same two waits. Both sides' ReplicaSets and
  garbage collection are their own controller-manager's.
- **restart**: vcsync stopped (SIGTERM) and started again with everything in sync -> /readyz 200. Writes are
  `vcsync_api_requests_total` with verb create/update/patch/delete from start to ready. **memory** and **idle**: the
  quiet window after that restart (the idle window at the largest size); RSS is VmRSS at its end, peak is VmHWM.
- **kubelet**: `kubectl logs` of an N MB log (kwok's, ~200-byte lines) through vcsync, in MB/s; floor: the same
  command on the host pod. `exec p50/p99`: `kubectl exec -- true`, interleaved with the same on the host (floor), so
  the difference is vcsync's overhead (kubectl's own start-up is in both). `create pXX` with log streams: create
  latency at 20 pods/s while that many followed log streams run through vcsync; floor: the same run without them.
- Writes exclude fake-node heartbeats (SPEC 9.5), which are *subtracted*: virtual watches on the fake Nodes and
  their Leases count every heartbeat write and counters are read only while none is in flight. Heartbeats never
  touch the host, so host writes are exact; benchmark pods mount no service-account token, so there are no token
  refreshes."""

NOT_CONTEXT = frozenset({"errors", "options", "title", "unexpected writes"})
Check = Callable[[Results], tuple[str, bool | None]]


def _largest(rows: list[Row]) -> Row | None:
    return max(rows, key=lambda r: r.x) if rows else None


def _fmt(value: float | None) -> str:
    if value is None:
        return "—"
    if value == 0 or abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}" if abs(value) >= 0.1 else f"{value:.3f}"


def _ratio_target(scenario: str, metric: str, limit: float, at_most: bool) -> Check:
    def check(results: Results) -> tuple[str, bool | None]:
        rows = [r for r in results.find(scenario, metric) if r.ratio is not None]
        if not rows:
            return "not measured", None
        worst = max(rows, key=lambda r: r.ratio) if at_most else min(rows, key=lambda r: r.ratio)
        assert worst.ratio is not None
        holds = worst.ratio <= limit if at_most else worst.ratio >= limit
        return f"worst ratio {worst.ratio:.2f} at {worst.size}", holds

    return check


def _zero(scenario: str, metric: str) -> Check:
    def check(results: Results) -> tuple[str, bool | None]:
        rows = results.find(scenario, metric)
        if not rows:
            return "not measured", None
        worst = max(max(r.values) for r in rows)
        return f"max {worst:g} over {sum(len(r.values) for r in rows)} runs", worst <= 0

    return check


def _rss_per_pod(limit: float) -> Check:
    def check(results: Results) -> tuple[str, bool | None]:
        row = _largest(results.find("memory", "KB per pod (over empty)"))
        if row is None:
            return "not measured", None
        steady = next((r for r in results.find("memory", "steady RSS MB") if r.x == row.x), None)
        total = f" (steady RSS {steady.median:.0f} MB)" if steady else ""
        return f"{row.median:.1f} KB per pod over the empty process at {row.size}{total}", row.median <= limit

    return check


def _median(scenario: str, metric: str, limit: float, *, at: float | None = None, at_most: bool = True) -> Check:
    """The median of `metric` at size `at` (default: the largest measured) against `limit`."""

    def check(results: Results) -> tuple[str, bool | None]:
        rows = results.find(scenario, metric)
        row = _largest(rows) if at is None else next((r for r in rows if r.x == at), None)
        if row is None:
            return "not measured", None
        holds = row.median <= limit if at_most else row.median >= limit
        return f"{_fmt(row.median)} at {row.size}", holds

    return check


TARGETS: list[tuple[str, Check]] = [
    ("create p99 within 1.5x the floor", _ratio_target("create", "p99 ms", 1.5, at_most=True)),
    ("status p99 within 1.5x the floor", _ratio_target("status", "p99 ms", 1.5, at_most=True)),
    ("bulk at least 0.9x the floor's objects/s", _ratio_target("bulk", "objects/s", 0.9, at_most=False)),
    ("zero writes on restart", _zero("restart", "writes (excl. heartbeats)")),
    ("zero writes at idle", _zero("idle", "writes (excl. heartbeats)")),
    ("<= 25 KB RSS per synced pod at the largest size", _rss_per_pod(25)),
    ("kubectl logs through vcsync at least 0.8x the host's", _ratio_target("kubelet", "kubectl logs MB/s", 0.8, False)),
    # issue 15
    ("vcsync CPU per pod life cycle <= 4 ms (capacity)", _median("capacity", "CPU ms per pod life cycle", 4)),
    ("create p99 <= 100 ms at 50 pods/s", _median("create", "p99 ms", 100, at=50)),
    ("create p99 <= 500 ms at 100 pods/s", _median("create", "p99 ms", 500, at=100)),
    ("host Running -> virtual Running p99 <= 150 ms", _median("status", "Running seen host->virtual p99 ms", 150)),
    ("capacity >= 150 pods/s to Running", _median("capacity", "pods/s to Running", 150, at_most=False)),
    ("<= 20 KB RSS per synced pod at the largest size", _rss_per_pod(20)),
    ("Deployment Ready within 1.02x the floor", _ratio_target("deployment", "s to Ready", 1.02, at_most=True)),
    (
        "Deployment deleted, host empty within 1.1x the floor",
        _ratio_target("deployment", "s from delete to host empty", 1.1, at_most=True),
    ),
    ("restart to ready <= 10 s at the largest size", _median("restart", "time to ready s", 10)),
]


def _ordered(results: Results) -> list[Row]:
    """Scenarios in their numbered order, sizes ascending, metrics as measured."""
    order = {name: i for i, name in enumerate(SCENARIOS)}
    return sorted(results.rows, key=lambda r: (order.get(r.scenario, len(order)), r.x))


def table(results: Results) -> str:
    lines = ["| scenario | size | metric | median | min | max | floor | ratio |", "|---|---|---|---|---|---|---|---|"]
    for r in _ordered(results):
        if r.values:
            cells = [r.scenario, r.size, r.metric, _fmt(r.median), _fmt(min(r.values)), _fmt(max(r.values))]
            cells += [_fmt(r.floor_median), f"{r.ratio:.2f}" if r.ratio is not None else "—"]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def targets(results: Results) -> str:
    lines = ["| target (issues 7 and 15) | this run | holds |", "|---|---|---|"]
    for name, check in TARGETS:
        detail, holds = check(results)
        lines.append(f"| {name} | {detail} | {'—' if holds is None else 'yes' if holds else 'no'} |")
    return "\n".join(lines)


def markdown(results: Results, png_name: str) -> str:
    meta = results.meta
    context = ", ".join(f"{k} {v}" for k, v in meta.items() if k not in NOT_CONTEXT)
    parts = [
        f"# {meta.get('title', 'vcsync benchmark')}",
        "",
        context,
        "",
        f"Options: `{meta.get('options', '')}`",
        "",
        table(results),
        "",
        targets(results),
        "",
        f"![plots]({png_name})",
        "",
        NOTES,
    ]
    if meta.get("unexpected writes"):
        parts += ["", "## Writes that were not heartbeats", "", *(f"- {w}" for w in meta["unexpected writes"])]
    if meta.get("errors"):
        parts += ["", "## Errors", "", *(f"- {e}" for e in meta["errors"])]
    return "\n".join(parts) + "\n"


def write(results: Results, md_path: Path, png_name: str) -> None:
    md_path.parent.mkdir(parents=True, exist_ok=True)
    md_path.write_text(markdown(results, png_name))
    md_path.with_suffix(".json").write_text(json.dumps(results.to_json(), indent=1) + "\n")


def redraw(json_path: Path) -> None:
    """The .md and .png of a results .json again, e.g. after a target was added."""
    from bench import plot  # matplotlib only when drawing

    doc = json.loads(json_path.read_text())
    results = Results(meta=doc["meta"], rows=[Row(**row) for row in doc["rows"]])
    plot.draw(results, json_path.with_suffix(".png"))
    write(results, json_path.with_suffix(".md"), json_path.with_suffix(".png").name)


if __name__ == "__main__":
    import sys

    redraw(Path(sys.argv[1]))
