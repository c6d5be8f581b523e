"""Pod life-cycle decisions that need no server: a pod-less token Secret is swept only once old enough (§12); a
paused virtual cluster brings no pod back, and after the resume re-creates those the pause removed."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

from syncer.cache import Store
from translators import pod_sync
from translators.kind import Requeue, Write
from translators.names import NameTranslator, token_secret_name
from translators.pause import PAUSED, RESUMED_AT, PauseState, pause_changed, pause_state, pin_to_node
from translators.pods import PodContext, mutable_patch, status_up
from vocab.resources import SECRETS

NAMES = NameTranslator("vc", "host-ns")


def _ctx(created: str) -> SimpleNamespace:
    secrets = Store("secrets", "host")
    name = token_secret_name("web", "shop", "vc")
    secrets.upsert({"metadata": {"name": name, "namespace": "host-ns", "uid": "u1", "creationTimestamp": created}})
    return SimpleNamespace(
        names=NAMES,
        config=SimpleNamespace(target_namespace="host-ns"),
        host=lambda res: secrets if res is SECRETS else None,
    )


def test_an_old_pod_less_token_secret_is_deleted():
    steps = pod_sync.leftovers(_ctx("2020-01-01T00:00:00Z"), "shop/web")
    assert steps == [
        Write(
            "host", "delete", SECRETS, "host-ns", token_secret_name("web", "shop", "vc"), uid="u1", why="pod-less token"
        )
    ]


def test_a_young_pod_less_token_secret_is_looked_at_again_later():
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    (step,) = pod_sync.leftovers(_ctx(now), "shop/web")
    assert isinstance(step, Requeue) and 0 < step.after <= pod_sync.ORPHAN_TOKEN_AGE


def test_nothing_to_do_without_a_token_secret():
    ctx = SimpleNamespace(
        names=NAMES, config=SimpleNamespace(target_namespace="host-ns"), host=lambda res: Store("secrets", "host")
    )
    assert pod_sync.leftovers(ctx, "shop/other") == []


# ---- pause and resume (translators/pause.py) -------------------------------------------------------------------
def _paused_ctx(**annotations: str) -> SimpleNamespace:
    service = {"metadata": {"name": "vc", "annotations": annotations}}
    return SimpleNamespace(vcluster_service=lambda: service)


def _vpod(start: str | None = "2026-01-01T10:00:00Z", phase: str = "Running", deleting: bool = False) -> dict:
    meta = {"name": "solo", "namespace": "shop", "uid": "u1"}
    if deleting:
        meta["deletionTimestamp"] = "2026-01-01T12:00:00Z"
    return {"metadata": meta, "spec": {}, "status": {"startTime": start, "phase": phase} if start else {}}


def test_a_started_pod_that_lost_its_host_pod_is_deleted_as_before():
    (step,) = pod_sync.host_gone(_paused_ctx(), _vpod())
    assert (step.side, step.verb, step.why) == ("virtual", "delete", "started pod lost its host pod")


def test_while_paused_a_pod_without_host_pod_is_left_alone():
    assert pod_sync.host_gone(_paused_ctx(**{PAUSED: "true"}), _vpod()) == []
    assert pod_sync.host_gone(_paused_ctx(**{PAUSED: "true"}), _vpod(start=None)) == []


def test_while_paused_a_deleting_pod_is_still_finished():
    (step,) = pod_sync.host_gone(_paused_ctx(**{PAUSED: "true"}), _vpod(deleting=True))
    assert (step.verb, step.grace) == ("delete", 0)


def test_after_resume_a_pod_that_started_before_it_is_recreated():
    ctx = _paused_ctx(**{RESUMED_AT: "2026-01-02T08:00:00Z"})
    assert pod_sync.host_gone(ctx, _vpod()) is None  # None: on to the create path


def test_after_resume_an_ended_pod_stays_as_it_ended():
    ctx = _paused_ctx(**{RESUMED_AT: "2026-01-02T08:00:00Z"})
    assert pod_sync.host_gone(ctx, _vpod(phase="Succeeded")) == []


def test_after_resume_a_pod_started_since_is_lost_as_usual():
    ctx = _paused_ctx(**{RESUMED_AT: "2026-01-02T08:00:00Z"})
    (step,) = pod_sync.host_gone(ctx, _vpod(start="2026-01-02T08:00:05Z"))
    assert step.why == "started pod lost its host pod"


def test_while_paused_a_terminating_host_pod_is_not_mirrored_up():
    hpod = {"metadata": {"name": "h", "namespace": "host-ns", "uid": "h1", "deletionTimestamp": "x"}, "status": {}}
    assert pod_sync.existing(_paused_ctx(**{PAUSED: "true"}), _vpod(), hpod) == []


def test_only_a_change_of_the_pause_state_requeues_every_pod():
    plain = {"metadata": {"name": "vc", "resourceVersion": "1"}}
    touched = {"metadata": {"name": "vc", "resourceVersion": "2", "labels": {"a": "b"}}}
    paused = {"metadata": {"name": "vc", "annotations": {PAUSED: "true"}}}
    assert not pause_changed(plain, touched)
    assert pause_changed(plain, paused) and pause_changed(paused, plain)


def test_a_garbled_resume_time_is_no_resume():
    assert pause_state({"metadata": {"annotations": {RESUMED_AT: "yesterday"}}}) == PauseState(False, None)


def test_a_pod_recreated_after_resume_goes_back_to_its_node_through_the_scheduler():
    ctx = _paused_ctx(**{RESUMED_AT: "2026-01-02T08:00:00Z"})
    own = {"matchExpressions": [{"key": "disk", "operator": "In", "values": ["ssd"]}]}
    spec = {
        "nodeName": "n1",
        "affinity": {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [own, {"matchFields": [{"key": "x", "operator": "Exists"}]}]
                }
            }
        },
    }
    pinned = pin_to_node(spec)
    assert "nodeName" not in pinned and spec["nodeName"] == "n1"  # the virtual pod's spec is not changed
    field = {"key": "metadata.name", "operator": "In", "values": ["n1"]}
    terms = pinned["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    assert terms == [{**own, "matchFields": [field]}, {"matchFields": [{"key": "x", "operator": "Exists"}, field]}]
    assert pin_to_node({"containers": []}) == {"containers": []}
    assert pin_to_node({"nodeName": "n2"})["affinity"]["nodeAffinity"] == {
        "requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [{"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n2"]}]}]
        }
    }
    assert pod_sync.host_gone(ctx, _vpod()) is None


# ---- the cached host pod ---------------------------------------------------------------------------------------
def _host_pod() -> dict:
    container = {"name": "app", "image": "web:1", "env": [{"name": "A", "value": "1"}], "volumeMounts": [{"name": "v"}]}
    spec = {
        "nodeName": "node-1",
        "containers": [container],
        "initContainers": [container | {"name": "init"}],
        "activeDeadlineSeconds": 30,
        "schedulingGates": [{"name": "g"}],
        "tolerations": [{"key": "k", "operator": "Exists"}],
        "volumes": [{"name": "v", "emptyDir": {}}],
        "dnsConfig": {"nameservers": ["10.96.0.10"]},
        "hostAliases": [{"ip": "1.2.3.4", "hostnames": ["x"]}],
    }
    status = {"phase": "Running", "podIP": "10.0.0.5", "conditions": [{"type": "Ready", "status": "True"}]}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web-x-shop-x-vc"}, "spec": spec, "status": status}


def test_the_cached_host_pod_keeps_everything_the_pod_sync_reads() -> None:
    cached = pod_sync.cached_host_pod(_host_pod())
    assert "volumes" not in cached["spec"] and "env" not in cached["spec"]["containers"][0]
    assert cached["status"] == _host_pod()["status"] and cached["metadata"] == _host_pod()["metadata"]
    vspec = {"containers": [{"name": "app", "image": "web:2"}], "initContainers": [{"name": "init", "image": "web:1"}]}
    vpod = {"metadata": {"name": "web", "namespace": "shop"}, "spec": vspec | {"activeDeadlineSeconds": 20}}
    ctx = PodContext(names=NAMES, cluster_domain="cluster.local")
    assert mutable_patch(vpod, cached, ctx) == mutable_patch(vpod, _host_pod(), ctx) is not None
    assert status_up(vpod, cached) == status_up(vpod, _host_pod())
    assert pod_sync.node_of(cached) == pod_sync.node_of(_host_pod()) == ["node-1"]
