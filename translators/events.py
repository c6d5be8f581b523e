"""Host events about this vcluster's objects, retold in the virtual cluster (SPEC §6.6): tenants see why their pods
do not schedule or pull, under their own names, while no host name leaks, least of all another tenant's (§10).
Pure: the engine resolves the involved object by reverse lookup (§4.4) and carries out the writes."""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Callable
from dataclasses import dataclass

from translators.kind import Obj
from translators.names import sha10
from vocab.diff import owned_patch
from vocab.scrub import scrub

INVOLVED_KINDS = frozenset({"Pod", "Service", "Endpoints", "Secret", "ConfigMap", "PersistentVolumeClaim"})
COPIED = (
    "count",
    "firstTimestamp",
    "lastTimestamp",
    "eventTime",
    "series",
    "reason",
    "type",
    "source",
    "reportingComponent",
    "reportingInstance",
    "action",
)
_UPDATED = (*COPIED, "message")
_INVOLVED_READ = ("apiVersion", "kind", "namespace", "name", "fieldPath")
_TOKEN = r"[a-z0-9](?:[-a-z0-9.]*[a-z0-9])?"

Rename = Callable[[str], str | None]


@dataclass(frozen=True)
class VirtualTarget:
    """The virtual object a host event's involvedObject resolves to, and that object's host name."""

    kind: str
    namespace: str
    name: str
    uid: str
    resource_version: str
    host_name: str


def _no_rename(host_name: str) -> str | None:
    return None


def event_name(host_event_name: str, target: VirtualTarget) -> str:
    """The host event name with its leading host-object name made virtual, else `<vname>.<sha10(host name)>`."""
    if host_event_name.startswith(target.host_name):
        return target.name + host_event_name.removeprefix(target.host_name)
    return f"{target.name}.{sha10(host_event_name)}"


def rewrite_message(message: str, host_namespace: str, target: VirtualTarget, rename: Rename = _no_rename) -> str:
    """`T/<hostName>` and `<hostName>` become the virtual forms, other tokens `rename` knows their virtual names, and
    any remaining host-style name `<host object>`. One pass each, so a virtual name with "-x-" is never scrubbed."""
    qualified = f"{host_namespace}/{target.host_name}"
    own = {qualified: f"{target.namespace}/{target.name}", target.host_name: target.name}
    tokens = _tokens(host_namespace)

    def other(match: re.Match[str]) -> str:
        return rename(match.group(1)) or scrub(match.group(0), "", "", host_namespace)

    parts = _split_at(message, qualified, target.host_name)  # own forms at odd indices
    return "".join(own[part] if i % 2 else tokens.sub(other, part) for i, part in enumerate(parts))


@functools.lru_cache(maxsize=64)
def _tokens(host_namespace: str) -> re.Pattern[str]:
    """Host-style names, optionally namespace-qualified: compiled once per host namespace, not once per event."""
    return re.compile(rf"(?:{re.escape(host_namespace)}/)?({_TOKEN})")


def _split_at(message: str, qualified: str, name: str) -> list[str]:
    """`message` split around each leftmost occurrence of `qualified` or `name` (the longer one where both start),
    the forms kept at odd indices: what a regex alternation's split gives, without compiling one per event."""
    parts, at = [], 0
    while True:
        found = [(p, form) for form in (qualified, name) if (p := message.find(form, at)) >= 0]
        if not found:
            return [*parts, message[at:]]
        start, form = min(found, key=lambda hit: hit[0])  # min keeps the first of equals: `qualified`
        parts += [message[at:start], form]
        at = start + len(form)


def _involves(host_event: Obj, target: VirtualTarget) -> bool:
    involved = host_event.get("involvedObject") or {}
    return (
        involved.get("apiVersion") == "v1"
        and involved.get("kind") in INVOLVED_KINDS
        and involved.get("kind") == target.kind
        and involved.get("name") == target.host_name
    )


def virtual_event(host_event: Obj, target: VirtualTarget, rename: Rename = _no_rename) -> Obj | None:
    """The virtual copy of `host_event`, or None when its involved object is not `target` or not a synced kind."""
    if not _involves(host_event, target):
        return None
    meta = host_event["metadata"]
    involved = {
        "apiVersion": "v1",
        "kind": target.kind,
        "namespace": target.namespace,
        "name": target.name,
        "uid": target.uid,
        "resourceVersion": target.resource_version,
    }
    field_path = host_event["involvedObject"].get("fieldPath")  # container paths name virtual containers
    event: Obj = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": event_name(meta["name"], target), "namespace": target.namespace},
        "involvedObject": involved | ({"fieldPath": field_path} if field_path else {}),
        **{key: host_event[key] for key in COPIED if key in host_event},
    }
    if host_event.get("message"):
        event["message"] = rewrite_message(host_event["message"], meta["namespace"], target, rename)
    return event


def cached_event(event: Obj) -> Obj | None:
    """What event sync reads of a host Event or of a virtual one (its copies), for the caches: None for an event
    about a kind no event is copied for (a tenant's Deployments and ReplicaSets make many), else the event without
    its uid, creation time and involved object's uid and resourceVersion."""
    involved = event.get("involvedObject") or {}
    if involved.get("apiVersion") != "v1" or involved.get("kind") not in INVOLVED_KINDS:
        return None
    meta = event["metadata"]
    kept: Obj = {
        "metadata": {key: meta[key] for key in ("name", "namespace", "resourceVersion") if key in meta},
        "involvedObject": {key: involved[key] for key in _INVOLVED_READ if key in involved},
    }
    kept.update((key, event[key]) for key in _UPDATED if key in event)
    return kept


def last_seen(event: Obj) -> dt.datetime | None:
    """When an event last happened: the latest of its timestamps (None if it has none that parses)."""
    series = event.get("series") or {}
    found = []
    for value in (event.get("lastTimestamp"), event.get("eventTime"), series.get("lastObservedTime")):
        try:
            moment = dt.datetime.fromisoformat(value)
        except (TypeError, ValueError):
            continue
        found.append(moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC))
    return max(found, default=None)


def involved_key(event: Obj) -> str:
    """`Kind/namespace/name` of the object an event is about."""
    involved = event.get("involvedObject") or {}
    return f"{involved.get('kind', '')}/{involved.get('namespace', '')}/{involved.get('name', '')}"


def event_update(existing_virtual: Obj, desired: Obj) -> Obj | None:
    """The merge patch bringing the copied fields (and message) of the virtual event up to date, or None."""
    return owned_patch(existing_virtual, desired, _UPDATED) or None
