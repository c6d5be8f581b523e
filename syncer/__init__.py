"""vcsync's engine and daemon: configuration, reflectors, caches, work queues, the generic per-kind controller,
leader election, health/metrics and logging. Nothing in here knows about a particular kind."""

__version__ = "0.1.0"
