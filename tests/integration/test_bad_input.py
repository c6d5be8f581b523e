"""The bad-input table (tests/integration/bad_input.py) against the real clusters, all cases through one syncer:
each object is synced faithfully, synced trimmed with a Warning saying what was dropped, or refused with a Warning
saying why — no Warning names a host object, a refused object leaves nothing on the host, the syncer stays up,
logs and counts each refusal, and does not retry in a hot loop."""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.conftest import POD_SYNC, S
from tests.integration.bad_input import CASES, REFUSED, SYNCED, TRIMMED, Case
from tests.kube import Any_
from tests.support import eventually
from translators.names import host_name

pytestmark = pytest.mark.controlplane
QUIET_WINDOW = 10.0  # seconds over which the settled syncer's request rate is measured
MAX_REQUESTS_IN_WINDOW = 40  # fake-node heartbeats and the refused keys' backoff, never a loop


async def _create_all(virtual: Any_, vns: str) -> None:
    for case in CASES:  # all at once, as `kubectl apply -f` would: Endpoints race their Service's re-creation
        for resource, body in case.before:
            await virtual.call("POST", f"/api/v1/namespaces/{vns}/{resource}", body)
        await virtual.call("POST", f"/api/v1/namespaces/{vns}/{case.resource}", case.body)


async def _verdict(case: Case, virtual: Any_, host: Any_, vns: str, t: str) -> str | None:
    """None when the case has its outcome; else what is wrong (polled until the deadline)."""
    copy = await host.call("GET", f"/api/v1/namespaces/{t}/{case.resource}/{host_name(case.name, vns, S)}")
    selector = f"involvedObject.name={case.name},type=Warning"
    events = (await virtual.call("GET", f"/api/v1/namespaces/{vns}/events?fieldSelector={selector}") or {})["items"]
    leaked = [e["message"] for e in events if f"-x-{vns}-x-{S}" in e["message"] or t in e["message"]]
    if leaked:  # neither vcsync's own Warnings nor the host's events it copies up (FailedScheduling, ...)
        return f"a Warning names a host object: {leaked}"
    messages = [e["message"] for e in events if e.get("reportingComponent") == "vcsync"]
    if case.outcome == REFUSED:
        if copy is not None:
            return "refused, yet on the host"
        return None if any(case.says in m for m in messages) else f"no Warning saying {case.says!r}: {messages}"
    if copy is None:
        return "not on the host"
    if not case.check(copy):
        return "host copy fails its check"
    if case.outcome == TRIMMED and not any(case.says in m for m in messages):
        return f"no Warning saying {case.says!r}: {messages}"
    if case.outcome == SYNCED and messages:
        return f"synced, yet warned: {messages}"
    return None


async def _all_verdicts(virtual: Any_, host: Any_, vns: str, t: str, timeout: float) -> dict[str, str]:
    deadline = time.monotonic() + timeout
    wrong = {c.id: "not looked at" for c in CASES}
    while wrong and time.monotonic() < deadline:
        for case in [c for c in CASES if c.id in wrong]:
            verdict = await _verdict(case, virtual, host, vns, t)
            if verdict is None:
                del wrong[case.id]
            else:
                wrong[case.id] = verdict
        if wrong:
            await asyncio.sleep(1.0)
    return wrong


async def test_every_bad_input_gets_its_outcome_a_reason_and_no_hot_loop(
    run_syncer, vcluster_service, virtual_api, host_api, v, virtual_namespace, host_namespace
):
    vns, t = virtual_namespace, host_namespace
    virtual, host = Any_(virtual_api), Any_(host_api)
    syncer = await run_syncer(*POD_SYNC, "--sync-all-configmaps", "--sync-all-secrets")
    await eventually(lambda: v.get("service_account", vns, "default"), 30, "the namespace's default ServiceAccount")
    await _create_all(virtual, vns)

    wrong = await _all_verdicts(virtual, host, vns, t, timeout=90)
    assert wrong == {}, "cases without their outcome:\n" + "\n".join(f"  {k}: {v}" for k, v in wrong.items())

    refused = [c for c in CASES if c.outcome == REFUSED]
    log = syncer.log_entries()
    for case in refused:
        assert any(e.get("msg") == "sync refused" and e.get("vname") == case.name for e in log), case.id
    assert await syncer.metric("vcsync_sync_errors_total", kind="pods") >= len(
        [c for c in refused if c.resource == "pods"]
    )

    await syncer.settle(quiet=3.0)
    before = await syncer.metric("vcsync_api_requests_total")
    await asyncio.sleep(QUIET_WINDOW)  # a rate needs a window: what the settled syncer asks for in it
    requests = await syncer.metric("vcsync_api_requests_total") - before
    assert requests <= MAX_REQUESTS_IN_WINDOW, f"{requests:g} requests in {QUIET_WINDOW:g}s after settling"
    await syncer.wait_ready(timeout=5)  # alive and ready throughout
