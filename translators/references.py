"""What a virtual pod references by name: ConfigMaps, Secrets and PVCs (SPEC §6.4). It drives the used-only
filter for ConfigMaps/Secrets through a cache index, so it works before the pod syncer exists, and the pod
translator renames exactly these same references."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

Obj = dict[str, Any]

# Volume plugins whose secret reference lives at <plugin>.<field>.name (SPEC §6.1.3).
PLUGIN_SECRET_REFS = (
    ("iscsi", "secretRef"),
    ("rbd", "secretRef"),
    ("flexVolume", "secretRef"),
    ("cinder", "secretRef"),
    ("cephfs", "secretRef"),
    ("scaleIO", "secretRef"),
    ("storageos", "secretRef"),
    ("csi", "nodePublishSecretRef"),
)


SORTS = ("configmaps", "secrets", "pvcs")


@dataclass
class PodReferences:
    configmaps: set[str] = field(default_factory=set)
    secrets: set[str] = field(default_factory=set)
    pvcs: set[str] = field(default_factory=set)


def _containers(spec: Obj) -> Iterator[Obj]:
    for kind in ("initContainers", "containers", "ephemeralContainers"):
        yield from spec.get(kind) or ()


def _add(target: set[str], name: Any) -> None:
    if isinstance(name, str) and name:
        target.add(name)


def _env_references(container: Obj, refs: PodReferences) -> None:
    for env in container.get("env") or ():
        source = env.get("valueFrom") or {}
        _add(refs.configmaps, (source.get("configMapKeyRef") or {}).get("name"))
        _add(refs.secrets, (source.get("secretKeyRef") or {}).get("name"))
    for env_from in container.get("envFrom") or ():
        _add(refs.configmaps, (env_from.get("configMapRef") or {}).get("name"))
        _add(refs.secrets, (env_from.get("secretRef") or {}).get("name"))


def _volume_references(volume: Obj, refs: PodReferences) -> None:
    _add(refs.configmaps, (volume.get("configMap") or {}).get("name"))
    _add(refs.secrets, (volume.get("secret") or {}).get("secretName"))
    _add(refs.pvcs, (volume.get("persistentVolumeClaim") or {}).get("claimName"))
    _add(refs.secrets, (volume.get("azureFile") or {}).get("secretName"))
    for plugin, ref in PLUGIN_SECRET_REFS:
        _add(refs.secrets, ((volume.get(plugin) or {}).get(ref) or {}).get("name"))
    for source in (volume.get("projected") or {}).get("sources") or ():
        _add(refs.configmaps, (source.get("configMap") or {}).get("name"))
        _add(refs.secrets, (source.get("secret") or {}).get("name"))


def pod_references(pod: Obj) -> PodReferences:
    spec = pod.get("spec") or {}
    refs = PodReferences()
    for container in _containers(spec):
        _env_references(container, refs)
    for volume in spec.get("volumes") or ():
        _volume_references(volume, refs)
    for pull_secret in spec.get("imagePullSecrets") or ():
        _add(refs.secrets, pull_secret.get("name"))
    return refs


_RECENT: list[tuple[Obj, dict[str, tuple[str, ...]]]] = []  # the last pods asked about (see referenced_keys)


def referenced_keys(pod: Obj, what: str) -> tuple[str, ...]:
    """`namespace/name` keys of the pod's references of one sort ("configmaps", "secrets" or "pvcs"). One change of
    a cached pod asks this of its old and new object eight times (the ConfigMap and Secret indexes and triggers),
    so the last two pods' answers are remembered by identity: cached objects are never changed in place, and a
    remembered pod is held, so its id cannot be reused."""
    for seen, keys in _RECENT:
        if seen is pod:
            return keys[what]
    refs, namespace = pod_references(pod), pod["metadata"].get("namespace", "")
    keys = {sort: tuple(f"{namespace}/{name}" for name in sorted(getattr(refs, sort))) for sort in SORTS}
    _RECENT.insert(0, (pod, keys))
    del _RECENT[2:]
    return keys[what]
