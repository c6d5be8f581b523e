"""The image's runtime layout without Docker: the wheel is built from exactly the files the Dockerfile's build
context admits (.dockerignore's allowlist) and installed into a fresh virtualenv without pip, as the image's
builder stage does; the `vcsync` entry point must then work from outside the source tree: help, and a dry run
against the test clusters until /readyz. This catches a broken entry point, a module or data file left out of the
wheel, or an undeclared dependency. The dependency wheels are cached per dependency set, so a warm run is offline."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from syncer import __version__
from syncer.controlplane import ClusterPair
from tests import syncer_process
from tests.chart.chart import ROOT

PIP = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input"]


def _build_context(dest: Path) -> Path:
    """Copy what .dockerignore lets into the image build (its `!path` allowlist), minus bytecode."""
    dest.mkdir(parents=True)
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    for entry in (line[1:].strip().rstrip("/") for line in lines if line.startswith("!")):
        if entry.startswith("build/"):
            continue  # the wheelhouse: this test brings its own
        source = ROOT / entry
        if source.is_dir():
            shutil.copytree(source, dest / entry, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        elif source.exists():
            shutil.copy2(source, dest / entry)
    return dest


def _wheelhouse() -> Path:
    """Wheels of the build backend and every runtime dependency, made once per dependency set."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    requirements = [*project["build-system"]["requires"], *project["project"]["dependencies"]]
    key = hashlib.sha256("\n".join([sys.version, *requirements]).encode()).hexdigest()[:12]
    base = os.environ.get("VCSYNC_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "vcsync"
    )
    house = Path(base) / "tools" / f"wheelhouse-{key}"
    if not house.is_dir():
        partial = house.with_name(house.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        _run([*PIP, "wheel", "--quiet", "--wheel-dir", str(partial), *requirements])
        partial.rename(house)
    return house


def _run(argv: list[str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=False, timeout=300)
    assert result.returncode == 0, f"{' '.join(argv)}\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtualenv (no pip) holding only the built wheel and its dependencies; returns its bin folder."""
    work = tmp_path_factory.mktemp("wheel")
    context = _build_context(work / "context")
    house = _wheelhouse()
    offline = ["--no-index", "--find-links", str(house)]
    _run([*PIP, "wheel", "--quiet", *offline, "--no-deps", "--wheel-dir", str(work / "dist"), str(context)])
    (wheel,) = (work / "dist").glob("vcsync-*.whl")
    _run([sys.executable, "-m", "venv", "--without-pip", str(work / "venv")])
    _run([*PIP, "--python", str(work / "venv" / "bin" / "python"), "install", "--quiet", *offline, str(wheel)])
    return work / "venv" / "bin"


def test_installed_wheel_runs_the_vcsync_entry_point_outside_the_source_tree(installed: Path, tmp_path: Path) -> None:
    assert not (installed / "pip").exists()  # like the image: no installer at run time
    where = _run(
        [str(installed / "python"), "-c", "import syncer, translators, vocab; print(syncer.__file__)"], tmp_path
    )
    assert str(installed.parent) in where.stdout
    assert f"vcsync {__version__}" in _run([str(installed / "vcsync"), "--version"], tmp_path).stdout
    assert "run" in _run([str(installed / "vcsync"), "--help"], tmp_path).stdout
    assert "--virtual-kubeconfig" in _run([str(installed / "vcsync"), "run", "--help"], tmp_path).stdout


@pytest.mark.controlplane
async def test_installed_wheel_dry_run_reaches_ready_against_the_test_clusters(
    installed: Path, cluster_pair: ClusterPair, host_namespace: str, tmp_path: Path
) -> None:
    syncer = syncer_process.Syncer(
        cluster_pair, name="wheel", target=host_namespace, args=("--dry-run",), log_path=tmp_path / "vcsync.log"
    )
    syncer.argv = [str(installed / "vcsync"), *syncer.argv[3:]]  # the console script instead of `python -m`
    assert syncer.argv[1] == "run"
    await syncer.start()
    try:
        await syncer.wait_ready()
        assert await syncer.writes() == 0
    finally:
        assert await syncer.stop() == 0
