"""The leader write gate: it is asked when a write is about to be sent, after the wait for a rate-limit token (which
may outlast the renew deadline). That a refused key is retried is in test_worker_leader_gate."""

from __future__ import annotations

from typing import Any

import pytest

from syncer import metrics
from syncer.kube.api import KubeApi, NotLeader
from vocab.resources import CONFIGMAPS


class Transport:
    """Stands in for kubernetes_asyncio's ApiClient: records what would have been sent."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    async def call_api(self, path: str, method: str, **_: Any) -> Any:
        self.sent.append((method, path))
        raise AssertionError("nothing may be sent")


class Lease:
    def __init__(self) -> None:
        self.fresh = True

    def check(self) -> None:
        if not self.fresh:
            raise NotLeader("no fresh lease")


class SlowBucket:
    """A token that arrives only after the lease went stale."""

    def __init__(self, lease: Lease) -> None:
        self.lease = lease

    async def acquire(self) -> None:
        self.lease.fresh = False


async def test_a_write_that_waited_for_its_token_past_the_renew_deadline_is_refused() -> None:
    lease, transport = Lease(), Transport()
    api = KubeApi(transport, "host", bucket=SlowBucket(lease), write_gate=lease.check)  # type: ignore[arg-type]
    before = metrics.WRITES_REFUSED.labels("host")._value.get()
    with pytest.raises(NotLeader):
        await api.create(CONFIGMAPS, "ns", {"metadata": {"name": "cfg"}})
    assert transport.sent == []
    assert metrics.WRITES_REFUSED.labels("host")._value.get() == before + 1
