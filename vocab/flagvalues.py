"""The syntax of single flag values (durations, selectors, tolerations, addresses, names) as pure text -> value
functions that raise ValueError. Kept apart from the flag table and its sources so that code using a value at run time
parses it exactly as startup validated it, without pulling in the configuration machinery."""

from __future__ import annotations

import ipaddress
import math
import re
from collections.abc import Callable

TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")

_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_LABEL_NAME = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?")
_DURATION_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ms|h|m|s)")
_SECONDS = re.compile(r"[0-9]+(?:\.[0-9]+)?")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str) -> float:
    """`15s`, `1m`, `1m30s`, `500ms`, `1h` or plain seconds (`15`, `2.5`) as float seconds."""
    if _SECONDS.fullmatch(text):
        return float(text)
    if not re.fullmatch(f"(?:{_DURATION_PART.pattern})+", text):
        raise ValueError(f"{text!r} is not a duration like 15s, 1m30s, 500ms or a number of seconds")
    return sum(float(number) * _UNIT_SECONDS[unit] for number, unit in _DURATION_PART.findall(text))


def parse_node_selector(text: str) -> dict[str, str]:
    """`k=v,k2=v2` as a dict; set-based and inequality expressions are refused."""
    selector: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, equals, value = (part.strip() for part in item.partition("="))
        if not equals or key.endswith("!") or value.startswith("="):
            raise ValueError(f"{item!r} is not a key=value pair; selector expressions are not supported")
        selector[_check_label_key(key)] = _check_label_value(value)
    return selector


def parse_toleration(entry: str) -> dict[str, str]:
    """`key[=value][:Effect]` or `*` as a Kubernetes toleration: operator Equal with a value, Exists without one."""
    if entry == "*":
        return {"operator": "Exists"}
    head, colon, effect = entry.partition(":")
    if colon and effect not in TAINT_EFFECTS:
        raise ValueError(f"{entry!r} has taint effect {effect!r}, expected one of {', '.join(TAINT_EFFECTS)}")
    key, equals, value = head.partition("=")
    toleration = {"key": _check_label_key(key), "operator": "Equal" if equals else "Exists"}
    if equals:
        toleration["value"] = _check_label_value(value)
    if colon:
        toleration["effect"] = effect
    return toleration


def parse_image_rule(entry: str) -> tuple[str, str]:
    """`from=to` as the pair of exact image strings `--translate-image` maps between."""
    source, equals, target = entry.partition("=")
    if not (equals and source and target) or "=" in target or any(c.isspace() for c in entry):
        raise ValueError(f"{entry!r} is not a from=to image mapping")
    return source, target


def check_ip(text: str) -> str:
    """A single IPv4 or IPv6 address."""
    try:
        ipaddress.ip_address(text)
    except ValueError:
        raise ValueError(f"{text!r} is not an IP address") from None
    return text


def parse_bind_address(text: str) -> tuple[str, int] | None:
    """`:8080`, `127.0.0.1:8080` or `[::1]:8080` as (host, port), host "" meaning every interface; `0` (disabled) is
    None."""
    if text == "0":
        return None
    host, colon, port = text.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    try:
        if not (colon and re.fullmatch(r"[0-9]{1,5}", port) and 0 < int(port) < 65536):
            raise ValueError
        if host:
            ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"{text!r} is not a bind address like :8080, 127.0.0.1:8080 or 0") from None
    return host, int(port)


def parse_dns_service(text: str) -> tuple[str, str]:
    """`namespace/name` of the virtual DNS Service."""
    namespace, slash, name = text.partition("/")
    if not (slash and _DNS_LABEL.fullmatch(namespace) and _DNS_LABEL.fullmatch(name)):
        raise ValueError(f"{text!r} is not a namespace/name Service reference")
    return namespace, name


def check_dns_label(text: str) -> str:
    """`text` itself if it is a DNS-1123 label (namespace and vcluster names)."""
    if len(text) > 63 or not _DNS_LABEL.fullmatch(text):
        raise ValueError(
            f"{text!r} is not a DNS-1123 label (lower-case letters, digits and '-', at most 63 characters)"
        )
    return text


def check_cidr(text: str) -> None:
    try:
        ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise ValueError(f"{text!r} is not a CIDR like 10.0.0.0/8") from None


def check_positive(value: float) -> None:
    if not 0 < value < math.inf:
        raise ValueError(f"{value:g} is not a positive number")


def check_share(value: float) -> None:
    if not 0 < value <= 1:
        raise ValueError(f"{value:g} is not a share in (0, 1]")


def check_non_negative(value: int) -> None:
    if value < 0:
        raise ValueError(f"{value} is negative; expected 0 or more")


def check_image(text: str) -> None:
    """A container image reference: not empty, no whitespace (the registry checks the rest when pulling)."""
    if not text or any(c.isspace() for c in text):
        raise ValueError(f"{text!r} is not a container image reference")


def one_of(*allowed: str) -> Callable[[str], None]:
    """A check refusing any value but the `allowed` ones, naming them in its message."""

    def check(value: str) -> None:
        if value not in allowed:
            raise ValueError(f"{value!r} is not one of {', '.join(allowed)}")

    return check


def _check_label_key(key: str) -> str:
    prefix, slash, name = key.rpartition("/")
    bad_prefix = slash and (len(prefix) > 253 or not _DNS_SUBDOMAIN.fullmatch(prefix))
    if bad_prefix or len(name) > 63 or not _LABEL_NAME.fullmatch(name):
        raise ValueError(f"{key!r} is not a valid label key")
    return key


def _check_label_value(value: str) -> str:
    if value and (len(value) > 63 or not _LABEL_NAME.fullmatch(value)):
        raise ValueError(f"{value!r} is not a valid label value")
    return value
