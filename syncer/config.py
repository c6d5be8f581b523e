"""Configuration for `vcsync run` (SPEC §11). One table of flags drives the command line, the VCSYNC_* environment,
the YAML file keys and the README table, so they cannot drift apart. Loading is pure: argv, env and a file reader go in,
and out comes a validated Config, or a ConfigError whose one sentence names the bad input (startup exits 2 on it)."""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple, NoReturn

import yaml

from syncer.kinds import KindError, resolve_kinds
from vocab.flagvalues import (
    check_cidr,
    check_dns_label,
    check_image,
    check_ip,
    check_non_negative,
    check_positive,
    check_share,
    one_of,
    parse_bind_address,
    parse_dns_service,
    parse_duration,
    parse_image_rule,
    parse_node_selector,
    parse_toleration,
)

SA_NAMESPACE_FILE = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"
LATER_OPTIONS = frozenset(
    {
        "multi-namespace-mode",
        "namespace-labels",
        "enable-scheduler",
        "override-hosts",
        "override-hosts-container-image",
        "mount-physical-host-paths",
        "map-host-service",
        "map-virtual-service",
        "proxy-metrics-server",
    }
)
LATER_OPTION_PREFIX = "reserved-resource-"
POD_SECURITY_STANDARDS = ("privileged", "baseline", "restricted")
LOG_FORMATS = ("json", "console")
LOG_LEVELS = ("debug", "info", "warning", "error")
COREDNS_IMAGE = "registry.k8s.io/coredns/coredns:v1.14.2"  # what kubeadm of Kubernetes v1.36 deploys


class ConfigError(Exception):
    """Invalid configuration input; the message is one sentence naming it."""


@dataclass(frozen=True)
class Flag:
    """One `vcsync run` option. Its environment variable, YAML key, argparse argument and README row derive from it."""

    name: str
    type: type
    default: Any
    help: str
    is_list: bool = False
    is_duration: bool = False
    check: Callable[[Any], object] | None = None
    shown_default: str = ""
    aliases: tuple[str, ...] = ()

    @property
    def option(self) -> str:
        return f"--{self.name}"

    @property
    def env_var(self) -> str:
        return "VCSYNC_" + self.name.upper().replace("-", "_")

    @property
    def attr(self) -> str:
        return self.name.replace("-", "_")


def _str(name: str, default: str, help: str, **more: Any) -> Flag:
    return Flag(name, str, default, help, **more)


def _bool(name: str, default: bool, help: str) -> Flag:
    return Flag(name, bool, default, help)


def _num(name: str, type_: type, default: float, help: str) -> Flag:
    return Flag(name, type_, type_(default), help, check=check_positive)


def _dur(name: str, seconds: float, help: str) -> Flag:
    return Flag(name, float, float(seconds), help, is_duration=True, check=check_positive)


def _list(name: str, help: str, check: Callable[[str], object] | None = None, shown_default: str = "") -> Flag:
    return Flag(name, str, (), help, is_list=True, check=check, shown_default=shown_default)


FLAGS: tuple[Flag, ...] = (
    _str("name", "vcluster", "S, the vcluster name used in all host names and markers", check=check_dns_label),
    _str(
        "target-namespace", "", "T, the host namespace receiving all namespaced objects", shown_default="own namespace"
    ),
    _str(
        "own-namespace",
        "",
        "namespace of the syncer pod, the vcluster Service and the leader Lease",
        shown_default="POD_NAMESPACE, else the in-cluster service-account file, else the host kubeconfig's context",
    ),
    _str("service-name", "", "vcluster host Service (KUBERNETES_* IP, owner references)", shown_default="= --name"),
    _str(
        "virtual-kubeconfig", "", "virtual API server credentials", shown_default="required", aliases=("--kube-config",)
    ),
    _str("host-kubeconfig", "", "host credentials; empty means in-cluster"),
    _str("config", "", "YAML config file; keys are flag names without dashes, lists are YAML lists"),
    _list("sync", "kinds to sync: kind or +kind enables, -kind disables (SPEC 11.2)", shown_default="default set"),
    _bool("sync-all-configmaps", False, "sync every ConfigMap, not only those pods use"),
    _bool("sync-all-secrets", False, "sync every Secret, not only those pods use"),
    _bool("set-owner", True, "owner references to the vcluster Service (only when T is the own namespace)"),
    _str("service-account", "", "host ServiceAccount for pods"),
    _str("cluster-domain", "cluster.local", "DNS domain"),
    _str("dns-service", "kube-system/kube-dns", "virtual DNS Service whose IP pods use", check=parse_dns_service),
    _bool(
        "coredns",
        False,
        "keep a CoreDNS in the virtual cluster (Deployment, Corefile, RBAC and the --dns-service Service), applied "
        "server-side; leave off when the tenant brings its own DNS",
    ),
    _str("coredns-image", COREDNS_IMAGE, "image of the --coredns Deployment", check=check_image),
    Flag("coredns-replicas", int, 1, "replicas of the --coredns Deployment (0 or more)", check=check_non_negative),
    _list("translate-image", "from=to exact image map", parse_image_rule),
    _list("enforce-toleration", "key[=value][:Effect], or * to tolerate all; added to every pod", parse_toleration),
    _bool("sync-all-nodes", False, "real node mode: sync every node"),
    _str(
        "node-selector", "", "k=v,... node filter and pod nodeSelector; expressions rejected", check=parse_node_selector
    ),
    _bool("enforce-node-selector", True, "merge --node-selector into pods"),
    _bool("node-clear-image-status", False, "empty status.images of synced nodes"),
    _dur("fake-node-lease-duration", 40, "fake node Lease duration"),
    _dur("fake-node-status-interval", 60, "fake node status heartbeat interval"),
    _str(
        "pod-security-standard",
        "baseline",
        "Pod Security Standard level pods must meet: " + ", ".join(POD_SECURITY_STANDARDS),
        check=one_of(*POD_SECURITY_STANDARDS),
    ),
    _bool("allow-external-ips", False, "copy Service externalIPs down"),
    _list("endpoints-allowed-cidrs", "extra CIDRs allowed in endpoints", check_cidr),
    # measured (bench/results): at 100 pods/s, QPS 40 -> 100 cuts create p99 from 6.1 s to 4.5 s; beyond, CPU-bound
    _num("host-qps", float, 100, "host client rate limit (requests per second)"),
    _num("host-burst", int, 200, "host client burst"),
    _num("virtual-qps", float, 1000, "virtual client rate limit (requests per second)"),
    _num("virtual-burst", int, 2000, "virtual client burst"),
    _num("workers", int, 10, "workers per kind"),
    _dur("request-timeout", 30, "timeout of non-watch API requests"),
    # measured on v1.36: bookmarks come on one-minute ticks, but only once the kind's watch cache has passed the
    # version the watch began at, so on a quiet kind the first one can take two ticks (up to 122 s seen); 150 s sits
    # between the second and third tick
    _dur(
        "watch-idle-timeout",
        150,
        "the longest a watch may deliver nothing (no event, no bookmark) before vcsync drops its connection and "
        "watches again from its last resourceVersion; a healthy watch gets a bookmark every one or two minutes",
    ),
    _dur("shutdown-timeout", 20, "time to finish in-flight work on SIGTERM"),
    Flag(
        "mass-deletion-share",
        float,
        0.5,
        "pause the deletion of host objects whose virtual objects vanished unseen (in a re-list, or while vcsync was "
        "down) when they are more than this share of a kind's host objects (1 turns the valve off)",
        check=check_share,
    ),
    Flag(
        "mass-deletion-minimum",
        int,
        20,
        "the valve of --mass-deletion-share acts only on more than this many objects of a kind",
        check=check_non_negative,
    ),
    _bool("leader-elect", False, "Lease leader election; required with more than one replica"),
    _dur("lease-duration", 15, "leader Lease duration; must exceed --renew-deadline"),
    _dur("renew-deadline", 10, "leader renew deadline; must exceed 1.2 times --retry-period"),
    _dur("retry-period", 2, "leader election retry period"),
    _str("metrics-bind-address", ":8080", "/metrics address; 0 disables", check=parse_bind_address),
    _str("health-bind-address", ":8081", "/healthz and /readyz address; 0 disables", check=parse_bind_address),
    _str(
        "kubelet-bind-address",
        ":10250",
        "the virtual nodes' kubelet endpoint (logs, exec, attach, port-forward); 0 disables",
        check=parse_bind_address,
    ),
    _str(
        "kubelet-address",
        "127.0.0.1",
        "IP that vcsync's nodes advertise as InternalIP; the virtual API server must reach it",
        check=check_ip,
    ),
    _str(
        "kubelet-egress-socket",
        "",
        "unix socket for the virtual API server's egress selector (HTTP CONNECT): nodes keep their host node's IP "
        "and node paths (/pods) are served",
    ),
    _str(
        "kubelet-apiserver-user",
        "",
        "user of the virtual API server's kubelet client certificate; bound to system:kubelet-api-admin in the virtual "
        "cluster when missing",
    ),
    _bool(
        "kubelet-node-services",
        False,
        "one host Service per fake node in the own namespace, its ClusterIP the node's InternalIP, so pods (a tenant's "
        "metrics-server) can reach the node's kubelet",
    ),
    _bool(
        "kubelet-node-stats",
        False,
        "serve /stats/summary, /metrics/resource and /metrics/cadvisor from the host node, this vcluster's pods only; "
        "needs the host's nodes/proxy",
    ),
    _str("kubelet-tls-cert-file", "", "kubelet serving certificate (PEM)", shown_default="self-signed"),
    _str("kubelet-tls-private-key-file", "", "key of --kubelet-tls-cert-file (PEM)"),
    _str(
        "kubelet-client-ca-file",
        "",
        "CA that signs the virtual API server's kubelet client certificate",
        shown_default="client-ca-file of the virtual kube-system/extension-apiserver-authentication",
    ),
    _str("log-format", "json", "log format: " + ", ".join(LOG_FORMATS), check=one_of(*LOG_FORMATS)),
    _str("log-level", "info", "log level: " + ", ".join(LOG_LEVELS), check=one_of(*LOG_LEVELS)),
    _bool("dry-run", False, "compute and log every write, make none and take no lease"),
)
_BY_NAME = {flag.name: flag for flag in FLAGS}
_BY_OPTION = {option: flag for flag in FLAGS for option in (flag.option, *flag.aliases)}
_FILE_KEYS = {name: flag for name, flag in _BY_NAME.items() if name != "config"}
_EXPECTED = {bool: "a boolean (true or false)", int: "an integer", float: "a number"}


@dataclass(frozen=True)
class Config:
    """Validated settings of `vcsync run`: one attribute per flag, durations in float seconds, lists as tuples. `sync`
    holds the enabled kinds; the namespaces and service name are resolved; `set_owner` is false unless T is the own
    namespace."""

    name: str
    target_namespace: str
    own_namespace: str
    service_name: str
    virtual_kubeconfig: str
    host_kubeconfig: str
    config: str
    sync: frozenset[str]
    sync_all_configmaps: bool
    sync_all_secrets: bool
    set_owner: bool
    service_account: str
    cluster_domain: str
    dns_service: str
    coredns: bool
    coredns_image: str
    coredns_replicas: int
    translate_image: tuple[str, ...]
    enforce_toleration: tuple[str, ...]
    sync_all_nodes: bool
    node_selector: str
    enforce_node_selector: bool
    node_clear_image_status: bool
    fake_node_lease_duration: float
    fake_node_status_interval: float
    pod_security_standard: str
    allow_external_ips: bool
    endpoints_allowed_cidrs: tuple[str, ...]
    host_qps: float
    host_burst: int
    virtual_qps: float
    virtual_burst: int
    workers: int
    request_timeout: float
    watch_idle_timeout: float
    shutdown_timeout: float
    mass_deletion_share: float
    mass_deletion_minimum: int
    leader_elect: bool
    lease_duration: float
    renew_deadline: float
    retry_period: float
    metrics_bind_address: str
    health_bind_address: str
    kubelet_bind_address: str
    kubelet_address: str
    kubelet_egress_socket: str
    kubelet_apiserver_user: str
    kubelet_node_services: bool
    kubelet_node_stats: bool
    kubelet_tls_cert_file: str
    kubelet_tls_private_key_file: str
    kubelet_client_ca_file: str
    log_format: str
    log_level: str
    dry_run: bool

    @property
    def kubelet_endpoint(self) -> tuple[str | None, int] | None:
        """(address, port) that vcsync's nodes advertise for their kubelet; None when the endpoint is disabled. The
        address is None through the egress socket: then each node keeps its host node's IP."""
        bind = parse_bind_address(self.kubelet_bind_address)
        if bind is None:
            return None
        return (None if self.kubelet_egress_socket else self.kubelet_address), bind[1]


class _Setting(NamedTuple):
    value: Any
    where: str  # the source, as the user would name it in a fix


def _read_text(path: str) -> str:
    return Path(path).read_text(encoding="utf-8")


def load_config(
    argv: Sequence[str],
    env: Mapping[str, str],
    *,
    read_file: Callable[[str], str] = _read_text,
    sa_namespace_file: str = SA_NAMESPACE_FILE,
) -> Config:
    """Reads flags, then `VCSYNC_*` variables, then the `--config` file; the first source that sets a flag wins.
    `read_file` (config file, service-account namespace file, host kubeconfig) raises OSError for a missing file."""
    flags = _from_argv(argv)
    environment = _from_env(env)
    config_file = (_defaults() | environment | flags)["config"].value
    settings = _defaults() | (_from_file(config_file, read_file) if config_file else {}) | environment | flags
    return _build(settings, env, read_file, sa_namespace_file)


def run_parser() -> argparse.ArgumentParser:
    """The argparse view of FLAGS; `load_config` feeds it pflag-style arguments, and the CLI may print its help."""
    parser = _RaisingParser(prog="vcsync run", add_help=False, allow_abbrev=False)
    for flag in FLAGS:
        parser.add_argument(
            flag.option,
            *flag.aliases,
            dest=flag.name,
            default=argparse.SUPPRESS,
            action="append" if flag.is_list else "store",
            nargs="?" if flag.type is bool else None,  # only for the help text: values arrive attached with '='
            metavar="true|false" if flag.type is bool else flag.name.rpartition("-")[2].upper(),
            help=_help_text(flag),
        )
    return parser


def flags_markdown_table() -> str:
    """The README's flag table, generated so it is never copied by hand."""
    rows = ["| flag | env var | default | meaning |", "|---|---|---|---|"]
    for flag in FLAGS:
        options = " / ".join(f"`{option}`" for option in (flag.option, *flag.aliases))
        default = flag.shown_default or f"`{_default_text(flag)}`"
        rows.append(f"| {options} | `{flag.env_var}` | {default} | {flag.help} |")
    return "\n".join(rows) + "\n"


class _RaisingParser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise ConfigError(message)


def _help_text(flag: Flag) -> str:
    text = f"{flag.help} [{flag.env_var}; default {flag.shown_default or _default_text(flag)}]"
    return text.replace("%", "%%")  # argparse formats help with %


def _default_text(flag: Flag) -> str:
    if flag.is_list:
        return "[]"
    if flag.is_duration:
        return f"{flag.default:g}s"
    if flag.type is bool:
        return str(flag.default).lower()
    return str(flag.default) if flag.default != "" else '""'


def _defaults() -> dict[str, _Setting]:
    return {flag.name: _Setting(flag.default, "the default") for flag in FLAGS}


def _from_argv(argv: Sequence[str]) -> dict[str, _Setting]:
    parsed, extra = run_parser().parse_known_args(_attach_values(argv))
    if extra:
        raise ConfigError(_describe_extra(extra[0]))
    return {name: _setting(_BY_NAME[name], raw, f"--{name}") for name, raw in vars(parsed).items()}


def _attach_values(argv: Sequence[str]) -> list[str]:
    """Gives argparse pflag's rules: a bare boolean flag means true and never takes the next word, and any other flag
    takes the next word even when it starts with '-' (so `--sync -events` works)."""
    attached: list[str] = []
    words = iter(argv)
    for word in words:
        flag = _BY_OPTION.get(word)
        if flag is None:
            attached.append(word)
        elif flag.type is bool:
            attached.append(f"{word}=true")
        elif (value := next(words, None)) is None:
            raise ConfigError(f"{word} needs a value")
        else:
            attached.append(f"{word}={value}")
    return attached


def _describe_extra(word: str) -> str:
    if not word.startswith("-"):
        return f"unexpected argument {word!r}; vcsync run takes only flags (booleans as --flag=false)"
    option = word.partition("=")[0]
    return f"{option} is not implemented yet" if _is_later(option.lstrip("-")) else f"unknown flag {option}"


def _is_later(option: str) -> bool:
    return option in LATER_OPTIONS or option.startswith(LATER_OPTION_PREFIX)


def _from_env(env: Mapping[str, str]) -> dict[str, _Setting]:
    for key in env:
        if key.startswith("VCSYNC_") and _is_later(key.removeprefix("VCSYNC_").lower().replace("_", "-")):
            raise ConfigError(f"{key} is not implemented yet")
    return {flag.name: _setting(flag, env[flag.env_var], flag.env_var) for flag in FLAGS if flag.env_var in env}


def _from_file(path: str, read_file: Callable[[str], str]) -> dict[str, _Setting]:
    document = _read_yaml(path, read_file, f"config file {path}")
    if document is None:
        return {}
    if not isinstance(document, dict):
        raise ConfigError(f"config file {path} must be a YAML mapping of flag names to values")
    settings: dict[str, _Setting] = {}
    for key, value in document.items():
        where = f"{key} in config file {path}"
        flag = _FILE_KEYS.get(key)
        if flag is None:
            raise ConfigError(f"{where} is not implemented yet" if _is_later(str(key)) else f"unknown key {where}")
        if flag.is_list and not isinstance(value, list):
            raise ConfigError(f"{where} must be a YAML list")
        settings[flag.name] = _setting(flag, value, where)
    return settings


def _read_yaml(path: str, read_file: Callable[[str], str], what: str) -> Any:
    try:
        return yaml.safe_load(read_file(path))
    except (OSError, UnicodeError) as e:
        raise ConfigError(f"cannot read {what}: {getattr(e, 'strerror', None) or e}") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        raise ConfigError(f"{what} is not valid YAML{f' (line {mark.line + 1})' if mark else ''}") from None


def _setting(flag: Flag, raw: Any, where: str) -> _Setting:
    try:
        return _Setting(_convert(flag, raw), where)
    except ValueError as e:
        raise ConfigError(f"{where}: {e}") from None


def _convert(flag: Flag, raw: Any) -> Any:
    """Every source is parsed from text (YAML scalars are turned back into it), so all follow one set of rules."""
    if flag.is_list:
        words = (word.strip() for text in (raw if isinstance(raw, list) else [raw]) for word in _text(text).split(","))
        return tuple(_checked(flag, word) for word in words if word)
    return _checked(flag, parse_duration(_text(raw)) if flag.is_duration else _parse(flag.type, _text(raw)))


def _text(value: object) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str | int | float):
        return str(value)
    raise ValueError(f"expected a single value, got {value!r}")


def _parse(type_: type, text: str) -> Any:
    if type_ is bool and text.lower() in ("true", "t", "1", "false", "f", "0"):
        return text.lower() in ("true", "t", "1")
    if type_ is int and re.fullmatch(r"-?[0-9]+", text):
        return int(text)
    if type_ is float and re.fullmatch(r"-?[0-9]+(\.[0-9]+)?", text):
        return float(text)
    if type_ is str:
        return text
    raise ValueError(f"{text!r} is not {_EXPECTED[type_]}")


def _checked(flag: Flag, value: Any) -> Any:
    if flag.check:
        flag.check(value)
    return value


def _build(
    settings: dict[str, _Setting], env: Mapping[str, str], read_file: Callable[[str], str], sa_file: str
) -> Config:
    values = {name: setting.value for name, setting in settings.items()}
    if not values["virtual-kubeconfig"]:
        raise ConfigError("--virtual-kubeconfig (or --kube-config, VCSYNC_VIRTUAL_KUBECONFIG) is required")
    _check_leader_timing(values["lease-duration"], values["renew-deadline"], values["retry-period"])
    if bool(values["kubelet-tls-cert-file"]) != bool(values["kubelet-tls-private-key-file"]):
        raise ConfigError("--kubelet-tls-cert-file and --kubelet-tls-private-key-file must be given together")
    own = _own_namespace(settings["own-namespace"], values["host-kubeconfig"], env, read_file, sa_file)
    target = _label(settings["target-namespace"]) or own
    resolved = {
        "sync": _enabled_kinds(settings["sync"], values["sync-all-nodes"]),
        "own_namespace": own,
        "target_namespace": target,
        "service_name": _label(settings["service-name"]) or values["name"],
        "set_owner": values["set-owner"] and target == own,
    }
    return Config(**({flag.attr: values[flag.name] for flag in FLAGS} | resolved))


def _check_leader_timing(lease: float, renew: float, retry: float) -> None:
    if not lease > renew:
        raise ConfigError(f"--lease-duration ({lease:g}s) must be longer than --renew-deadline ({renew:g}s)")
    if not renew > 1.2 * retry:
        raise ConfigError(f"--renew-deadline ({renew:g}s) must be longer than 1.2 times --retry-period ({retry:g}s)")


def _enabled_kinds(sync: _Setting, sync_all_nodes: bool) -> frozenset[str]:
    try:
        kinds = resolve_kinds(sync.value)
    except KindError as e:
        raise ConfigError(f"{sync.where}: {e}") from None
    if sync_all_nodes and "nodes" not in kinds:
        raise ConfigError("--sync-all-nodes needs the nodes kind; add nodes to --sync")
    return kinds


def _label(setting: _Setting) -> str:
    """The setting's value if it is empty or a valid DNS-1123 label."""
    try:
        return setting.value and check_dns_label(setting.value)
    except ValueError as e:
        raise ConfigError(f"{setting.where}: {e}") from None


def _own_namespace(
    chosen: _Setting, host_kubeconfig: str, env: Mapping[str, str], read_file: Callable[[str], str], sa_file: str
) -> str:
    for candidate in _own_namespace_candidates(chosen, host_kubeconfig, env, read_file, sa_file):
        if candidate.value:
            return _label(candidate)
    raise ConfigError(
        "cannot tell the own namespace: set --own-namespace or POD_NAMESPACE, run in a pod, "
        "or give --host-kubeconfig a current context with a namespace"
    )


def _own_namespace_candidates(
    chosen: _Setting, host_kubeconfig: str, env: Mapping[str, str], read_file: Callable[[str], str], sa_file: str
) -> Iterator[_Setting]:
    """SPEC §2's order; lazy, so later sources are only read when earlier ones are empty."""
    yield chosen
    yield _Setting(env.get("POD_NAMESPACE", ""), "POD_NAMESPACE")
    yield _Setting(_read_if_present(sa_file, read_file).strip(), sa_file)
    if host_kubeconfig:
        where = f"the current context of --host-kubeconfig {host_kubeconfig}"
        yield _Setting(context_namespace(host_kubeconfig, read_file), where)


def _read_if_present(path: str, read_file: Callable[[str], str]) -> str:
    try:
        return read_file(path)
    except OSError:
        return ""


def context_namespace(path: str, read_file: Callable[[str], str]) -> str:
    document = _read_yaml(path, read_file, f"--host-kubeconfig {path}")
    document = document if isinstance(document, dict) else {}
    current = document.get("current-context")
    for entry in document.get("contexts") or []:
        if current and isinstance(entry, dict) and entry.get("name") == current:
            context = entry.get("context")
            return str(context.get("namespace") or "") if isinstance(context, dict) else ""
    return ""
