"""Real local control planes (etcd, kube-apiserver, controller-manager, scheduler, kwok) for tests,
`vcsync dev` and benchmarks, built from Go modules and started on loopback."""

from syncer.controlplane.assets import ControlPlaneError
from syncer.controlplane.cluster import Cluster
from syncer.controlplane.pair import ClusterPair

__all__ = ["Cluster", "ClusterPair", "ControlPlaneError"]
