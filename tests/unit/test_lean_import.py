"""vcsync loads kubernetes_asyncio's transport without its generated API and model modules (40 MB per process),
and code that wants the full client (tests, plugins) still gets it on first use. Checked in fresh interpreters,
since this test process may already have the full package imported."""

from __future__ import annotations

import subprocess
import sys

PROBE = "kubernetes_asyncio.client.models.v1_pod"


def run(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_the_daemon_imports_no_generated_models() -> None:
    out = run(f"import sys, syncer.run, syncer.kube.client; print({PROBE!r} in sys.modules)")
    assert out == "False"


def test_the_transport_names_are_the_real_classes() -> None:
    code = (
        "import syncer\n"
        "from kubernetes_asyncio import client, config, watch\n"
        "from kubernetes_asyncio.client.api_client import ApiClient\n"
        "print(client.ApiClient is ApiClient, callable(config.load_kube_config), hasattr(watch, 'Watch'))"
    )
    assert run(code) == "True True True"


def test_the_full_client_loads_on_first_use() -> None:
    code = (
        "import syncer\n"
        "from kubernetes_asyncio import client\n"
        "print(client.V1Pod(kind='Pod').kind, client.CoreV1Api.__name__)"
    )
    assert run(code) == "Pod CoreV1Api"
