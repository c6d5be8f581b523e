"""The README's kinds and flags tables, generated from the code they describe (`make docs` writes them, `make lint`
checks them) so the documentation cannot drift. A kind's status reads "implemented" as soon as a KindSpec with its name
is in `syncer.registry.KINDS` (or ENGINE_KINDS); nothing here needs editing when that happens."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from syncer import registry
from syncer.config import flags_markdown_table
from syncer.kinds import DEFAULT_KINDS, OPTIONAL_KINDS

README = Path(__file__).resolve().parents[1] / "README.md"

_DOWN = "virtual → host"
_UP = "host → virtual"
_MIRROR = "host → virtual (mirror)"
_FAKE = "created in virtual (fake objects)"
DIRECTIONS: dict[str, str] = {  # SPEC §6 and §7
    "services": _DOWN,
    "configmaps": _DOWN,
    "secrets": _DOWN,
    "endpoints": _DOWN,
    "endpointslices": _DOWN,
    "pods": _DOWN,
    "persistentvolumeclaims": _DOWN,
    "ingresses": _DOWN,
    "networkpolicies": _DOWN,
    "poddisruptionbudgets": _DOWN,
    "priorityclasses": _DOWN,
    "storageclasses": _DOWN,
    "serviceaccounts": _DOWN,
    "events": _UP,
    "ingressclasses": _MIRROR,
    "hoststorageclasses": _MIRROR,
    "nodes": _MIRROR,
    "fake-nodes": _FAKE,
    "fake-persistentvolumes": _FAKE,
}


def kinds_markdown_table() -> str:
    """One row per `--sync` kind, the default set first, with its direction, default and implementation status."""
    implemented = {spec.name for spec in registry.KINDS} | set(registry.ENGINE_KINDS)
    rows = ["| kind | direction | default | enable / disable | status |", "|---|---|---|---|---|"]
    for kind in [*sorted(DEFAULT_KINDS), *sorted(OPTIONAL_KINDS)]:
        default, switch = ("on", f"`--sync=-{kind}`") if kind in DEFAULT_KINDS else ("off", f"`--sync=+{kind}`")
        status = "implemented" if kind in implemented else "planned"
        rows.append(f"| `{kind}` | {DIRECTIONS[kind]} | {default} | {switch} | {status} |")
    return "\n".join(rows) + "\n"


_TABLES: dict[str, Callable[[], str]] = {"kinds": kinds_markdown_table, "flags": flags_markdown_table}


def render_readme(text: str) -> str:
    """`text` with each `<!-- name:start -->`/`<!-- name:end -->` region holding its freshly generated table."""
    for name, table in _TABLES.items():
        text = _fill_region(text, name, table())
    return text


def _fill_region(text: str, name: str, content: str) -> str:
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    head, found_start, rest = text.partition(start)
    _, found_end, tail = rest.partition(end)
    if not (found_start and found_end):
        raise ValueError(f"no {start} ... {end} region to fill")
    return f"{head}{start}\n{content}{end}{tail}"


def main(argv: Sequence[str] | None = None) -> None:
    """`python -m syncer.docs` rewrites README.md; with `--check` it only exits 1 if README.md is stale."""
    parser = argparse.ArgumentParser(prog="python -m syncer.docs", description=__doc__)
    parser.add_argument("--check", action="store_true", help="exit 1 if README.md is stale instead of rewriting it")
    check = parser.parse_args(argv).check
    current = README.read_text(encoding="utf-8")
    rendered = render_readme(current)
    if rendered == current:
        return
    if check:
        sys.exit("README.md is stale: its kinds or flags table differs from the code; run `make docs`")
    README.write_text(rendered, encoding="utf-8")


if __name__ == "__main__":
    main()
