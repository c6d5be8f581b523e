"""Pod Security Standard checks (SPEC §8.1) for a virtual pod, run before any host pod exists. The host namespace may
enforce nothing, so this is the tenant's guard; it follows the upstream "latest" policy and words its details like
Kubernetes' own admission messages, so a refused pod reads the same as one the API server would reject.

Two points follow latest Kubernetes beyond the SPEC's list, since the SPEC asks for the latest version of each level and
the project follows Kubernetes where the two differ: the baseline rule hostProbesAndHostLifecycle (Kubernetes v1.34+,
KEP-4940), which also applies at restricted, and `image` volumes, which upstream's restricted allow-list admits."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

Obj = dict[str, Any]
Check = Callable[[Obj], str | None]  # the pod -> the violation's detail, or None when the pod complies

LEVELS = ("privileged", "baseline", "restricted")

_BASELINE_CAPABILITIES = frozenset(
    {
        "AUDIT_WRITE",
        "CHOWN",
        "DAC_OVERRIDE",
        "FOWNER",
        "FSETID",
        "KILL",
        "MKNOD",
        "NET_BIND_SERVICE",
        "SETFCAP",
        "SETGID",
        "SETPCAP",
        "SETUID",
        "SYS_CHROOT",
    }
)
_RESTRICTED_CAPABILITIES = frozenset({"NET_BIND_SERVICE"})
_SAFE_SYSCTLS = frozenset(
    {
        "kernel.shm_rmid_forced",
        "net.ipv4.ip_local_port_range",
        "net.ipv4.ip_local_reserved_ports",
        "net.ipv4.ip_unprivileged_port_start",
        "net.ipv4.ping_group_range",
        "net.ipv4.tcp_fin_timeout",
        "net.ipv4.tcp_keepalive_intvl",
        "net.ipv4.tcp_keepalive_probes",
        "net.ipv4.tcp_keepalive_time",
        "net.ipv4.tcp_rmem",
        "net.ipv4.tcp_syncookies",
        "net.ipv4.tcp_wmem",
    }
)
_SELINUX_TYPES = frozenset({"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"})
_CONFINING_PROFILES = frozenset({"RuntimeDefault", "Localhost"})  # appArmorProfile and restricted seccompProfile
# The SPEC's eight types plus `image`, which upstream's restricted allow-list admits (latest Kubernetes, beyond SPEC).
_RESTRICTED_VOLUME_TYPES = frozenset(
    {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected", "secret"}
) | {"image"}
_PROBES = ("livenessProbe", "readinessProbe", "startupProbe")
_LIFECYCLE_HANDLERS = ("postStart", "preStop")
_HOST_ACTIONS = ("httpGet", "tcpSocket")  # tcpSocket lifecycle handlers are deprecated, but upstream still checks them
_APPARMOR_ANNOTATION_PREFIX = "container.apparmor.security.beta.kubernetes.io/"


@dataclass(frozen=True)
class Violation:
    rule: str
    detail: str


def check_pod(pod: Obj, level: str) -> list[Violation]:
    """Every rule of `level` the pod breaks, in rule order; [] when it complies. Unknown levels raise ValueError."""
    if level not in _RULES:
        raise ValueError(f"unknown Pod Security level {level!r}; expected one of {', '.join(LEVELS)}")
    return [Violation(rule, detail) for rule, check in _RULES[level] if (detail := check(pod))]


def refusal_message(level: str, violations: list[Violation]) -> str:
    """The SyncError text. Several violations share one prefix and are joined with "; " (details use ", " inside)."""
    if not violations:
        raise ValueError("a refusal needs at least one violation")
    reasons = "; ".join(f"{violation.rule}: {violation.detail}" for violation in violations)
    return f'violates PodSecurity "{level}:latest": {reasons}'


# ---- pod access ---------------------------------------------------------------------------------------------------
def _spec(pod: Obj) -> Obj:
    return pod.get("spec") or {}


def _field(obj: Obj, name: str) -> Obj:
    return obj.get(name) or {}


def _containers(pod: Obj) -> Iterator[Obj]:
    """Init, regular and ephemeral containers, in the order Kubernetes reports them."""
    for kind in ("initContainers", "containers", "ephemeralContainers"):
        yield from _spec(pod).get(kind) or ()


def _in_user_namespace(pod: Obj) -> bool:
    """Root in a user namespace is an unprivileged host user, so upstream exempts these pods from runAsNonRoot,
    runAsUser and (at baseline only) procMount."""
    return _spec(pod).get("hostUsers") is False


def _is_windows(pod: Obj) -> bool:
    """Upstream exempts Windows pods from the Linux-only allowPrivilegeEscalation, seccompProfile_restricted and
    capabilities_restricted rules."""
    return _field(_spec(pod), "os").get("name") == "windows"


# ---- message pieces -----------------------------------------------------------------------------------------------
def _quote(values: Iterable[Any]) -> str:
    return ", ".join(json.dumps(str(value)) for value in values)


def _plural(count: int, one: str, many: str) -> str:
    return one if count == 1 else many


def _containers_phrase(names: list[str]) -> str:
    return f"{_plural(len(names), 'container', 'containers')} {_quote(names)}"


def _containers_where(pod: Obj, predicate: Callable[[Obj], bool]) -> list[str]:
    """Names of the containers whose securityContext satisfies `predicate`."""
    return [
        container.get("name", "") for container in _containers(pod) if predicate(_field(container, "securityContext"))
    ]


def _offenders(pod: Obj, offences: Callable[[Obj], list[str]]) -> tuple[str, list[str]]:
    """Who sets forbidden values (`pod and containers "a", "b"`, or "" for nobody) and those values, first seen first.
    `offences` maps one securityContext, the pod's or a container's, to its forbidden values."""
    setters: list[str] = []
    values: dict[str, None] = {}
    if found := offences(_field(_spec(pod), "securityContext")):
        setters.append("pod")
        values.update(dict.fromkeys(found))
    names = []
    for container in _containers(pod):
        if found := offences(_field(container, "securityContext")):
            names.append(container.get("name", ""))
            values.update(dict.fromkeys(found))
    if names:
        setters.append(_containers_phrase(names))
    return " and ".join(setters), list(values)


def _setters(pod: Obj, forbidden: Callable[[Obj], bool]) -> str:
    """Who (pod, containers) has a securityContext for which `forbidden` holds; "" for nobody."""
    return _offenders(pod, lambda context: ["set"] if forbidden(context) else [])[0]


def _non_confining_profile(field: str) -> Callable[[Obj], list[str]]:
    """Offences of a securityContext whose `field` profile is set to anything but RuntimeDefault or Localhost."""

    def offences(context: Obj) -> list[str]:
        profile = context.get(field)
        if profile is None or profile.get("type", "") in _CONFINING_PROFILES:
            return []
        return [profile.get("type", "")]

    return offences


def _added_capabilities(pod: Obj, allowed: frozenset[str]) -> tuple[list[str], list[str]]:
    """Containers adding capabilities outside `allowed`, and those capabilities (sorted)."""
    names, added = [], set()
    for container in _containers(pod):
        extra = {
            cap
            for cap in _field(_field(container, "securityContext"), "capabilities").get("add") or ()
            if cap not in allowed
        }
        if extra:
            names.append(container.get("name", ""))
            added |= extra
    return names, sorted(added)


def _volume_types(volume: Obj) -> list[str]:
    """The volume source fields that are set; "unknown" when none is."""
    return [key for key, value in volume.items() if key != "name" and value is not None] or ["unknown"]


# ---- baseline -----------------------------------------------------------------------------------------------------
def _host_process(pod: Obj) -> str | None:
    setters = _setters(pod, lambda context: _field(context, "windowsOptions").get("hostProcess") is True)
    return f"{setters} must not set securityContext.windowsOptions.hostProcess=true" if setters else None


def _host_namespaces(pod: Obj) -> str | None:
    shared = [f"{flag}=true" for flag in ("hostNetwork", "hostPID", "hostIPC") if _spec(pod).get(flag) is True]
    return ", ".join(shared) or None


def _privileged(pod: Obj) -> str | None:
    names = _containers_where(pod, lambda context: context.get("privileged") is True)
    return f"{_containers_phrase(names)} must not set securityContext.privileged=true" if names else None


def _capabilities_added_beyond(pod: Obj, allowed: frozenset[str]) -> str | None:
    names, added = _added_capabilities(pod, allowed)
    return (
        f"{_containers_phrase(names)} must not include {_quote(added)} in securityContext.capabilities.add"
        if names
        else None
    )


def _capabilities_baseline(pod: Obj) -> str | None:
    return _capabilities_added_beyond(pod, _BASELINE_CAPABILITIES)


def _host_path_volumes(pod: Obj) -> str | None:
    names = [volume.get("name", "") for volume in _spec(pod).get("volumes") or () if volume.get("hostPath") is not None]
    return f"{_plural(len(names), 'volume', 'volumes')} {_quote(names)}" if names else None


def _host_ports(pod: Obj) -> str | None:
    names, ports = [], set()
    for container in _containers(pod):
        used = {port["hostPort"] for port in container.get("ports") or () if port.get("hostPort")}
        if used:
            names.append(container.get("name", ""))
            ports |= used
    if not names:
        return None
    verb = _plural(len(names), "uses", "use")
    noun = _plural(len(ports), "hostPort", "hostPorts")
    return f"{_containers_phrase(names)} {verb} {noun} {', '.join(str(port) for port in sorted(ports))}"


def _probe_and_lifecycle_hosts(container: Obj) -> list[str]:
    """The non-empty `host` values of the container's probes' and lifecycle handlers' httpGet and tcpSocket actions."""
    lifecycle = _field(container, "lifecycle")
    handlers = [_field(container, probe) for probe in _PROBES]
    handlers += [_field(lifecycle, handler) for handler in _LIFECYCLE_HANDLERS]
    return [
        str(host) for handler in handlers for action in _HOST_ACTIONS if (host := _field(handler, action).get("host"))
    ]


def _host_probes_and_host_lifecycle(pod: Obj) -> str | None:
    """Latest Kubernetes (v1.34+, KEP-4940), beyond the SPEC's list: a probe or lifecycle handler aimed at another host
    makes the kubelet reach it from the node. Like upstream, containers and hosts are each listed once, sorted."""
    names: set[str] = set()
    hosts: set[str] = set()
    for container in _containers(pod):
        if found := _probe_and_lifecycle_hosts(container):
            names.add(container.get("name", ""))
            hosts.update(found)
    if not names:
        return None
    verb = _plural(len(names), "uses", "use")
    noun = _plural(len(hosts), "probe or lifecycle host", "probe or lifecycle hosts")
    return f"{_containers_phrase(sorted(names))} {verb} {noun} {_quote(sorted(hosts))}"


def _allowed_apparmor_annotation(value: str) -> bool:
    return value in ("", "runtime/default") or value.startswith("localhost/")


def _app_armor_profile(pod: Obj) -> str | None:
    setters, types = _offenders(pod, _non_confining_profile("appArmorProfile"))
    parts = [f"{setters} must not set AppArmor profile type to {_quote(sorted(types))}"] if setters else []
    annotations = _field(pod, "metadata").get("annotations") or {}
    parts += sorted(
        f"{key}={json.dumps(value)}"
        for key, value in annotations.items()
        if key.startswith(_APPARMOR_ANNOTATION_PREFIX) and not _allowed_apparmor_annotation(value)
    )
    return ", ".join(parts) or None


def _selinux_offences(context: Obj) -> list[str]:
    options = _field(context, "seLinuxOptions")
    offences = [f"type {json.dumps(options.get('type', ''))}"] if options.get("type", "") not in _SELINUX_TYPES else []
    return offences + [f"{key} may not be set" for key in ("user", "role") if options.get(key)]


def _selinux_options(pod: Obj) -> str | None:
    setters, offences = _offenders(pod, _selinux_offences)
    return f"{setters} set forbidden securityContext.seLinuxOptions: {', '.join(offences)}" if setters else None


def _proc_mount(pod: Obj) -> str | None:
    mounts = {
        container.get("name", ""): _field(container, "securityContext").get("procMount")
        for container in _containers(pod)
    }
    unmasked = {name: mount for name, mount in mounts.items() if mount not in (None, "Default")}
    if not unmasked:
        return None
    values = _quote(sorted(set(unmasked.values())))
    return f"{_containers_phrase(list(unmasked))} must not set securityContext.procMount to {values}"


def _proc_mount_outside_user_namespace(pod: Obj) -> str | None:
    return None if _in_user_namespace(pod) else _proc_mount(pod)


def _seccomp_unconfined(pod: Obj) -> str | None:
    setters = _setters(pod, lambda context: _field(context, "seccompProfile").get("type") == "Unconfined")
    return f'{setters} must not set securityContext.seccompProfile.type to "Unconfined"' if setters else None


def _sysctls(pod: Obj) -> str | None:
    sysctls = _field(_spec(pod), "securityContext").get("sysctls") or ()
    return ", ".join(sysctl.get("name", "") for sysctl in sysctls if sysctl.get("name") not in _SAFE_SYSCTLS) or None


# ---- restricted ---------------------------------------------------------------------------------------------------
def _restricted_volumes(pod: Obj) -> str | None:
    names, types = [], set()
    for volume in _spec(pod).get("volumes") or ():
        forbidden = {kind for kind in _volume_types(volume) if kind not in _RESTRICTED_VOLUME_TYPES}
        if forbidden:
            names.append(volume.get("name", ""))
            types |= forbidden
    if not names:
        return None
    verb = _plural(len(names), "uses", "use")
    noun = _plural(len(types), "restricted volume type", "restricted volume types")
    return f"{_plural(len(names), 'volume', 'volumes')} {_quote(names)} {verb} {noun} {_quote(sorted(types))}"


def _allow_privilege_escalation(pod: Obj) -> str | None:
    if _is_windows(pod):
        return None
    names = _containers_where(pod, lambda context: context.get("allowPrivilegeEscalation") is not False)
    return f"{_containers_phrase(names)} must set securityContext.allowPrivilegeEscalation=false" if names else None


def _run_as_non_root(pod: Obj) -> str | None:
    if _in_user_namespace(pod):
        return None
    setters = _setters(pod, lambda context: context.get("runAsNonRoot") is False)
    if setters:
        return f"{setters} must not set securityContext.runAsNonRoot=false"
    if _field(_spec(pod), "securityContext").get("runAsNonRoot") is True:
        return None
    unset = _containers_where(pod, lambda context: context.get("runAsNonRoot") is None)
    return f"pod or {_containers_phrase(unset)} must set securityContext.runAsNonRoot=true" if unset else None


def _run_as_user(pod: Obj) -> str | None:
    if _in_user_namespace(pod):
        return None
    setters = _setters(pod, lambda context: context.get("runAsUser") == 0)
    return f"{setters} must not set runAsUser=0" if setters else None


def _seccomp_required(pod: Obj) -> str | None:
    if _is_windows(pod):
        return None
    setters, types = _offenders(pod, _non_confining_profile("seccompProfile"))
    if setters:
        return f"{setters} must not set securityContext.seccompProfile.type to {_quote(sorted(types))}"
    if _field(_spec(pod), "securityContext").get("seccompProfile") is not None:
        return None
    unset = _containers_where(pod, lambda context: context.get("seccompProfile") is None)
    required = '"RuntimeDefault" or "Localhost"'
    return (
        f"pod or {_containers_phrase(unset)} must set securityContext.seccompProfile.type to {required}"
        if unset
        else None
    )


def _capabilities_restricted(pod: Obj) -> str | None:
    if _is_windows(pod):
        return None
    keeping = _containers_where(pod, lambda context: "ALL" not in (_field(context, "capabilities").get("drop") or ()))
    parts = [f'{_containers_phrase(keeping)} must set securityContext.capabilities.drop=["ALL"]'] if keeping else []
    if added := _capabilities_added_beyond(pod, _RESTRICTED_CAPABILITIES):
        parts.append(added)
    return ", ".join(parts) or None


_BASELINE: tuple[tuple[str, Check], ...] = (
    ("hostProcess", _host_process),
    ("hostNamespaces", _host_namespaces),
    ("privileged", _privileged),
    ("capabilities_baseline", _capabilities_baseline),
    ("hostPathVolumes", _host_path_volumes),
    ("hostPorts", _host_ports),
    ("hostProbesAndHostLifecycle", _host_probes_and_host_lifecycle),  # latest Kubernetes, beyond the SPEC's list
    ("appArmorProfile", _app_armor_profile),
    ("seLinuxOptions", _selinux_options),
    ("procMount", _proc_mount_outside_user_namespace),
    ("seccompProfile_baseline", _seccomp_unconfined),
    ("sysctls", _sysctls),
)
# At restricted each stricter rule stands in for the baseline rule it is keyed by, as upstream's overrides do, so a
# hostPath volume is reported once, as restrictedVolumes.
_RESTRICTED_REPLACEMENTS: dict[str, tuple[str, Check]] = {
    "capabilities_baseline": ("capabilities_restricted", _capabilities_restricted),
    "hostPathVolumes": ("restrictedVolumes", _restricted_volumes),
    "procMount": ("procMount", _proc_mount),
    "seccompProfile_baseline": ("seccompProfile_restricted", _seccomp_required),
}
_RESTRICTED_ONLY: tuple[tuple[str, Check], ...] = (
    ("allowPrivilegeEscalation", _allow_privilege_escalation),
    ("runAsNonRoot", _run_as_non_root),
    ("runAsUser", _run_as_user),
)
_RULES: dict[str, tuple[tuple[str, Check], ...]] = {
    "privileged": (),
    "baseline": _BASELINE,
    "restricted": tuple(_RESTRICTED_REPLACEMENTS.get(rule, (rule, check)) for rule, check in _BASELINE)
    + _RESTRICTED_ONLY,
}
