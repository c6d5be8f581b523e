"""A host node's kubelet figures as a tenant may see them: only this vcluster's pods, under their virtual namespace,
name and uid. Pure functions over the host kubelet's answers; `resolve` maps a host (namespace, pod) to the virtual
pod, or None for a pod that is not this vcluster's — whose series and entries are dropped, never shown."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

# The virtual pod behind a host (namespace, name), or None when it is not this vcluster's.
Resolve = Callable[[str, str], dict[str, Any] | None]

_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?(\s+\S+(?:\s+\S+)?)\s*$")
_LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*,?')
# labels that name host objects other than the pod; series carrying them are dropped rather than guessed at
_UNMAPPED = ("persistentvolumeclaim", "persistentvolume", "volume_plugin")


def rewrite_prometheus(text: str, resolve: Resolve) -> str:
    """Prometheus text exposition with every series about a pod mapped to the virtual pod, and every series about a
    host namespace or object that is not this vcluster's pod dropped. Node-level series stay."""
    out = []
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            out.append(line)
            continue
        rewritten = _rewrite_sample(line, resolve)
        if rewritten is not None:
            out.append(rewritten)
    return "\n".join(out) + "\n"


def _rewrite_sample(line: str, resolve: Resolve) -> str | None:
    match = _SAMPLE.match(line)
    if match is None:
        return None  # not a sample we understand: never pass through what we cannot check
    name, body, rest = match.groups()
    labels = _labels(body or "")
    if labels is None:
        return None
    if "namespace" not in labels and "pod" not in labels:
        return None if any(key in labels for key in _UNMAPPED) else line
    if any(key in labels for key in _UNMAPPED) or "pod" not in labels or "namespace" not in labels:
        return None
    pod = resolve(_unescape(labels["namespace"]), _unescape(labels["pod"]))
    if pod is None:
        return None
    labels["namespace"] = _escape(pod["metadata"]["namespace"])
    labels["pod"] = _escape(pod["metadata"]["name"])
    if "uid" in labels:
        labels["uid"] = _escape(pod["metadata"].get("uid", ""))
    rendered = ",".join(f'{key}="{value}"' for key, value in labels.items())
    return f"{name}{{{rendered}}}{rest}"


def _labels(body: str) -> dict[str, str] | None:
    labels: dict[str, str] = {}
    position = 0
    while position < len(body):
        match = _LABEL.match(body, position)
        if match is None:
            return None
        labels[match.group(1)] = match.group(2)
        position = match.end()
    return labels


def _unescape(value: str) -> str:
    return value.replace('\\"', '"').replace("\\n", "\n").replace("\\\\", "\\")


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def rewrite_summary(summary: dict[str, Any], resolve: Resolve) -> dict[str, Any]:
    """The kubelet's /stats/summary with only this vcluster's pods, their podRef and volumes' pvcRef virtual. The node
    section (the host node's own figures) is kept."""
    pods = []
    for entry in summary.get("pods") or []:
        ref = entry.get("podRef") or {}
        pod = resolve(ref.get("namespace", ""), ref.get("name", ""))
        if pod is None:
            continue
        meta = pod["metadata"]
        claims = _claims(pod)
        volumes = []
        for volume in entry.get("volume") or []:
            if "pvcRef" in volume:
                claim = claims.get(volume.get("name", ""))
                if claim is None:
                    continue
                volume = {**volume, "pvcRef": {"name": claim, "namespace": meta["namespace"]}}
            volumes.append(volume)
        pods.append(
            {
                **entry,
                "podRef": {"name": meta["name"], "namespace": meta["namespace"], "uid": meta.get("uid", "")},
                **({"volume": volumes} if "volume" in entry else {}),
            }
        )
    return {**summary, "pods": pods}


def _claims(pod: dict[str, Any]) -> dict[str, str]:
    """Volume name -> claim name, as the virtual pod spells them."""
    volumes = (pod.get("spec") or {}).get("volumes") or []
    return {
        v["name"]: v["persistentVolumeClaim"]["claimName"]
        for v in volumes
        if (v.get("persistentVolumeClaim") or {}).get("claimName")
    }
