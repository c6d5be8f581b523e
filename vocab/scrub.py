"""Host names out of messages a tenant will read: this object's host name becomes its virtual name, any other
host-style name (`<name>-x-<namespace>-x-<vcluster>`) a placeholder."""

from __future__ import annotations

import functools
import re

_HOST_NAME = re.compile(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?-x-[-a-z0-9.]*[a-z0-9]")


def scrub(message: str, host_name: str, virtual_name: str, target_namespace: str) -> str:
    """Replace this object's host name by its virtual name, then any other host-style name by a placeholder."""
    # Split on the own name first so a virtual name that itself contains "-x-" is not then taken for a host name.
    parts = _own(host_name, target_namespace).split(message) if host_name else [message]
    return virtual_name.join(_HOST_NAME.sub("<host object>", part) for part in parts)


@functools.lru_cache(maxsize=1024)
def _own(host_name: str, target_namespace: str) -> re.Pattern[str]:
    return re.compile("|".join(re.escape(name) for name in (f"{target_namespace}/{host_name}", host_name)))
