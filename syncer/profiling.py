"""Opt-in CPU profile of the whole daemon, for benchmarks: on a saturated 2-core machine a sampling profiler's
wall-clock samples land where the process was preempted, so cProfile with process time as its clock tells where
vcsync's own CPU goes. Set VCSYNC_CPU_PROFILE=<path>; each process writes <path>.<pid> (pstats) when it exits."""

from __future__ import annotations

import contextlib
import cProfile
import os
import time
from collections.abc import Iterator, Mapping

ENV = "VCSYNC_CPU_PROFILE"


@contextlib.contextmanager
def cpu_profile(env: Mapping[str, str]) -> Iterator[None]:
    path = env.get(ENV)
    if not path:
        yield
        return
    profile = cProfile.Profile(time.process_time)
    profile.enable()
    try:
        yield
    finally:
        profile.disable()
        profile.dump_stats(f"{path}.{os.getpid()}")
