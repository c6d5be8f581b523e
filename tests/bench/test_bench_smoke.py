"""The benchmark harness in its smallest form on its own control planes (`python -m bench` on a few pods): it must
produce the results table and the plot, and vcsync must make zero writes on restart and at idle once fake-node
heartbeats (made frequent here, so the subtraction is exercised) are taken out."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from bench.__main__ import run_benchmark
from bench.options import parse
from syncer.controlplane import ClusterPair, ControlPlaneError, assets

pytestmark = pytest.mark.controlplane

SMALL = (
    "--smoke",
    "--runs=1",
    "--rates=50",
    "--latency-pods=10",
    "--status-pods=10",
    "--status-rate=20",
    "--bulk-sizes=20",
    "--capacity-pods=20",
    "--deployment-pods=20",
    "--memory-sizes=20",
    "--settle=2",
    "--idle=8",
    "--log-mb=1",
    "--exec-count=3",
    "--log-streams=10",
    # a Lease renewal every 2 s and a status heartbeat every 4 s: heartbeats land inside the measured windows
    "--vcsync-arg=--fake-node-lease-duration=8s",
    "--vcsync-arg=--fake-node-status-interval=4s",
)


@pytest.fixture
def own_pair() -> Iterator[ClusterPair]:
    try:
        binaries = assets.locate()
    except ControlPlaneError as e:
        if os.environ.get("CI"):
            pytest.fail(f"CI is set and the control planes are unavailable: {e}", pytrace=False)
        pytest.skip(str(e))
    pair = ClusterPair(nodes=3, binaries=binaries).start()
    yield pair
    pair.stop()


@pytest.mark.timeout(240)
def test_smoke_benchmark_writes_table_and_plot_and_vcsync_writes_nothing_on_restart_or_idle(own_pair, tmp_path):
    opts = parse([*SMALL, f"--out={tmp_path}", f"--vcsync-log={tmp_path / 'vcsync.log'}"])
    md_path, png_path, results = run_benchmark(opts, own_pair)

    assert results.meta["errors"] == []
    text = md_path.read_text()
    assert "| scenario | size | metric | median | min | max | floor | ratio |" in text
    assert png_path.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert md_path.with_suffix(".json").exists()
    for scenario, metric in [
        ("create", "p99 ms"),
        ("status", "p99 ms"),
        ("bulk", "objects/s"),
        ("capacity", "pods/s to Running"),
        ("capacity", "CPU ms per pod life cycle"),
        ("deployment", "s to Ready"),
        ("deployment", "s from delete to host empty"),
        ("restart", "time to ready s"),
        ("memory", "steady RSS MB"),
        ("idle", "CPU s/min"),
        ("kubelet", "kubectl logs MB/s"),
        ("kubelet", "exec p99 ms"),
        ("kubelet", "create p99 ms"),
    ]:
        assert results.find(scenario, metric), f"no {scenario} {metric} row"
        assert f"| {scenario} |" in text

    for scenario in ("restart", "idle"):
        for metric in ("writes (excl. heartbeats)", "host writes"):
            rows = results.find(scenario, metric)
            unexpected = results.meta.get("unexpected writes")
            assert rows and all(v == 0 for row in rows for v in row.values), (scenario, metric, rows, unexpected)
    loaded = [r for r in results.find("idle", "heartbeat writes/min") if r.x > 0]
    assert loaded and loaded[0].median > 0, "no heartbeat was seen, so the subtraction went untested"
