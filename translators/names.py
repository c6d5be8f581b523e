"""Host names for virtual objects (SPEC §3). Every name the syncer writes on the host is made here, so the 63-character
limit and the hashing match vcluster exactly, and the reverse mapping reads annotations instead of parsing names."""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from typing import Any

from translators.markers import OBJECT_NAME, OBJECT_NAMESPACE

MAX_NAME_LENGTH = 63
_KEPT_ON_TRUNCATION = 52


def sha10(s: str) -> str:
    """First 10 lowercase hex characters of SHA-256 over the UTF-8 bytes of `s`."""
    return hashlib.sha256(s.encode("utf-8")).hexdigest()[:10]


@functools.lru_cache(maxsize=8192)  # asked dozens of times per pod over its life
def safe_concat_name(*parts: str) -> str:
    """SCN: join with "-"; past 63 characters keep 52, add "-" and the hash of the whole join, then ".-" becomes "-"."""
    full = "-".join(parts)
    if len(full) <= MAX_NAME_LENGTH:
        return full
    return f"{full[:_KEPT_ON_TRUNCATION]}-{sha10(full)}".replace(".-", "-")


def host_name(name: str, namespace: str, suffix: str) -> str:
    """H(name, ns): the name of a namespaced object's host copy in the target namespace."""
    _require_name(name)
    return safe_concat_name(name, "x", namespace, "x", suffix)


def cluster_host_name(name: str, target_namespace: str, suffix: str) -> str:
    """HC(name): the host name of a cluster-scoped object, unique per target namespace and suffix."""
    _require_name(name)
    return safe_concat_name("vcluster", name, "x", target_namespace, "x", suffix)


def leader_lease_name(suffix: str) -> str:
    return safe_concat_name("vcluster", suffix, "controller")


def token_secret_name(pod: str, namespace: str, suffix: str) -> str:
    return host_name(f"{pod}-sa-token", namespace, suffix)


def _require_name(name: str) -> None:
    if not name:
        raise ValueError("an object without a name has no host copy")


@dataclass(frozen=True)
class NameTranslator:
    """The one virtual <-> host name mapping (SPEC §3). Callers never build host names themselves, so a
    multi-namespace mode [W2] only has to replace this class."""

    suffix: str
    target_namespace: str

    def to_host(self, namespace: str | None, name: str) -> tuple[str | None, str]:
        """(host namespace, host name); a None or empty namespace means cluster-scoped, which has no host namespace.
        Raises ValueError for an empty name."""
        if not namespace:
            return None, cluster_host_name(name, self.target_namespace, self.suffix)
        return self.target_namespace, host_name(name, namespace, self.suffix)

    def managed_by_value(self, cluster_scoped: bool) -> str:
        if cluster_scoped:
            return safe_concat_name(self.target_namespace, "x", self.suffix)
        return self.suffix

    def to_virtual(self, host_obj: dict[str, Any]) -> tuple[str | None, str] | None:
        """(virtual namespace or None, virtual name) from the object-namespace/object-name annotations, or None when
        the object names no virtual twin. Names are never parsed. Whether the object is managed is not checked here."""
        annotations = (host_obj.get("metadata") or {}).get("annotations") or {}
        name = annotations.get(OBJECT_NAME)
        if not name:
            return None
        return annotations.get(OBJECT_NAMESPACE) or None, name
