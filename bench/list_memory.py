"""`python -m bench.list_memory`: what a restart's LIST of 10,000 host pods leaves in RSS when each page is cut to
its cached form as it arrives (the Reflector's way) against cutting only after the whole LIST is in. No cluster:
synthetic pods shaped like the benchmark's, 20 pages of 500, each mode in a fresh process; the gap is the holes
that what is dropped (managedFields, most of the spec) leaves when nothing is decoded after it."""

from __future__ import annotations

import ctypes
import gc
import subprocess
import sys

import orjson

from syncer.cache import Store
from syncer.kube.api import parse_json
from translators.pod_sync import cached_host_pod

PAGES, PAGE = 20, 500


def _pod(i: int) -> dict:
    ts, name, node = f"2026-12-07T17:{i % 60:02d}:{i * 7 % 60:02d}Z", f"web-{i:05d}-x-bench-x-vc", f"kwok-node-{i % 13}"
    fields = {f"f:{k}": {f"f:{j}": {} for j in range(12)} for k in ("metadata", "spec", "status")}
    return {
        "metadata": {
            "name": name,
            "namespace": "vcluster-vc",
            "uid": f"{i:08d}-5b7d-4c8e-9a0b-1c2d3e4f5a6b",
            "resourceVersion": str(i),
            "creationTimestamp": ts,
            "labels": {"app": "web", "vcluster.loft.sh/namespace": "bench"},
            "annotations": {"vcluster.loft.sh/object-name": f"web-{i:05d}", "vcluster.loft.sh/object-uid": f"{i:032d}"},
            "managedFields": [
                {"manager": m, "operation": "Update", "time": ts, "fieldsV1": fields} for m in ("vcsync", "kwok")
            ],
        },
        "spec": {
            "nodeName": node,
            "restartPolicy": "Always",
            "dnsPolicy": "None",
            "containers": [
                {
                    "name": "app",
                    "image": "registry.k8s.io/pause:3.9",
                    "resources": {"requests": {"cpu": "10m"}},
                    "env": [
                        {"name": f"E{j}", "valueFrom": {"configMapKeyRef": {"name": f"cfg-{i}", "key": "k"}}}
                        for j in range(4)
                    ],
                    "volumeMounts": [{"name": "token", "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}],
                }
            ],
            "volumes": [{"name": "token", "projected": {"sources": [{"secret": {"name": f"token-{i}-x-bench-x-vc"}}]}}],
            "tolerations": [
                {"key": k, "operator": "Exists", "effect": "NoExecute"} for k in ("not-ready", "unreachable")
            ],
            "dnsConfig": {"nameservers": ["10.96.0.20"], "searches": ["bench.svc.cluster.local", "cluster.local"]},
        },
        "status": {
            "phase": "Running",
            "hostIP": "192.0.2.2",
            "podIP": f"10.0.{i // 250}.{i % 250}",
            "startTime": ts,
            "conditions": [{"type": t, "status": "True", "lastTransitionTime": ts} for t in ("Ready", "PodScheduled")],
            "containerStatuses": [{"name": "app", "ready": True, "state": {"running": {"startedAt": ts}}}],
        },
    }


def _rss_kb() -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS"))


def measure(per_page: bool) -> float:
    """KB of RSS per cached pod after a LIST, the collector run and glibc's free pages returned."""
    pages = [orjson.dumps({"items": [_pod(p * PAGE + j) for j in range(PAGE)]}) for p in range(PAGES)]
    store = Store("pods", "host")
    store.set_projection(cached_host_pod)
    gc.disable()
    base = _rss_kb()
    kept, whole = [], []
    for data in pages:
        items = parse_json(data)["items"]
        if per_page:
            kept += map(store.keep, items)
        else:
            whole += items
    store.replace(kept if per_page else map(store.keep, whole))
    del kept, whole  # the encoded pages stay, as in the base: only the cache is left over it
    gc.collect()
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    return (_rss_kb() - base) / (PAGES * PAGE)


def main() -> None:
    if len(sys.argv) > 1:
        print(measure(sys.argv[1] == "per-page"))
        return
    for mode in ("whole", "per-page"):
        out = subprocess.run(
            [sys.executable, "-m", "bench.list_memory", mode], capture_output=True, text=True, check=True
        )
        print(f"{mode:9s} {float(out.stdout):5.1f} KB RSS per cached host pod")


if __name__ == "__main__":
    main()
