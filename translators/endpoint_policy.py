"""Which endpoint addresses may reach the host (SPEC §8.3, CVE-2021-25740). A tenant writing Endpoints could
otherwise steer host Services at any host address, so only this vcluster's pod IPs and the operator's allowed
CIDRs pass; loopback, link-local and unspecified addresses never do, whatever the CIDRs say."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Container, Iterable, Sequence
from functools import lru_cache
from typing import Any, TypeVar

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
A = TypeVar("A")
SHOWN_IN_WARNING = 5


def _parse(ip: str) -> IPAddress | None:
    """The address, with an IPv4-mapped IPv6 address taken as the IPv4 one it carries; None if not an IP."""
    try:
        addr = ipaddress.ip_address(ip.strip())
    except ValueError:
        return None
    mapped = addr.ipv4_mapped if isinstance(addr, ipaddress.IPv6Address) else None
    return mapped or addr


@lru_cache(maxsize=16384)  # pod IP indexes ask on every pod event: one parse per IP, not a few dozen per pod
def canonical_ip(ip: str) -> str | None:
    """The one text form of `ip` that pod-IP sets and indexes hold, so "fd00::1" and "fd00:0::1" match."""
    addr = _parse(ip)
    return None if addr is None else str(addr)


@lru_cache(maxsize=16)
def _networks(cidrs: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(cidr, strict=False) for cidr in cidrs)


def address_allowed(ip: str, *, pod_ips: Container[str], allowed_cidrs: Sequence[str]) -> bool:
    """True if `ip` is a managed host pod's IP (`pod_ips` holds canonical forms) or lies in an allowed CIDR."""
    addr = _parse(ip)
    if addr is None or addr.is_loopback or addr.is_link_local or addr.is_unspecified:
        return False
    return str(addr) in pod_ips or any(addr in net for net in _networks(tuple(allowed_cidrs)))


def address_ip(address: Any) -> str:
    """The IP of an Endpoints address (`{"ip": ...}`)."""
    return address.get("ip") or ""


def filter_addresses(
    addresses: Iterable[A],
    *,
    pod_ips: Container[str],
    allowed_cidrs: Sequence[str],
    ip_of: Callable[[A], str] = address_ip,
) -> tuple[list[A], list[str]]:
    """(allowed addresses, IPs of the dropped ones). Addresses are Endpoints address dicts unless `ip_of` says
    otherwise (EndpointSlice addresses are plain strings: `ip_of=str`)."""
    kept: list[A] = []
    dropped: list[str] = []
    for address in addresses:
        ip = ip_of(address)
        if address_allowed(ip, pod_ips=pod_ips, allowed_cidrs=allowed_cidrs):
            kept.append(address)
        else:
            dropped.append(ip)
    return kept, dropped


def dropped_warning(dropped_ips: Sequence[str]) -> str:
    """The SyncWarning text: how many addresses were dropped, and the first few of them."""
    count = len(dropped_ips)
    shown = ", ".join(dropped_ips[:SHOWN_IN_WARNING])
    more = f" and {count - SHOWN_IN_WARNING} more" if count > SHOWN_IN_WARNING else ""
    noun = "address" if count == 1 else "addresses"
    return (
        f"dropped {count} endpoint {noun} that are neither pod IPs of this virtual cluster nor inside "
        f"--endpoints-allowed-cidrs: {shown}{more}"
    )
