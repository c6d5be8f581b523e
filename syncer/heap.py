"""What vcsync does about its own heap, whose bulk is the caches: decoded JSON that lives long and never forms a
reference cycle. (1) The cyclic garbage collector is kept off them: while the initial LISTs fill the caches it does
not run (every collection walked the caches built so far: decoding 20,000 host pods took 6.0 s with it, 2.3 s
without), and what is alive is then frozen (`gc.freeze`), so collections walk only what is newer; objects are still
freed by reference counting. Freezing is repeated every PERIOD and undone hourly for one full collection, so garbage
that was frozen is found within the hour. (2) glibc keeps the pages of freed large blocks (API responses, the
initial LISTs, dict tables of replaced objects) in its heap; `malloc_trim` returns them (about 10 KB per pod)."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import gc
import itertools
import time
from collections.abc import Callable

from syncer.log import get_logger

log = get_logger("heap")
PERIOD = 60.0  # seconds between freezes and trims once caches are synced; a trim costs a few ms at 100 MB of heap
FULL_EVERY = 60  # periods between full collections (everything unfrozen, collected, frozen again)


def _malloc_trim() -> Callable[[], None]:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim = libc.malloc_trim
    except (OSError, AttributeError):
        return lambda: None
    trim.argtypes = [ctypes.c_size_t]
    return lambda: trim(0)


async def tend(caches_synced: asyncio.Event, initial_sync_done: asyncio.Event, period: float = PERIOD) -> None:
    """Start before the caches fill. Freeze and trim once the initial LISTs are in the caches (or after `period`, if
    they are slow to come), again when every key has been reconciled once (or after `period` on a standby, which does
    not reconcile), then every `period` seconds."""
    trim = _malloc_trim()
    gc.disable()
    try:
        for milestone in (caches_synced, initial_sync_done):
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(milestone.wait(), period)
            _tidy(trim, full=False)
            gc.enable()
        for count in itertools.count(1):
            await asyncio.sleep(period)
            _tidy(trim, full=count % FULL_EVERY == 0)
    finally:
        gc.enable()


def _tidy(trim: Callable[[], None], full: bool) -> None:
    started = time.process_time()
    if full:
        gc.unfreeze()
        gc.collect()
    gc.freeze()
    trim()
    log.debug(
        "heap tidied", full=full, frozen=gc.get_freeze_count(), cpu_ms=round((time.process_time() - started) * 1000, 2)
    )
