"""The Prometheus metrics of SPEC §10, defined once. Label values are bounded (kind, cluster, verb, reason...);
object names never become labels, so cardinality stays flat however many tenants' objects there are."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import prometheus_client


class _CachedChildren:
    """`labels(*values)` answered from a dict once a combination was seen: prometheus_client validates, converts and
    takes a lock on every call, and vcsync asks several times per request and per reconcile. Children are never
    removed here, so a cached one is always the registered one."""

    def labels(self, *values: Any, **named: Any) -> Any:
        if named:
            return super().labels(*values, **named)  # type: ignore[misc]
        cache = self.__dict__.setdefault("_children_by_values", {})
        child = cache.get(values)
        if child is None:
            child = cache[values] = super().labels(*values)  # type: ignore[misc]
        return child


class Counter(_CachedChildren, prometheus_client.Counter):
    pass


class Gauge(_CachedChildren, prometheus_client.Gauge):
    pass


class Histogram(_CachedChildren, prometheus_client.Histogram):
    pass


_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)

SYNC_TOTAL = Counter("vcsync_sync_total", "Reconcile outcomes", ["kind", "direction", "result"])
SYNC_LATENCY = Histogram(
    "vcsync_sync_latency_seconds",
    "Watch event observed to write acknowledged",
    ["kind", "direction"],
    buckets=_LATENCY_BUCKETS,
)
RECONCILE_DURATION = Histogram(
    "vcsync_reconcile_duration_seconds", "One reconcile call", ["kind"], buckets=_LATENCY_BUCKETS
)
WORKQUEUE_DEPTH = Gauge("vcsync_workqueue_depth", "Queued keys", ["kind"])
WORKQUEUE_RETRIES = Counter("vcsync_workqueue_retries_total", "Rate-limited requeues", ["kind"])
SYNC_ERRORS = Counter("vcsync_sync_errors_total", "Sync failures", ["kind", "reason"])
API_REQUESTS = Counter("vcsync_api_requests_total", "API requests", ["cluster", "verb", "code"])
API_DURATION = Histogram(
    "vcsync_api_request_duration_seconds", "API request duration", ["cluster", "verb"], buckets=_LATENCY_BUCKETS
)
WATCH_RESTARTS = Counter("vcsync_watch_restarts_total", "Watch restarts", ["cluster", "kind", "reason"])
OBJECTS = Gauge("vcsync_objects", "Cached objects", ["kind", "side"])
LEADER = Gauge("vcsync_leader", "1 if this replica leads")
FAKE_NODES = Gauge("vcsync_fake_nodes", "Number of fake nodes")
TOKENS_REFRESHED = Counter("vcsync_tokens_refreshed_total", "Service-account token refreshes", ["result"])
ENDPOINT_ADDRESSES_DROPPED = Counter(
    "vcsync_endpoint_addresses_dropped_total", "Endpoint addresses dropped by policy", ["kind"]
)
KUBELET_REQUESTS = Counter("vcsync_kubelet_requests_total", "Kubelet endpoint requests", ["endpoint", "code"])
KUBELET_STREAMS = Gauge("vcsync_kubelet_streams", "Open log streams and exec/attach/port-forward tunnels", ["endpoint"])
DELETIONS_HELD = Gauge("vcsync_deletions_held", "Host objects whose deletion the mass-deletion valve holds", ["kind"])
WRITES_REFUSED = Counter("vcsync_writes_refused_total", "Writes the leader gate refused (no fresh lease)", ["cluster"])
FLAPPING = Counter("vcsync_flapping_total", "Keys that stopped writing because they flapped", ["kind"])


def count_objects(kind: str, side: str, count: Callable[[], int]) -> None:
    """`vcsync_objects{kind, side}` reads `count()` when scraped (set on every cache change, it was a gauge call per
    watch event)."""
    OBJECTS.labels(kind, side).set_function(count)


class QueueMetrics:
    """Adapter the work queue reports through, keeping prometheus out of the queue module."""

    def watch_depth(self, name: str, depth: Callable[[], int]) -> None:
        WORKQUEUE_DEPTH.labels(name).set_function(depth)

    def on_retry(self, name: str) -> None:
        WORKQUEUE_RETRIES.labels(name).inc()
