"""The mass-deletion safety valve. A virtual API server that comes back empty (etcd wiped, restored from an old
backup, a wrong kubeconfig) would make every host object of the tenant an orphan, and vcsync would delete them
all. Deletions vcsync saw happen (watch events) always proceed; deletions it only infers — an object a re-list no
longer shows, or an orphan found at start-up — are held per kind while they are more than --mass-deletion-share
of that kind's host objects and more than --mass-deletion-minimum, until the objects show up again or an operator
allows them with an annotation on the vcluster Service."""

from __future__ import annotations

import datetime as dt
from typing import Any

from syncer import metrics
from syncer.events import EventRecorder
from syncer.log import get_logger
from translators.pause import format_time, parse_time

log = get_logger("deletion-valve")
ALLOW_UNTIL = "vcluster.loft.sh/allow-mass-deletion-until"
HELD_REASON = "MassDeletionHeld"


def too_many(unseen: int, total: int, share: float, minimum: int) -> bool:
    """Whether deleting `unseen` of `total` host objects at once is a mass deletion to hold."""
    return share < 1 and unseen > minimum and unseen > share * total


def allowed_until(service: dict[str, Any] | None) -> dt.datetime | None:
    annotations = ((service or {}).get("metadata") or {}).get("annotations") or {}
    return parse_time(annotations.get(ALLOW_UNTIL))


class DeletionValve:
    """One per engine: the thresholds, the operator's permission, and the report when a kind starts holding."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self.share = engine.config.mass_deletion_share
        self.minimum = engine.config.mass_deletion_minimum
        self.recorder = EventRecorder(engine.host_api, engine.identity)

    def allowed_now(self) -> bool:
        until = allowed_until(self.engine.vcluster_service())
        return until is not None and dt.datetime.now(dt.UTC) < until

    def holds(self, unseen: int, total: int) -> bool:
        return too_many(unseen, total, self.share, self.minimum) and not self.allowed_now()

    async def report(self, kind: str, unseen: int, total: int) -> None:
        """Log, metric and a Warning event on the vcluster Service, once each time a kind starts holding."""
        metrics.DELETIONS_HELD.labels(kind).set(unseen)
        later = format_time(dt.datetime.now(dt.UTC) + dt.timedelta(minutes=10))
        message = (
            f"holding the deletion of {unseen} of {total} host {kind} whose virtual objects vanished without being "
            f"seen deleted (an empty or restored virtual cluster?); they stay until the virtual cluster shows them "
            f"again, or annotate this Service {ALLOW_UNTIL}={later} to let them go"
        )
        log.warning("mass deletion held", kind=kind, unseen=unseen, total=total, allow_annotation=ALLOW_UNTIL)
        service = self.engine.vcluster_service()
        if service is not None:
            await self.recorder.warn(service, HELD_REASON, message)

    def released(self, kind: str) -> None:
        metrics.DELETIONS_HELD.labels(kind).set(0)
        log.info("mass deletion released", kind=kind)
