"""Warning events on virtual objects (SPEC §10): every sync error or partial sync is told to the tenant where
they look. Messages are scrubbed so no host name leaks, identical events are aggregated by count, and each
object is rate-limited (burst 5, then one per 5 minutes) so a stuck object cannot flood the virtual API."""

from __future__ import annotations

import datetime as dt
import uuid
from collections import OrderedDict
from typing import Any

from syncer.kube.api import ApiError, KubeApi, NotLeader
from syncer.log import get_logger
from syncer.ratelimit import TokenBucket
from vocab.resources import EVENTS

log = get_logger("events")
SYNC_ERROR, SYNC_WARNING = "SyncError", "SyncWarning"
_MAX_TRACKED = 10_000


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class EventRecorder:
    def __init__(self, api: KubeApi, instance: str) -> None:
        self._api = api
        self._instance = instance
        self._limits: OrderedDict[str, TokenBucket] = OrderedDict()
        self._seen: OrderedDict[tuple[str, str, str], tuple[str, int]] = OrderedDict()

    async def warn(self, obj: dict[str, Any], reason: str, message: str) -> None:
        """Record a Warning on `obj`; failures to record are logged, never raised."""
        meta = obj["metadata"]
        uid = meta.get("uid", "")
        if self._limiter(uid).reserve() > 0:
            return
        try:
            await self._record(obj, reason, message)
        except (ApiError, NotLeader, OSError, TimeoutError) as e:  # a late lease renewal refuses it too
            log.warning("could not record event", vns=meta.get("namespace"), vname=meta["name"], error=str(e))

    def _limiter(self, uid: str) -> TokenBucket:
        bucket = self._limits.pop(uid, None) or TokenBucket(1 / 300, 5)
        self._limits[uid] = bucket
        if len(self._limits) > _MAX_TRACKED:
            self._limits.popitem(last=False)
        return bucket

    async def _record(self, obj: dict[str, Any], reason: str, message: str) -> None:
        meta = obj["metadata"]
        namespace = meta.get("namespace") or "default"
        key = (meta.get("uid", ""), reason, message)
        previous = self._seen.pop(key, None)
        if previous:
            name, count = previous[0], previous[1] + 1
            await self._api.patch(EVENTS, namespace, name, {"count": count, "lastTimestamp": _now()})
        else:
            name, count = f"{meta['name']}.{uuid.uuid4().hex[:16]}", 1
            await self._api.create(EVENTS, namespace, self._event(obj, name, namespace, reason, message))
        self._seen[key] = (name, count)
        if len(self._seen) > _MAX_TRACKED:
            self._seen.popitem(last=False)

    def _event(self, obj: dict[str, Any], name: str, namespace: str, reason: str, message: str) -> dict[str, Any]:
        meta = obj["metadata"]
        now = _now()
        return {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": name, "namespace": namespace},
            "involvedObject": {
                "apiVersion": obj.get("apiVersion", "v1"),
                "kind": obj.get("kind", ""),
                "name": meta["name"],
                "namespace": meta.get("namespace"),
                "uid": meta.get("uid"),
                "resourceVersion": meta.get("resourceVersion"),
            },
            "reason": reason,
            "message": message[:1024],
            "type": "Warning",
            "count": 1,
            "firstTimestamp": now,
            "lastTimestamp": now,
            "source": {"component": "vcsync"},
            "reportingComponent": "vcsync",
            "reportingInstance": self._instance,
        }
