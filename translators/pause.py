"""The pause record that `vcsync pause` / `vcsync resume` keep on the vcluster's host Service. It is read by the
syncer as well as written by the commands, so the vocabulary lives here, below both: while `paused` is set no pod
is brought back to the host; after a resume, a pod that started before `resumed-at` and has no host pod lost it
to the pause, and is re-created instead of being treated as lost."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

PAUSED = "vcluster.loft.sh/paused"
PAUSED_AT = "vcluster.loft.sh/paused-at"
PAUSED_REPLICAS = "vcluster.loft.sh/paused-replicas"
RESUMED_AT = "vcluster.loft.sh/resumed-at"
TERMINAL_PHASES = frozenset({"Succeeded", "Failed"})


@dataclass(frozen=True)
class PauseState:
    paused: bool = False
    resumed_at: dt.datetime | None = None


def parse_time(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def format_time(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def pause_state(service: dict[str, Any] | None) -> PauseState:
    annotations = ((service or {}).get("metadata") or {}).get("annotations") or {}
    return PauseState(annotations.get(PAUSED) == "true", parse_time(annotations.get(RESUMED_AT)))


def pause_changed(old: dict[str, Any] | None, new: dict[str, Any] | None) -> bool:
    return pause_state(old) != pause_state(new)


def lost_to_pause(state: PauseState, pod: dict[str, Any]) -> bool:
    """Whether a started pod without host pod lost it to the last pause: it started before the resume. (Pods start
    only on the host, and nothing is started there while paused, so every pod that started before the resume was
    running when the pause removed its host pod — or had ended, which `pod_ended` tells.)"""
    started = parse_time((pod.get("status") or {}).get("startTime"))
    return state.resumed_at is not None and started is not None and started < state.resumed_at


def pod_ended(pod: dict[str, Any]) -> bool:
    return (pod.get("status") or {}).get("phase") in TERMINAL_PHASES


def pin_to_node(spec: dict[str, Any]) -> dict[str, Any]:
    """A host pod spec that goes back to the node the pod ran on through the scheduler rather than `nodeName`: it
    waits (Pending, visibly) while the node is full or gone instead of failing or being collected as an orphan. The
    node term is added to every existing required term, since terms are alternatives."""
    node = spec.get("nodeName")
    if not node:
        return spec
    field = {"key": "metadata.name", "operator": "In", "values": [node]}
    affinity = dict(spec.get("affinity") or {})
    node_affinity = dict(affinity.get("nodeAffinity") or {})
    required = dict(node_affinity.get("requiredDuringSchedulingIgnoredDuringExecution") or {})
    terms = [dict(term) for term in required.get("nodeSelectorTerms") or [{}]]
    for term in terms:
        term["matchFields"] = [*(term.get("matchFields") or []), field]
    required["nodeSelectorTerms"] = terms
    node_affinity["requiredDuringSchedulingIgnoredDuringExecution"] = required
    affinity["nodeAffinity"] = node_affinity
    return {**{k: v for k, v in spec.items() if k != "nodeName"}, "affinity": affinity}
