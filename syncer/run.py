"""`vcsync run`: the daemon. Exit codes follow SPEC §9.6-9.7: 2 for bad configuration (one sentence naming the
input), 1 for a startup timeout or a lost lease, 0 after a clean SIGTERM (in-flight work drained within
--shutdown-timeout, lease released, nothing deleted)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
import uuid

import uvloop

from syncer.cachesize import cache_sizes
from syncer.config import Config, ConfigError, load_config, run_parser
from syncer.engine import Engine, StartupTimeout
from syncer.heap import tend
from syncer.kube.client import connect
from syncer.kubelet.server import KubeletServer
from syncer.leader import LeadershipLost
from syncer.log import get_logger, setup_logging
from syncer.profiling import cpu_profile
from syncer.server import HealthServer

log = get_logger("run")


def main(argv: list[str]) -> int:
    if any(arg in ("-h", "--help") for arg in argv):
        print(run_parser().format_help())
        return 0
    try:
        config = load_config(argv, os.environ)
    except ConfigError as e:
        print(f"vcsync run: {e}", file=sys.stderr)
        return 2
    setup_logging(config.log_format, config.log_level)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner, cpu_profile(os.environ):  # uvloop: README
        return runner.run(_serve(config))


def _identity() -> str:
    return f"{os.environ.get('POD_NAME') or socket.gethostname()}_{uuid.uuid4().hex[:8]}"


async def _serve(config: Config) -> int:
    async with contextlib.AsyncExitStack() as stack:
        clients = []
        for side, kubeconfig in (("host", config.host_kubeconfig), ("virtual", config.virtual_kubeconfig)):
            try:
                clients.append(await stack.enter_async_context(connect(kubeconfig or None)))
            except Exception as e:  # kubernetes_asyncio raises assorted types for unreadable or bad kubeconfigs
                log.error(
                    f"cannot load {side} cluster credentials",
                    kubeconfig=kubeconfig or "in-cluster",
                    error=str(e) or type(e).__name__,
                )
                return 2
        engine = Engine(config, clients[0], clients[1], _identity())
        kubelet = KubeletServer(config, engine, clients[0], clients[1]) if config.kubelet_endpoint else None
        return await _run_engine(config, engine, kubelet)
    return 2  # unreachable; keeps type checkers content


async def _run_engine(config: Config, engine: Engine, kubelet: KubeletServer | None) -> int:
    server = HealthServer(lambda: engine.ready, lambda: cache_sizes(engine.stores()))
    try:
        await server.start(config.health_bind_address, config.metrics_bind_address)
        if kubelet is not None:
            await kubelet.start()
    except OSError as e:
        await server.stop()
        log.error("cannot listen", error=str(e))
        return 2
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    log.info(
        "starting",
        name=config.name,
        target_namespace=config.target_namespace,
        kinds=sorted(config.sync),
        dry_run=config.dry_run,
        leader_elect=config.leader_elect,
        ports=server.ports,
    )
    tending = asyncio.create_task(tend(engine.caches_synced, engine.initial_sync_done), name="heap")  # first: see heap
    running = asyncio.create_task(engine.run(), name="engine")
    stopping = asyncio.create_task(stop.wait(), name="stop-signal")
    try:
        await asyncio.wait({running, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if running.done():
            return _exit_code(running)
        log.info("stopping", shutdown_timeout_s=config.shutdown_timeout)
        await engine.shutdown(config.shutdown_timeout)
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await running
        log.info("stopped")
        return 0
    finally:
        stopping.cancel()
        tending.cancel()
        if kubelet is not None:
            await kubelet.stop()
        await server.stop()


def _exit_code(running: asyncio.Task[None]) -> int:
    error = running.exception()
    if isinstance(error, LeadershipLost | StartupTimeout):
        log.error("exiting", error=str(error))
        return 1
    if error is not None:
        raise error
    return 0
