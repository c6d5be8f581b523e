"""Pod life-cycle decisions that need no server: a pod-less token Secret is swept only once old enough (§12)."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

from syncer.cache import Store
from syncer.kube.resources import SECRETS
from translators import pod_sync
from translators.kind import Requeue, Write
from translators.names import NameTranslator, token_secret_name

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
