"""Mirror kinds (SPEC §6.7): host cluster-scoped objects the tenant sees read-only under the same name —
IngressClasses (with `ingresses`) and host StorageClasses (`hoststorageclasses`). Each MirrorSpec says which
fields are copied and which of them are immutable (a change there means delete and recreate)."""

from __future__ import annotations

from dataclasses import dataclass

from translators import storageclasses
from translators.kind import Obj
from vocab.resources import INGRESSCLASSES, STORAGECLASSES, Resource


@dataclass(frozen=True)
class MirrorSpec:
    name: str
    resource: Resource
    fields: tuple[str, ...]
    immutable: tuple[str, ...] = ()


def mirrored(spec: MirrorSpec, host: Obj) -> Obj:
    """The virtual copy of `host`: same name, its labels and annotations, the mirrored fields."""
    meta = host["metadata"]
    body: Obj = {
        "apiVersion": spec.resource.api_version,
        "kind": spec.resource.kind,
        "metadata": {
            "name": meta["name"],
            "labels": dict(meta.get("labels") or {}),
            "annotations": dict(meta.get("annotations") or {}),
        },
    }
    body.update({field: host[field] for field in spec.fields if field in host})
    return body


INGRESS_CLASSES = MirrorSpec("ingressclasses", INGRESSCLASSES, ("spec",))
HOST_STORAGE_CLASSES = MirrorSpec("hoststorageclasses", STORAGECLASSES, storageclasses.COPIED, storageclasses.IMMUTABLE)
