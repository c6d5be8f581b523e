"""The kind names `--sync` knows and the rules (SPEC §11.2) that turn `kind`/`+kind`/`-kind` entries into the set of
enabled kinds. Kept apart from flag loading so controllers can import the names without the configuration machinery."""

from __future__ import annotations

from collections.abc import Iterable

DEFAULT_KINDS = frozenset(
    {
        "services",
        "configmaps",
        "secrets",
        "endpoints",
        "pods",
        "events",
        "persistentvolumeclaims",
        "fake-nodes",
        "fake-persistentvolumes",
    }
)
OPTIONAL_KINDS = frozenset(
    {
        "endpointslices",
        "ingresses",
        "ingressclasses",
        "nodes",
        "networkpolicies",
        "poddisruptionbudgets",
        "priorityclasses",
        "storageclasses",
        "hoststorageclasses",
        "serviceaccounts",
    }
)
LATER_KINDS = frozenset(
    {"persistentvolumes", "volumesnapshots", "csinodes", "csidrivers", "csistoragecapacities", "namespaces"}
)
VALID_KINDS = DEFAULT_KINDS | OPTIONAL_KINDS


class KindError(ValueError):
    """A `--sync` entry that names no kind this syncer can run, or a combination of kinds that cannot work together."""


def resolve_kinds(entries: Iterable[str]) -> frozenset[str]:
    """The enabled kinds for single `--sync` entries (`kind`, `+kind` or `-kind`; callers split comma lists), starting
    from the default set. Disables win over enables whatever their order."""
    enable, disable = _split_by_sign(entries)
    enabled = (DEFAULT_KINDS | enable) - disable
    if "ingresses" in enabled and "ingressclasses" not in disable:
        enabled |= {"ingressclasses"}
    if "nodes" in enabled:
        enabled -= {"fake-nodes"}
    if {"storageclasses", "hoststorageclasses"} <= enabled:
        raise KindError(
            "kinds storageclasses and hoststorageclasses cannot both be enabled, since one syncs virtual "
            "StorageClasses to the host and the other mirrors host ones into virtual"
        )
    return frozenset(enabled)


def _split_by_sign(entries: Iterable[str]) -> tuple[set[str], set[str]]:
    enable: set[str] = set()
    disable: set[str] = set()
    for entry in entries:
        kind = entry[1:] if entry.startswith(("+", "-")) else entry
        _require_known(kind)
        (disable if entry.startswith("-") else enable).add(kind)
    return enable, disable


def _require_known(kind: str) -> None:
    if kind in LATER_KINDS:
        raise KindError(f"kind {kind} is not implemented yet")
    if kind not in VALID_KINDS:
        raise KindError(f"unknown kind {kind}; valid kinds: {', '.join(sorted(VALID_KINDS))}")
