"""Child processes of a local control plane (etcd, API servers, controllers, kwok).
Each gets its own log file and process group, dies with its parent even on SIGKILL (PR_SET_PDEATHSIG), and is
stopped with SIGTERM then SIGKILL, so an interrupted test run leaves no process behind."""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import signal
import subprocess
import threading
import time
from collections import deque
from pathlib import Path

_PR_SET_PDEATHSIG = 1
_LIVE: set[Component] = set()


def _die_with_parent() -> None:  # runs in the child between fork and exec
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


class ComponentExited(RuntimeError):
    """A component stopped on its own; the message carries the end of its log."""


class Component:
    """One long-running binary with fixed arguments, restartable in place."""

    def __init__(self, name: str, argv: list[str], log_path: Path, stop_grace: float = 2.0) -> None:
        self.name = name
        self.stop_grace = stop_grace
        self.argv = argv
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            # PR_SET_PDEATHSIG fires when the *forking thread* exits: a child started from a worker thread
            # would be killed as soon as that thread ends.
            raise RuntimeError(f"start {self.name} from the main thread")
        with self.log_path.open("ab") as log:
            log.write(f"\n==== start {time.strftime('%H:%M:%S')}: {' '.join(self.argv)}\n".encode())
            log.flush()
            self.proc = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        _LIVE.add(self)

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def check_running(self) -> None:
        if self.proc is not None and self.proc.poll() is not None:
            raise ComponentExited(
                f"{self.name} exited with code {self.proc.returncode}; last log lines:\n{self.tail(25)}"
            )

    def stop(self, grace: float | None = None) -> None:
        """SIGTERM the process group, then SIGKILL whatever is left after `grace` (default: stop_grace) seconds.
        The Kubernetes binaries drain in well under a second and then may linger in shutdown hooks, so their
        default grace is short; etcd gets longer so its data is always consistent."""
        proc, self.proc = self.proc, None
        _LIVE.discard(self)
        if proc is None or proc.poll() is not None:
            return
        _signal_group(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=self.stop_grace if grace is None else grace)
        except subprocess.TimeoutExpired:
            _signal_group(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)

    def restart(self) -> None:
        self.stop()
        self.start()

    def tail(self, lines: int = 40) -> str:
        try:
            with self.log_path.open("rb") as f:
                return b"".join(deque(f, maxlen=lines)).decode(errors="replace")
        except FileNotFoundError:
            return ""


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


@atexit.register
def _kill_leftovers() -> None:
    for component in list(_LIVE):
        component.stop(grace=3.0)
