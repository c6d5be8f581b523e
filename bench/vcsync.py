"""vcsync under test: `vcsync run` as a child process between the pair (dies with the benchmark, like the control
plane), its readiness timed by polling /readyz, counters read from /metrics, and its cost read from /proc (CPU
ticks, VmRSS, VmHWM), which is what an operator's dashboards would show for the sidecar."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from syncer.controlplane import ClusterPair
from syncer.controlplane.cluster import free_port
from syncer.controlplane.process import Component

WRITE_VERBS = frozenset({"create", "update", "patch", "delete"})
READY_POLL = 0.02  # resolution of the time-to-ready measurement


@dataclass(frozen=True)
class Counters:
    """One /metrics scrape, reduced to what the scenarios compare."""

    requests: float  # every API request, reads and watches included
    writes: float  # create/update/patch/delete on both clusters
    host_writes: float
    changed: float  # reconciles that changed something (vcsync_sync_total result != unchanged)
    queued: float  # keys waiting in all work queues
    writes_by: dict[str, float] = field(default_factory=dict)  # "cluster verb code" -> count

    def write_delta(self, earlier: Counters | None) -> str:
        """The writes made since `earlier` (None: since start), by cluster, verb and code."""
        before = earlier.writes_by if earlier else {}
        changed = {k: v - before.get(k, 0.0) for k, v in self.writes_by.items() if v != before.get(k, 0.0)}
        return ", ".join(f"{k}: {v:g}" for k, v in sorted(changed.items())) or "none"


@dataclass(frozen=True)
class ProcStats:
    cpu_seconds: float
    rss_kb: int
    hwm_kb: int


class Vcsync:
    def __init__(self, pair: ClusterPair, *, name: str, namespace: str, args: tuple[str, ...], log: Path) -> None:
        self.health_port, self.metrics_port, self.kubelet_port = free_port(), free_port(), free_port()
        argv = pair.syncer_argv(name, namespace, self.health_port, self.metrics_port, self.kubelet_port, *args)
        self.component = Component("vcsync", argv, log, stop_grace=30)
        self.started_at = 0.0
        self.stopped_at = 0.0
        self._session: aiohttp.ClientSession | None = None

    @property
    def pid(self) -> int:
        pid = self.component.pid
        assert pid is not None, "vcsync is not running"
        return pid

    async def start(self) -> None:
        self._session = self._session or aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        self.component.start()  # from the main thread, so it dies with us
        self.started_at = time.monotonic()

    async def stop(self) -> None:
        await asyncio.to_thread(self.component.stop)
        self.stopped_at = time.monotonic()

    async def close(self) -> None:
        await self.stop()
        if self._session:
            await self._session.close()

    async def _get(self, port: int, url_path: str) -> tuple[int, str]:
        assert self._session
        async with self._session.get(f"http://127.0.0.1:{port}{url_path}") as resp:
            return resp.status, await resp.text()

    async def wait_ready(self, timeout: float) -> float:
        """Seconds from process start to the first 200 from /readyz."""
        deadline = self.started_at + timeout
        while time.monotonic() < deadline:
            self.component.check_running()
            try:
                if (await self._get(self.health_port, "/readyz"))[0] == 200:
                    return time.monotonic() - self.started_at
            except (aiohttp.ClientError, TimeoutError):
                pass
            await asyncio.sleep(READY_POLL)
        raise TimeoutError(f"vcsync not ready after {timeout:.0f}s; log tail:\n{self.component.tail(30)}")

    async def counters(self) -> Counters:
        status, text = await self._get(self.metrics_port, "/metrics")
        if status != 200:
            raise RuntimeError(f"vcsync /metrics answered {status}")
        requests = writes = host_writes = changed = queued = 0.0
        writes_by: dict[str, float] = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                labels, value = sample.labels, sample.value
                if sample.name == "vcsync_api_requests_total":
                    requests += value
                    if labels.get("verb") in WRITE_VERBS:
                        writes += value
                        key = f"{labels.get('cluster')} {labels.get('verb')} {labels.get('code')}"
                        writes_by[key] = writes_by.get(key, 0.0) + value
                        host_writes += value if labels.get("cluster") == "host" else 0.0
                elif sample.name == "vcsync_sync_total" and labels.get("result") != "unchanged":
                    changed += value
                elif sample.name == "vcsync_workqueue_depth":
                    queued += value
        return Counters(requests, writes, host_writes, changed, queued, writes_by)

    async def caches(self) -> dict:
        """vcsync's /debug/caches: bytes held per cache (syncer.cachesize)."""
        status, text = await self._get(self.metrics_port, "/debug/caches")
        if status != 200:
            raise RuntimeError(f"vcsync /debug/caches answered {status}")
        return json.loads(text)

    async def wait_quiet(
        self, timeout: float, *, also: Callable[[], bool] = lambda: True, quiet_for: float = 2.0, interval: float = 0.5
    ) -> None:
        """Until no key is queued and nothing was changed for `quiet_for` seconds (longer than vcsync's short
        requeues, e.g. a fake node's Lease 1 s after the node), and `also()` holds: the sync and its follow-up work
        (status, events, fake nodes) are done, so what comes next is measured on its own."""
        deadline = time.monotonic() + timeout
        since: tuple[float, Counters] | None = None
        while time.monotonic() < deadline:
            self.component.check_running()
            try:
                now = await self.counters()
            except TimeoutError:  # a scrape waiting behind a saturated event loop: busy, not broken
                since = None
                continue
            if now.queued or not also() or since is None or now.changed != since[1].changed:
                since = (time.monotonic(), now)
            elif time.monotonic() - since[0] >= quiet_for:
                return
            await asyncio.sleep(interval)
        raise TimeoutError(f"vcsync still busy after {timeout:.0f}s (last scrape: {since})")

    def logged_writes(self, since: float, until: float) -> list[str]:
        """vcsync's own log lines about writes (they carry an `action`) between two wall-clock times: what to look
        at when a window that should have none has some. Heartbeats are logged at debug level only."""
        found = []
        for line in self.component.log_path.read_text(errors="replace").splitlines():
            if '"action"' not in line or not line.startswith("{"):
                continue
            with contextlib.suppress(ValueError, KeyError):
                entry = json.loads(line)
                at = dt.datetime.fromisoformat(entry["ts"].replace("Z", "+00:00")).timestamp()
                if since <= at <= until:
                    what = f"{entry.get('vns', '')}/{entry.get('vname', '')}".strip("/")
                    found.append(f"{entry['msg']} {entry.get('kind', '')} {what} ({entry.get('result', '')})")
        return found

    def proc(self) -> ProcStats:
        """CPU seconds (user + system) and resident memory of the vcsync process, from /proc."""
        pid = self.pid
        status = dict(
            line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line
        )
        kb = {key: int(status[key].split()[0]) for key in ("VmRSS", "VmHWM")}
        return ProcStats(cpu_seconds(pid), kb["VmRSS"], kb["VmHWM"])


def cpu_seconds(pid: int) -> float:
    """CPU seconds (user + system) a process has used, from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime (fields 14, 15 of stat(5))
