"""Opt-in check against a kind cluster (Docker engine required): `pytest --run-kind tests/kind`. It shows the
client factory works against a cluster we did not start ourselves."""

from __future__ import annotations

import pytest
from kubernetes_asyncio import client

from syncer.kube.client import connect

pytestmark = pytest.mark.kind


async def test_kind_cluster_answers_with_a_version(docker_engine, kind_cluster):
    async with connect(kind_cluster.kubeconfig_path) as api:
        version = await client.VersionApi(api).get_code()
    assert version.git_version.startswith("v1.")
