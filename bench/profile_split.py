"""`python -m bench.profile_split <pstats file> --pods N`: where vcsync's CPU goes, by area, in ms per pod. It reads a
`VCSYNC_CPU_PROFILE` profile (cProfile, process time) of a run that took N pods through their life cycle, and gives
each function's own time to an area by its file; C functions (orjson, dict.get, intern) count for the area of
whoever called them, so decoding (the API client) and sharing are told apart although both call orjson."""

from __future__ import annotations

import argparse
import pstats
from collections import defaultdict

# (area, path fragments of the files it holds); the first match wins, unmatched files count as "other"
AREAS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("API client: requests, decoding", ("syncer/kube/",)),
    ("sharing parts and strings in caches", ("syncer/sharing.py",)),
    ("caches: keep, indexes, handlers", ("syncer/cache.py", "syncer/reflector.py")),
    ("controllers, queues, workers", ("syncer/controller.py", "syncer/worker.py", "syncer/workqueue.py")),
    ("diffs", ("vocab/",)),
    ("pod translation and status", ("translators/pod", "translators/references.py", "translators/names.py")),
    ("events copied up", ("syncer/eventsync.py", "translators/events.py")),
    ("other translators", ("translators/",)),
    ("metrics", ("prometheus_client/", "syncer/metrics.py")),
    ("logging", ("structlog/", "logging/", "syncer/log.py")),
    ("event loop (asyncio, uvloop)", ("asyncio/", "uvloop/", "syncer/run.py")),
    ("fake nodes, tokens, engine", ("syncer/",)),
    ("HTTP client (aiohttp, ssl)", ("aiohttp/", "ssl.py", "yarl/", "multidict/", "kubernetes_asyncio/")),
)


def _area(filename: str) -> str | None:
    """The area of a Python file, or None for a C function (no file)."""
    if filename == "~":
        return None
    for area, fragments in AREAS:
        if any(fragment in filename for fragment in fragments):
            return area
    return "other"


def split(stats: pstats.Stats) -> dict[str, float]:
    """Seconds of own time per area; a C function's time is shared among its callers by their calls' own time."""
    seconds: dict[str, float] = defaultdict(float)
    for (filename, _, _), (_, _, own, _, callers) in stats.stats.items():  # type: ignore[attr-defined]
        area = _area(filename)
        if area is not None:
            seconds[area] += own
            continue
        total = sum(edge[2] for edge in callers.values()) or 1.0
        for (caller_file, _, _), edge in callers.items():
            seconds[_area(caller_file) or "other"] += own * edge[2] / total
        if not callers:
            seconds["other"] += own
    return dict(seconds)


def table(seconds: dict[str, float], pods: int) -> str:
    total = sum(seconds.values())
    rows = ["| area | ms per pod | share |", "|---|---|---|"]
    for area, spent in sorted(seconds.items(), key=lambda item: -item[1]):
        rows.append(f"| {area} | {spent * 1000 / pods:.2f} | {spent / total:.0%} |")
    rows.append(f"| all (profiled: cProfile about doubles it) | {total * 1000 / pods:.2f} | 100% |")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("profile", help="a VCSYNC_CPU_PROFILE file (<path>.<pid>)")
    parser.add_argument("--pods", type=int, required=True, help="pods the profiled run took through their life")
    args = parser.parse_args()
    print(table(split(pstats.Stats(args.profile)), args.pods))


if __name__ == "__main__":
    main()
