"""`vcsync pause` / `vcsync resume`: put a virtual cluster to sleep so that its pods stop using the host, and wake
it with every pod back — bare pods included. Operators (or their schedulers) run them against the host cluster;
the syncer only reads the record they keep on the vcluster Service (translators/pause.py). Every step is recorded
before it is taken, so running either command again finishes or repairs what a failed run left."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from syncer.config import SA_NAMESPACE_FILE, context_namespace
from syncer.kube.api import ApiError, KubeApi
from syncer.kube.client import connect
from syncer.ratelimit import TokenBucket
from translators.markers import is_managed, managed_by_selector
from translators.names import NameTranslator
from translators.pause import PAUSED, PAUSED_AT, PAUSED_REPLICAS, RESUMED_AT, format_time, pause_state
from vocab.resources import PODS, SERVICES, STATEFULSETS

POLL = 0.5


class PauseError(Exception):
    """A failure worth one sentence and exit code 1."""


@dataclass(frozen=True)
class Target:
    name: str  # the vcluster name (S; the chart's release name)
    namespace: str  # its own namespace: the Service and the StatefulSet
    service_name: str
    target_namespace: str  # where its pods run


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", help="the virtual cluster's name (vcsync --name; the chart's release name)")
    parser.add_argument(
        "-n", "--namespace", default="", help="its host namespace (default: the context's, else the pod's)"
    )
    parser.add_argument(
        "--kubeconfig", default="", help="host kubeconfig (default: $KUBECONFIG, ~/.kube/config, in-cluster)"
    )
    parser.add_argument("--service-name", default="", help="the vcluster's host Service (default: = name)")
    parser.add_argument("--target-namespace", default="", help="where its pods run (default: = namespace)")
    parser.add_argument("--dry-run", action="store_true", help="print what would change and change nothing")


def run(args: argparse.Namespace) -> int:
    try:
        return asyncio.run(_run(args))
    except PauseError as e:
        print(f"vcsync {args.command}: {e}", file=sys.stderr)
        return 1


async def _run(args: argparse.Namespace) -> int:
    kubeconfig = _kubeconfig(args.kubeconfig)
    namespace = args.namespace or _default_namespace(kubeconfig)
    target = Target(args.name, namespace, args.service_name or args.name, args.target_namespace or namespace)
    try:
        async with connect(kubeconfig or None) as api_client:
            api = KubeApi(api_client, "host", bucket=TokenBucket(50, 100), dry_run=args.dry_run)
            if args.command == "pause":
                await pause(api, target, timeout=args.timeout, out=sys.stdout)
            else:
                await resume(api, target, out=sys.stdout)
    except ApiError as e:
        raise PauseError(f"the host API server refused: {e}") from None
    except (OSError, ValueError) as e:
        raise PauseError(f"cannot reach the host cluster ({kubeconfig or 'in-cluster'}): {e}") from None
    return 0


def _kubeconfig(chosen: str) -> str:
    if chosen:
        return chosen
    from_env = os.environ.get("KUBECONFIG", "").split(os.pathsep)[0]
    if from_env:
        return from_env
    home = Path.home() / ".kube" / "config"
    return str(home) if home.exists() else ""


def _default_namespace(kubeconfig: str) -> str:
    """The kubeconfig context's namespace, else the pod's, as kubectl and `vcsync run` find it."""
    found = context_namespace(kubeconfig, lambda path: Path(path).read_text()) if kubeconfig else ""
    if not found and Path(SA_NAMESPACE_FILE).exists():
        found = Path(SA_NAMESPACE_FILE).read_text().strip()
    return found or os.environ.get("POD_NAMESPACE", "") or "default"


# ---- the two commands ----------------------------------------------------------------------------------------
async def pause(api: KubeApi, target: Target, *, timeout: float, out: TextIO) -> None:
    """Record the pause on the Service, scale the StatefulSet to 0 and wait for its pods (the syncer with them),
    then delete this vcluster's pods and wait for them to go. ConfigMaps, Secrets, Services and PVCs stay."""
    service = await _service(api, target)
    statefulset = await _statefulset(api, target, service)
    annotations = _annotations(service)
    record: dict[str, str | None] = {}
    if annotations.get(PAUSED) != "true":
        record = {PAUSED: "true", PAUSED_AT: format_time(dt.datetime.now(dt.UTC))}
    replicas = (statefulset or {}).get("spec", {}).get("replicas", 1)
    if statefulset is not None and PAUSED_REPLICAS not in annotations and replicas:
        record[PAUSED_REPLICAS] = str(replicas)
    if record:
        await _annotate(api, target, record, f"recorded the pause on Service {_where(target)}", out)
    if statefulset is not None:
        await _scale(api, target.namespace, statefulset, 0, out)
        selector = ",".join(f"{k}={v}" for k, v in sorted(service["spec"]["selector"].items()))
        await _wait_gone(api, target.namespace, selector, timeout, f"StatefulSet {_name(statefulset)}")
    deleted = await _delete_pods(api, target, out)
    await _wait_gone(api, target.target_namespace, _pods_selector(target), timeout, "the virtual cluster's pods")
    if not record and not deleted and not (statefulset and replicas):
        print(f"vcluster {target.name} in namespace {target.namespace} is already paused: nothing to do", file=out)
    else:
        print(f"vcluster {target.name} in namespace {target.namespace} is paused", file=out)


async def resume(api: KubeApi, target: Target, *, out: TextIO) -> None:
    """Scale the StatefulSet back to its recorded replicas, then clear the pause and stamp `resumed-at`: the syncer
    re-creates the host pod of every pod the pause removed, at its own pace."""
    service = await _service(api, target)
    annotations = _annotations(service)
    if not pause_state(service).paused and PAUSED_REPLICAS not in annotations:
        print(f"vcluster {target.name} in namespace {target.namespace} is not paused: nothing to do", file=out)
        return
    statefulset = await _statefulset(api, target, service)
    recorded = annotations.get(PAUSED_REPLICAS, "")
    if statefulset is not None and recorded.isdigit():
        await _scale(api, target.namespace, statefulset, int(recorded), out)
    record = {PAUSED: None, PAUSED_AT: None, PAUSED_REPLICAS: None}
    record[RESUMED_AT] = format_time(dt.datetime.now(dt.UTC))
    await _annotate(api, target, record, f"cleared the pause on Service {_where(target)}", out)
    print(f"vcluster {target.name} in namespace {target.namespace} is resumed", file=out)


# ---- steps ---------------------------------------------------------------------------------------------------
async def _service(api: KubeApi, target: Target) -> dict[str, Any]:
    service = await api.get(SERVICES, target.namespace, target.service_name)
    if service is None:
        raise PauseError(
            f"no virtual cluster {target.name!r} in namespace {target.namespace!r}: "
            f"its Service {target.service_name!r} does not exist there (wrong name or --namespace?)"
        )
    return service


async def _statefulset(api: KubeApi, target: Target, service: dict[str, Any]) -> dict[str, Any] | None:
    """The StatefulSet whose pods the Service selects (the chart's virtual control plane), if there is one."""
    selector = (service.get("spec") or {}).get("selector") or {}
    if not selector:
        return None
    found = [
        s
        for s in (await api.list_page(STATEFULSETS, target.namespace, limit=0)).get("items") or []
        if selector.items() <= (((s["spec"].get("template") or {}).get("metadata") or {}).get("labels") or {}).items()
    ]
    if len(found) > 1:
        names = ", ".join(sorted(_name(s) for s in found))
        raise PauseError(f"the selector of Service {_where(target)} matches several StatefulSets: {names}")
    return found[0] if found else None


def _annotations(obj: dict[str, Any]) -> dict[str, str]:
    return (obj.get("metadata") or {}).get("annotations") or {}


async def _annotate(api: KubeApi, target: Target, record: dict[str, str | None], done: str, out: TextIO) -> None:
    await api.patch(SERVICES, target.namespace, target.service_name, {"metadata": {"annotations": record}})
    print(_dry(api, done), file=out)


async def _scale(api: KubeApi, namespace: str, statefulset: dict[str, Any], replicas: int, out: TextIO) -> None:
    current = statefulset["spec"].get("replicas", 1)
    if current == replicas:
        return
    await api.patch(STATEFULSETS, namespace, _name(statefulset), {"spec": {"replicas": replicas}})
    print(_dry(api, f"scaled StatefulSet {namespace}/{_name(statefulset)} from {current} to {replicas}"), file=out)


async def _delete_pods(api: KubeApi, target: Target, out: TextIO) -> int:
    """Delete (gracefully) every pod carrying this vcluster's markers; others in the namespace are not touched."""
    names = NameTranslator(target.name, target.target_namespace)
    pods = [p for p in await _list_pods(api, target.target_namespace, _pods_selector(target)) if _ours(p, names)]
    live = [p for p in pods if not p["metadata"].get("deletionTimestamp")]
    for pod in live:
        meta = pod["metadata"]
        await api.delete(PODS, meta["namespace"], meta["name"], uid=meta["uid"])
    if live:
        print(
            _dry(api, f"deleted {len(live)} pods of the virtual cluster in namespace {target.target_namespace}"),
            file=out,
        )
    return len(live)


def _ours(pod: dict[str, Any], names: NameTranslator) -> bool:
    return is_managed(pod, names=names, api_version="v1", kind="Pod")


async def _list_pods(api: KubeApi, namespace: str, selector: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    token = ""
    while True:
        page = await api.list_page(PODS, namespace, label_selector=selector, continue_token=token)
        items += page.get("items") or []
        token = (page.get("metadata") or {}).get("continue") or ""
        if not token:
            return items


async def _wait_gone(api: KubeApi, namespace: str, selector: str, timeout: float, what: str) -> None:
    if api.dry_run:
        return
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        left = (await api.list_page(PODS, namespace, label_selector=selector, limit=1)).get("items")
        if not left:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise PauseError(f"pods of {what} still exist after {timeout:g}s; run the command again to finish")
        await asyncio.sleep(POLL)


def _pods_selector(target: Target) -> str:
    return managed_by_selector(NameTranslator(target.name, target.target_namespace), cluster_scoped=False)


def _name(obj: dict[str, Any]) -> str:
    return obj["metadata"]["name"]


def _where(target: Target) -> str:
    return f"{target.namespace}/{target.service_name}"


def _dry(api: KubeApi, done: str) -> str:
    return f"(dry run) would have {done}" if api.dry_run else done
