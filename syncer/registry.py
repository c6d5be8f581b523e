"""Every kind vcsync can sync, by its --sync name. Adding a kind is one translator module plus one line here.
A few kinds are not virtual→host copies but engine components of their own: fake and real nodes, fake
PersistentVolumes, host events going up, and the mirrored host classes."""

from __future__ import annotations

from functools import partial
from typing import Any

from syncer.eventsync import EventSync
from syncer.fakenodes import FakeNodes
from syncer.fakepvs import FakePersistentVolumes
from syncer.kubernetes_service import KubernetesService
from syncer.mirror import Mirror
from syncer.realnodes import RealNodes
from translators import (
    configmaps,
    endpoints,
    endpointslices,
    ingresses,
    mirrors,
    networkpolicies,
    pod_sync,
    poddisruptionbudgets,
    priorityclasses,
    pvcs,
    secrets,
    serviceaccounts,
    services,
    storageclasses,
)
from translators.kind import KindSpec

KINDS: tuple[KindSpec, ...] = (
    configmaps.KIND,
    secrets.KIND,
    services.KIND,
    pod_sync.KIND,
    endpoints.KIND,
    endpointslices.KIND,
    pvcs.KIND,
    ingresses.KIND,
    networkpolicies.KIND,
    poddisruptionbudgets.KIND,
    priorityclasses.KIND,
    storageclasses.KIND,
    serviceaccounts.KIND,
)
ENGINE_KINDS: dict[str, Any] = {
    "fake-nodes": FakeNodes,
    "nodes": RealNodes,
    "events": EventSync,
    "fake-persistentvolumes": FakePersistentVolumes,
    "ingressclasses": partial(Mirror, mirrors.INGRESS_CLASSES),
    "hoststorageclasses": partial(Mirror, mirrors.HOST_STORAGE_CLASSES),
}
# Engine components that belong to a kind which also has a KindSpec (services: the virtual default/kubernetes).
COMPANIONS: dict[str, Any] = {"services": KubernetesService}


def enabled(names: frozenset[str]) -> list[KindSpec]:
    return [spec for spec in KINDS if spec.name in names]


def engine_components(names: frozenset[str]) -> list[Any]:
    table = [*ENGINE_KINDS.items(), *COMPANIONS.items()]
    return [component for name, component in table if name in names]
