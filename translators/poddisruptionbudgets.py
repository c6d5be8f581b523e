"""PodDisruptionBudgets down (SPEC §6.7): the host budget must count only this tenant's pods of the same virtual
namespace, so the selector is translated like any other (§5); a null selector stays null (it selects nothing).
Status is not synced up: the virtual disruption controller computes its own from the virtual pods."""

from __future__ import annotations

from translators.kind import KindSpec, Obj, SyncContext
from translators.labels import translate_label_selector
from vocab.resources import PODDISRUPTIONBUDGETS

COPIED = ("minAvailable", "maxUnavailable", "unhealthyPodEvictionPolicy")


def desired(ctx: SyncContext, pdb: Obj) -> Obj:
    spec = pdb.get("spec") or {}
    out = {key: spec[key] for key in COPIED if key in spec}
    out["selector"] = translate_label_selector(spec.get("selector"), ctx.names.suffix, pdb["metadata"]["namespace"])
    return {"spec": out}


KIND = KindSpec(
    name="poddisruptionbudgets",
    resource=PODDISRUPTIONBUDGETS,
    owned=tuple(f"spec.{key}" for key in (*COPIED, "selector")),
    desired=desired,
)
