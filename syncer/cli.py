"""The `vcsync` command. Sub-commands live in their own modules; this only dispatches and turns known failures
into one clear sentence and a non-zero exit instead of a traceback."""

from __future__ import annotations

import argparse
import sys

from syncer import __version__, dev, pause, run, servingcert
from syncer.controlplane import ControlPlaneError
from syncer.controlplane.process import ComponentExited


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vcsync", description="Syncs a virtual Kubernetes cluster onto a host.")
    parser.add_argument("--version", action="version", version=f"vcsync {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", add_help=False, help="run the syncer between a virtual and a host cluster (see run --help)")
    dev.add_arguments(sub.add_parser("dev", help="run a local host + virtual cluster pair for development"))
    sleep = sub.add_parser("pause", help="pause a virtual cluster: its pods leave the host, everything else stays")
    pause.add_arguments(sleep)
    sleep.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for pods to go (default 120)")
    pause.add_arguments(sub.add_parser("resume", help="resume a paused virtual cluster: every pod comes back"))
    servingcert.add_arguments(
        sub.add_parser("serving-cert", help="sign the virtual API server's serving certificate (the chart's init step)")
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["run"]:  # its flags follow Go pflag rules (SPEC §11), parsed by syncer.config
        return run.main(argv[1:])
    args = build_parser().parse_args(argv)
    if args.command in ("pause", "resume"):
        return pause.run(args)
    if args.command == "serving-cert":
        return servingcert.run(args)
    try:
        return dev.run(args)
    except (ControlPlaneError, ComponentExited, TimeoutError) as e:
        print(f"vcsync {args.command}: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
