"""PriorityClasses down (SPEC §3, §6.7): cluster-scoped, so the host copy is `HC(name)`. A tenant must not outrank
the host's system classes or become the host default, so `value` is capped and `globalDefault` is always false;
`value` and `preemptionPolicy` are immutable, so a change there deletes and recreates the host class."""

from __future__ import annotations

from translators.kind import KindSpec, Obj, SyncContext
from vocab.resources import PRIORITYCLASSES

MAX_VALUE = 1_000_000_000
DEFAULT_PREEMPTION = "PreemptLowerPriority"


def desired(ctx: SyncContext, priority_class: Obj) -> Obj:
    body: Obj = {"value": min(priority_class.get("value", 0), MAX_VALUE), "globalDefault": False}
    body |= {key: priority_class[key] for key in ("preemptionPolicy", "description") if key in priority_class}
    return body


def immutable_view(obj: Obj) -> tuple[int, str]:
    return obj.get("value", 0), obj.get("preemptionPolicy") or DEFAULT_PREEMPTION


def must_recreate(host: Obj, want: Obj) -> bool:
    return immutable_view(host) != immutable_view(want)


KIND = KindSpec(
    name="priorityclasses",
    resource=PRIORITYCLASSES,
    owned=("value", "globalDefault", "preemptionPolicy", "description"),
    desired=desired,
    must_recreate=must_recreate,
)
