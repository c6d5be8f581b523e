"""Where the control-plane binaries come from: a folder the user names (VCSYNC_ASSETS, or envtest's
KUBEBUILDER_ASSETS), else the build cache that hack/controlplane/build.sh fills from Go modules, keyed by the
pinned versions. Each binary is looked up on its own, so envtest's etcd/kube-apiserver can be reused."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

BINARIES = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok", "kubectl")
NODE_BINARIES = ("kubelet", "kube-proxy")  # only for a real node (node.py); envtest's folder has none
HACK_DIR = Path(__file__).resolve().parents[2] / "hack" / "controlplane"


class ControlPlaneError(RuntimeError):
    """A problem the user can fix; the message is one clear sentence, shown without a traceback."""


def pinned_versions() -> dict[str, str]:
    env = HACK_DIR / "versions.env"
    if not env.exists():
        raise ControlPlaneError(
            f"{env} not found: run from a vcsync source checkout, or set VCSYNC_ASSETS to a folder with "
            f"{', '.join(BINARIES)}"
        )
    pairs = (line.split("=", 1) for line in env.read_text().splitlines() if "=" in line and line[0] != "#")
    return {k.strip(): v.strip() for k, v in pairs}


def cache_dir() -> Path:
    v = pinned_versions()
    base = os.environ.get("VCSYNC_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "vcsync"
    )
    key = f"k8s-{v['KUBERNETES_VERSION']}_etcd-{v['ETCD_VERSION']}_kwok-{v['KWOK_VERSION']}"
    return Path(base) / "controlplane" / key / "bin"


def _search_dirs() -> list[Path]:
    named = [os.environ.get("VCSYNC_ASSETS"), os.environ.get("KUBEBUILDER_ASSETS")]
    dirs = [Path(d) for d in named if d]
    if HACK_DIR.exists():
        dirs.append(cache_dir())
    return dirs


def _find(dirs: list[Path], names: tuple[str, ...] = BINARIES) -> tuple[dict[str, Path], list[str]]:
    found: dict[str, Path] = {}
    for name in names:
        for d in dirs:
            if os.access(d / name, os.X_OK):
                found[name] = d / name
                break
    return found, [b for b in names if b not in found]


def locate(real_node: bool = False) -> dict[str, Path]:
    """The binaries (with kubelet and kube-proxy for a real node), without building; ControlPlaneError naming what
    is missing."""
    found, missing = _find(_search_dirs(), BINARIES + NODE_BINARIES if real_node else BINARIES)
    if missing:
        raise ControlPlaneError(
            f"control-plane binaries missing: {', '.join(missing)}. Build them with `make controlplane` "
            "(needs Go), or set VCSYNC_ASSETS to a folder that has them"
        )
    return found


def ensure(real_node: bool = False) -> dict[str, Path]:
    """The binaries, building the missing ones from Go modules first (progress on stderr)."""
    found, missing = _find(_search_dirs(), BINARIES + NODE_BINARIES if real_node else BINARIES)
    if not missing:
        return found
    pinned_versions()  # a clear error outside a checkout
    print(f"vcsync: building control-plane binaries ({', '.join(missing)} missing)", file=sys.stderr)
    result = subprocess.run(["bash", str(HACK_DIR / "build.sh")], stdout=subprocess.DEVNULL, check=False)
    if result.returncode == 3:
        raise ControlPlaneError("Go is not installed: install Go 1.26 or newer, or set VCSYNC_ASSETS")
    if result.returncode != 0:
        raise ControlPlaneError("building the control-plane binaries failed; the build output above says why")
    return locate(real_node)


def run_hack(script: str, timeout: float = 900) -> str:
    """Run `hack/<script>` of this checkout and return what it printed (image references, paths); ControlPlaneError
    with the end of its error output if it fails."""
    done = subprocess.run(
        ["bash", str(HACK_DIR.parent / script)], capture_output=True, text=True, timeout=timeout, check=False
    )
    if done.returncode != 0:
        raise ControlPlaneError(f"hack/{script} failed: {done.stderr.strip()[-1500:]}")
    return done.stdout.strip()
