"""vcsync's engine and daemon: configuration, reflectors, caches, work queues, the generic per-kind controller,
leader election, health/metrics and logging. Nothing in here knows about a particular kind."""

__version__ = "0.1.0"

from syncer.kube.lean_import import install as _lean_kubernetes_asyncio

_lean_kubernetes_asyncio()  # before anything imports kubernetes_asyncio: see syncer/kube/lean_import.py
