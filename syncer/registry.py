"""Every kind vcsync can sync, by its --sync name. Adding a kind is one translator module plus one line here."""

from __future__ import annotations

from translators import configmaps, secrets
from translators.kind import KindSpec

KINDS: tuple[KindSpec, ...] = (
    configmaps.KIND,
    secrets.KIND,
)


def enabled(names: frozenset[str]) -> list[KindSpec]:
    return [spec for spec in KINDS if spec.name in names]
