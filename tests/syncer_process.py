"""`vcsync run` as a real subprocess between the test clusters: its own ports and log file, readiness from
/readyz, and counters (writes, watch restarts) scraped from /metrics, which is how tests count API writes."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import signal
import time
from collections import deque
from pathlib import Path

import aiohttp

from syncer.controlplane import ClusterPair
from syncer.controlplane.cluster import free_port

WRITE_VERBS = ("create", "update", "patch", "delete")
_SAMPLE = re.compile(r"^(\w+)(?:\{(.*)\})? (\S+)$")
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')
RUNNING: list[Syncer] = []  # the conftest attaches their log tails to failing tests


class Syncer:
    def __init__(self, pair: ClusterPair, *, name: str, target: str, args: tuple[str, ...], log_path: Path) -> None:
        self.name, self.target, self.log_path = name, target, log_path
        self.health_port, self.metrics_port, self.kubelet_port = free_port(), free_port(), free_port()
        self.argv = pair.syncer_argv(name, target, self.health_port, self.metrics_port, self.kubelet_port, *args)
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> Syncer:
        with self.log_path.open("ab") as log:
            self.proc = await asyncio.create_subprocess_exec(*self.argv, stdout=log, stderr=log)
        RUNNING.append(self)
        return self

    async def _get(self, port: int, path: str) -> tuple[int, str]:
        async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{port}{path}") as resp:
            return resp.status, await resp.text()

    async def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc and self.proc.returncode is not None:
                raise AssertionError(f"syncer exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                if (await self._get(self.health_port, "/readyz"))[0] == 200:
                    return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
        raise AssertionError(f"syncer not ready after {timeout}s:\n{self.log_tail()}")

    async def metric(self, name: str, **labels: str) -> float:
        """Sum of the samples of `name` whose labels include `labels`."""
        _, text = await self._get(self.metrics_port, "/metrics")
        total = 0.0
        for line in text.splitlines():
            match = _SAMPLE.match(line)
            if match and match.group(1) == name:
                sample = dict(_LABEL.findall(match.group(2) or ""))
                if all(sample.get(k) == v for k, v in labels.items()):
                    total += float(match.group(3))
        return total

    async def writes(self, cluster: str | None = None) -> float:
        """API writes (create/update/patch/delete) this process made, on one cluster or both."""
        where = {"cluster": cluster} if cluster else {}
        return sum([await self.metric("vcsync_api_requests_total", verb=v, **where) for v in WRITE_VERBS])

    async def settle(self, quiet: float = 2.0, timeout: float = 60) -> None:
        """Wait until this syncer has made no write for `quiet` seconds: everything it had queued is done, so a
        restart afterwards really starts from "everything in sync"."""
        deadline = time.monotonic() + timeout
        last, since = await self.writes(), time.monotonic()
        while time.monotonic() - since < quiet:
            if time.monotonic() > deadline:
                raise AssertionError(f"syncer still writing after {timeout}s:\n{self.log_tail()}")
            await asyncio.sleep(0.2)
            now = await self.writes()
            if now != last:
                last, since = now, time.monotonic()

    def send(self, sig: signal.Signals) -> None:
        if self.proc and self.proc.returncode is None:
            self.proc.send_signal(sig)

    async def stop(self, sig: signal.Signals = signal.SIGTERM, timeout: float = 30) -> int:
        """Signal and wait; returns the exit code (SIGKILL after `timeout`)."""
        assert self.proc
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.send_signal(sig)
            try:
                await asyncio.wait_for(self.proc.wait(), timeout)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        if self in RUNNING:
            RUNNING.remove(self)
        return self.proc.returncode

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_entries(self) -> list[dict]:
        """The JSON lines of the log, decoded (other lines, such as a start banner, skipped)."""
        entries = []
        for line in self.log_text().splitlines():
            with contextlib.suppress(ValueError):
                if line.startswith("{"):
                    entries.append(json.loads(line))
        return entries

    def log_tail(self, lines: int = 30) -> str:
        return "".join(deque(self.log_text().splitlines(keepends=True), maxlen=lines))
