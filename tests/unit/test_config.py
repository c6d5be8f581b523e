"""`vcsync run` configuration (SPEC §11, §2): which source wins, how each source spells values, every refusal with the
input it names, the own-namespace order, and that the README table is generated from the same flag table."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import yaml

from syncer.config import (
    FLAGS,
    Config,
    ConfigError,
    flags_markdown_table,
    load_config,
    run_parser,
)
from syncer.kinds import DEFAULT_KINDS

REQUIRED = ["--virtual-kubeconfig=/virtual.kubeconfig", "--own-namespace=vc-ns"]
NO_SA_FILE = "/nonexistent/vcsync-test/namespace"


def load(*argv: str, env: dict[str, str] | None = None, sa_file: str | Path = NO_SA_FILE) -> Config:
    return load_config([*REQUIRED, *argv], env or {}, sa_namespace_file=str(sa_file))


def error(*argv: str, env: dict[str, str] | None = None, required: bool = True) -> str:
    with pytest.raises(ConfigError) as raised:
        load_config([*REQUIRED, *argv] if required else list(argv), env or {}, sa_namespace_file=NO_SA_FILE)
    return str(raised.value)


def config_file(tmp_path: Path, content: dict) -> str:
    path = tmp_path / "vcsync.yaml"
    path.write_text(yaml.safe_dump(content))
    return str(path)


def kubeconfig(tmp_path: Path, namespace: str | None) -> str:
    context = {"cluster": "c", "user": "u"} | ({"namespace": namespace} if namespace else {})
    document = {
        "current-context": "mine",
        "contexts": [{"name": "other", "context": {"namespace": "wrong"}}, {"name": "mine", "context": context}],
    }
    path = tmp_path / "host.kubeconfig"
    path.write_text(yaml.safe_dump(document))
    return str(path)


# --- sources and precedence ---


def test_defaults_apply_when_nothing_sets_a_flag():
    config = load()
    assert (config.name, config.service_name, config.workers, config.cluster_domain) == (
        "vcluster",
        "vcluster",
        10,
        "cluster.local",
    )
    assert (config.lease_duration, config.renew_deadline, config.retry_period) == (15.0, 10.0, 2.0)
    assert (config.request_timeout, config.watch_idle_timeout, config.shutdown_timeout) == (30.0, 150.0, 20.0)
    assert (config.fake_node_lease_duration, config.fake_node_status_interval) == (40.0, 60.0)
    assert (config.host_qps, config.host_burst, config.virtual_qps, config.virtual_burst) == (100.0, 200, 1000.0, 2000)
    assert (config.metrics_bind_address, config.health_bind_address) == (":8080", ":8081")
    assert (config.log_format, config.log_level, config.pod_security_standard) == ("json", "info", "baseline")
    assert config.set_owner and config.enforce_node_selector and not config.dry_run and not config.leader_elect
    assert config.translate_image == () and config.sync == DEFAULT_KINDS


def test_flag_beats_env_beats_file_beats_default(tmp_path):
    path = config_file(tmp_path, {"workers": 3, "log-level": "debug", "host-qps": 5, "cluster-domain": "file.local"})
    env = {"VCSYNC_CONFIG": path, "VCSYNC_WORKERS": "4", "VCSYNC_LOG_LEVEL": "warning", "VCSYNC_HOST_QPS": "6"}
    config = load("--workers=5", env=env)
    assert config.workers == 5
    assert config.log_level == "warning"
    assert config.host_qps == 6.0
    assert config.cluster_domain == "file.local"
    assert config.virtual_qps == 1000.0


def test_config_flag_beats_config_env(tmp_path):
    path = config_file(tmp_path, {"name": "from-flag-file"})
    assert load(f"--config={path}", env={"VCSYNC_CONFIG": "/nonexistent.yaml"}).name == "from-flag-file"


def test_list_from_higher_source_replaces_the_lower_one(tmp_path):
    path = config_file(tmp_path, {"translate-image": ["a=b", "c=d"]})
    assert load(f"--config={path}", env={"VCSYNC_TRANSLATE_IMAGE": "e=f"}).translate_image == ("e=f",)
    assert load(f"--config={path}", "--translate-image=g=h").translate_image == ("g=h",)


def test_empty_env_list_clears_the_file_list(tmp_path):
    path = config_file(tmp_path, {"endpoints-allowed-cidrs": ["10.0.0.0/8"]})
    assert load(f"--config={path}", env={"VCSYNC_ENDPOINTS_ALLOWED_CIDRS": ""}).endpoints_allowed_cidrs == ()


def test_env_list_is_comma_separated_and_trimmed():
    config = load(env={"VCSYNC_ENFORCE_TOLERATION": "a=b:NoSchedule, c ,"})
    assert config.enforce_toleration == ("a=b:NoSchedule", "c")


def test_repeated_list_flag_accumulates_and_splits_commas():
    assert load("--translate-image=a=b,c=d", "--translate-image", "e=f").translate_image == ("a=b", "c=d", "e=f")


def test_yaml_lists_are_read_as_lists(tmp_path):
    path = config_file(
        tmp_path, {"sync": ["ingresses", "-events"], "endpoints-allowed-cidrs": ["10.0.0.0/8", "fd00::/8"]}
    )
    config = load(f"--config={path}")
    assert {"ingresses", "ingressclasses"} <= config.sync and "events" not in config.sync
    assert config.endpoints_allowed_cidrs == ("10.0.0.0/8", "fd00::/8")


def test_yaml_list_key_given_a_string_is_refused(tmp_path):
    path = config_file(tmp_path, {"translate-image": "a=b"})
    assert error(f"--config={path}") == f"translate-image in config file {path} must be a YAML list"


def test_yaml_scalars_are_read_like_their_text(tmp_path):
    path = config_file(tmp_path, {"metrics-bind-address": 0, "dry-run": True, "workers": 7, "lease-duration": 20})
    config = load(f"--config={path}")
    assert (config.metrics_bind_address, config.dry_run, config.workers, config.lease_duration) == ("0", True, 7, 20.0)


def test_yaml_mapping_as_a_value_is_refused(tmp_path):
    path = config_file(tmp_path, {"name": {"a": 1}})
    assert error(f"--config={path}").startswith(f"name in config file {path}: expected a single value")


def test_empty_config_file_sets_nothing(tmp_path):
    path = tmp_path / "empty.yaml"
    path.write_text("")
    assert load(f"--config={path}").workers == 10


def test_missing_config_file_is_named():
    assert error("--config=/nonexistent/vcsync.yaml") == (
        "cannot read config file /nonexistent/vcsync.yaml: No such file or directory"
    )


def test_config_file_with_broken_yaml_is_named(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("name: [unclosed\n")
    assert error(f"--config={path}").startswith(f"config file {path} is not valid YAML")


def test_config_file_that_is_not_a_mapping_is_refused(tmp_path):
    path = tmp_path / "list.yaml"
    path.write_text("- name\n")
    assert error(f"--config={path}") == f"config file {path} must be a YAML mapping of flag names to values"


def test_config_file_is_read_through_the_injected_reader():
    files = {"/etc/vcsync.yaml": "name: injected\n"}
    config = load_config(
        [*REQUIRED, "--config=/etc/vcsync.yaml"], {}, read_file=files.__getitem__, sa_namespace_file="x"
    )
    assert config.name == "injected"


# --- flag syntax ---


def test_kube_config_is_an_alias_of_virtual_kubeconfig():
    config = load_config(["--kube-config", "/v.kubeconfig", "--own-namespace=ns"], {}, sa_namespace_file=NO_SA_FILE)
    assert config.virtual_kubeconfig == "/v.kubeconfig"


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        ([], False),
        (["--dry-run"], True),
        (["--dry-run=true"], True),
        (["--dry-run=false"], False),
        (["--dry-run=1"], True),
    ],
)
def test_bool_flag_forms_follow_pflag(argv, expected):
    assert load(*argv).dry_run is expected


def test_bool_flag_with_default_true_can_be_turned_off():
    assert load("--enforce-node-selector=false").enforce_node_selector is False


@pytest.mark.parametrize(("text", "expected"), [("true", True), ("False", False), ("0", False), ("T", True)])
def test_bool_env_values(text, expected):
    assert load(env={"VCSYNC_LEADER_ELECT": text}).leader_elect is expected


def test_bare_bool_flag_does_not_take_the_next_word():
    assert error("--dry-run", "false").startswith("unexpected argument 'false'")


def test_bad_bool_value_is_named():
    assert error(env={"VCSYNC_DRY_RUN": "maybe"}) == "VCSYNC_DRY_RUN: 'maybe' is not a boolean (true or false)"


def test_value_starting_with_a_dash_is_taken_by_the_flag_before_it():
    assert "events" not in load("--sync", "-events").sync


def test_flag_without_its_value_is_named():
    assert error("--name") == "--name needs a value"


def test_bad_integer_is_named():
    assert error("--workers=ten") == "--workers: 'ten' is not an integer"


def test_bad_number_is_named():
    assert error(env={"VCSYNC_HOST_QPS": "fast"}) == "VCSYNC_HOST_QPS: 'fast' is not a number"


@pytest.mark.parametrize("argv", [["--workers=0"], ["--host-burst=-1"], ["--virtual-qps=0"]])
def test_counts_and_rates_must_be_positive(argv):
    assert "is not a positive number" in error(*argv)


def test_abbreviated_flag_is_unknown():
    assert error("--work=3") == "unknown flag --work"


@pytest.mark.parametrize("flag", ["--sync-labels=a", "--service-account-token-secrets", "-v", "--help"])
def test_unknown_flags_are_refused(flag):
    assert error(flag) == f"unknown flag {flag.partition('=')[0]}"


def test_unknown_config_file_key_is_refused(tmp_path):
    path = config_file(tmp_path, {"plugins": ["x"]})
    assert error(f"--config={path}") == f"unknown key plugins in config file {path}"


def test_config_key_inside_the_config_file_is_refused(tmp_path):
    path = config_file(tmp_path, {"config": "/other.yaml"})
    assert error(f"--config={path}") == f"unknown key config in config file {path}"


def test_unrelated_vcsync_env_variables_are_ignored():
    assert load(env={"VCSYNC_ASSETS": "/opt/assets", "VCSYNC_CACHE": "/tmp"}).name == "vcluster"


# --- later-wave options ---


@pytest.mark.parametrize(
    "flag",
    [
        "--multi-namespace-mode",
        "--namespace-labels=a=b",
        "--enable-scheduler",
        "--reserved-resource-cpu=1",
        "--override-hosts",
        "--override-hosts-container-image=busybox",
        "--mount-physical-host-paths",
        "--map-host-service=a/b=c/d",
        "--map-virtual-service=a/b=c/d",
        "--proxy-metrics-server",
    ],
)
def test_later_wave_flags_are_not_implemented_yet(flag):
    assert error(flag) == f"{flag.partition('=')[0]} is not implemented yet"


def test_later_wave_env_variable_is_not_implemented_yet():
    assert error(env={"VCSYNC_MULTI_NAMESPACE_MODE": "true"}) == "VCSYNC_MULTI_NAMESPACE_MODE is not implemented yet"


def test_later_wave_config_key_is_not_implemented_yet(tmp_path):
    path = config_file(tmp_path, {"reserved-resource-memory": "1Gi"})
    assert error(f"--config={path}") == f"reserved-resource-memory in config file {path} is not implemented yet"


# --- kubelet endpoint ---


def test_kubelet_endpoint_defaults_to_port_10250_advertised_on_loopback():
    config = load()
    assert (config.kubelet_bind_address, config.kubelet_address) == (":10250", "127.0.0.1")


def test_kubelet_address_must_be_an_ip():
    assert error("--kubelet-address=vcsync.local") == "--kubelet-address: 'vcsync.local' is not an IP address"


def test_kubelet_serving_certificate_needs_its_key():
    assert error("--kubelet-tls-cert-file=/tls.crt") == (
        "--kubelet-tls-cert-file and --kubelet-tls-private-key-file must be given together"
    )


# --- durations ---


def test_duration_flag_accepts_go_style_and_plain_seconds():
    config = load("--request-timeout=1m30s", env={"VCSYNC_SHUTDOWN_TIMEOUT": "25", "VCSYNC_WATCH_IDLE_TIMEOUT": "5s"})
    assert (config.request_timeout, config.shutdown_timeout, config.watch_idle_timeout) == (90.0, 25.0, 5.0)


def test_zero_duration_is_refused():
    assert error("--shutdown-timeout=0s") == "--shutdown-timeout: 0 is not a positive number"


# --- validation ---


@pytest.mark.parametrize("name", ["Vcluster", "-vc", "vc_1", "a" * 64, ""])
def test_name_must_be_a_dns_label_of_63_characters_or_fewer(name):
    assert error(f"--name={name}").startswith(f"--name: {name!r} is not a DNS-1123 label")


def test_name_of_63_characters_is_fine():
    assert load("--name=" + "a" * 63).name == "a" * 63


def test_lease_duration_must_exceed_renew_deadline():
    assert error("--lease-duration=10s") == "--lease-duration (10s) must be longer than --renew-deadline (10s)"


def test_renew_deadline_must_exceed_1_2_times_retry_period():
    assert error("--renew-deadline=2.4", "--retry-period=2") == (
        "--renew-deadline (2.4s) must be longer than 1.2 times --retry-period (2s)"
    )
    assert load("--renew-deadline=2.5", "--retry-period=2").renew_deadline == 2.5


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["--pod-security-standard=strict"],
            "--pod-security-standard: 'strict' is not one of privileged, baseline, restricted",
        ),
        (["--log-format=text"], "--log-format: 'text' is not one of json, console"),
        (["--log-level=warn"], "--log-level: 'warn' is not one of debug, info, warning, error"),
    ],
)
def test_enumerated_flags_name_their_choices(argv, message):
    assert error(*argv) == message


@pytest.mark.parametrize("standard", ["privileged", "baseline", "restricted"])
def test_every_pod_security_standard_is_accepted(standard):
    assert load(f"--pod-security-standard={standard}").pod_security_standard == standard


def test_node_selector_flag_keeps_its_text():
    assert load("--node-selector=pool=a,disk=ssd").node_selector == "pool=a,disk=ssd"


@pytest.mark.parametrize("selector", ["pool!=a", "pool in (a,b)", "!pool", "pool", "pool==a", "pool notin (a)"])
def test_node_selector_expressions_are_refused(selector):
    assert "selector expressions are not supported" in error(f"--node-selector={selector}")


def test_node_selector_with_an_invalid_label_value_is_refused():
    assert error("--node-selector=pool=a b") == "--node-selector: 'a b' is not a valid label value"


@pytest.mark.parametrize(
    "entry", ["*", "dedicated", "dedicated=gpu", "dedicated:NoExecute", "example.com/team=a:PreferNoSchedule"]
)
def test_enforced_toleration_flag_keeps_its_entries(entry):
    assert load(f"--enforce-toleration={entry}").enforce_toleration == (entry,)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("key:Sometimes", "'key:Sometimes' has taint effect 'Sometimes'"),
        ("=value", "'' is not a valid label key"),
        ("bad key", "'bad key' is not a valid label key"),
        ("*:NoSchedule", "'*' is not a valid label key"),
    ],
)
def test_malformed_tolerations_are_refused(entry, message):
    assert error(f"--enforce-toleration={entry}").startswith(f"--enforce-toleration: {message}")


@pytest.mark.parametrize("entry", ["nginx", "=nginx:1", "nginx=", "a=b=c", "a b=c"])
def test_translate_image_entries_must_be_from_equals_to(entry):
    assert error(f"--translate-image={entry}") == f"--translate-image: {entry!r} is not a from=to image mapping"


def test_translate_image_keeps_registry_ports_and_tags():
    assert load("--translate-image=nginx:1=registry:5000/nginx:1").translate_image == ("nginx:1=registry:5000/nginx:1",)


@pytest.mark.parametrize("cidr", ["10.0.0.0/8", "192.168.1.7/32", "fd00::/8", "10.1.2.3"])
def test_valid_cidrs_are_accepted(cidr):
    assert load(f"--endpoints-allowed-cidrs={cidr}").endpoints_allowed_cidrs == (cidr,)


@pytest.mark.parametrize("cidr", ["10.0.0.0/33", "ten/8", "10.0.0/8"])
def test_invalid_cidrs_are_refused(cidr):
    assert (
        error(f"--endpoints-allowed-cidrs={cidr}")
        == f"--endpoints-allowed-cidrs: {cidr!r} is not a CIDR like 10.0.0.0/8"
    )


@pytest.mark.parametrize("text", [":8080", "127.0.0.1:9090", "[::1]:80", "0"])
def test_bind_address_flags_keep_their_text(text):
    assert load(f"--metrics-bind-address={text}").metrics_bind_address == text


@pytest.mark.parametrize("text", ["8080", ":0", ":65536", "localhost:8080", "1.2.3.4", ":http", ""])
def test_bad_bind_addresses_are_refused(text):
    assert error(f"--health-bind-address={text}") == (
        f"--health-bind-address: {text!r} is not a bind address like :8080, 127.0.0.1:8080 or 0"
    )


def test_virtual_kubeconfig_is_required():
    assert error("--own-namespace=ns", required=False).startswith("--virtual-kubeconfig (or --kube-config")


@pytest.mark.parametrize("service", ["kube-dns", "kube-system/", "Kube-System/kube-dns"])
def test_dns_service_must_be_namespace_slash_name(service):
    assert error(f"--dns-service={service}") == f"--dns-service: {service!r} is not a namespace/name Service reference"


# --- --sync through the sources ---


def test_sync_flag_repeats_and_takes_comma_lists():
    sync = load("--sync=networkpolicies,-events", "--sync", "+priorityclasses").sync
    assert sync == DEFAULT_KINDS - {"events"} | {"networkpolicies", "priorityclasses"}


def test_sync_from_env_is_a_comma_list():
    assert load(env={"VCSYNC_SYNC": "nodes,-secrets"}).sync == DEFAULT_KINDS - {"fake-nodes", "secrets"} | {"nodes"}


def test_sync_error_names_the_source_it_came_from():
    assert error(env={"VCSYNC_SYNC": "volumesnapshots"}) == "VCSYNC_SYNC: kind volumesnapshots is not implemented yet"
    assert error("--sync=deployments").startswith("--sync: unknown kind deployments; valid kinds: ")


def test_sync_all_nodes_needs_nodes():
    assert error("--sync-all-nodes") == "--sync-all-nodes needs the nodes kind; add nodes to --sync"
    assert load("--sync-all-nodes", "--sync=nodes").sync_all_nodes is True


# --- own namespace, target namespace, service name ---


def test_own_namespace_flag_beats_every_other_source(tmp_path):
    sa_file = tmp_path / "namespace"
    sa_file.write_text("from-file")
    argv = ["--virtual-kubeconfig=/v", "--own-namespace=from-flag", f"--host-kubeconfig={kubeconfig(tmp_path, 'ctx')}"]
    config = load_config(argv, {"POD_NAMESPACE": "from-pod"}, sa_namespace_file=str(sa_file))
    assert config.own_namespace == "from-flag"


def test_own_namespace_env_variable_counts_as_the_flag():
    config = load_config(
        ["--kube-config=/v"], {"VCSYNC_OWN_NAMESPACE": "mine", "POD_NAMESPACE": "pod"}, sa_namespace_file=NO_SA_FILE
    )
    assert config.own_namespace == "mine"


def test_pod_namespace_beats_the_service_account_file(tmp_path):
    sa_file = tmp_path / "namespace"
    sa_file.write_text("from-file")
    config = load_config(["--kube-config=/v"], {"POD_NAMESPACE": "from-pod"}, sa_namespace_file=str(sa_file))
    assert config.own_namespace == "from-pod"


def test_service_account_file_beats_the_host_kubeconfig(tmp_path):
    sa_file = tmp_path / "namespace"
    sa_file.write_text("from-file\n")
    argv = ["--kube-config=/v", f"--host-kubeconfig={kubeconfig(tmp_path, 'ctx')}"]
    assert load_config(argv, {}, sa_namespace_file=str(sa_file)).own_namespace == "from-file"


def test_host_kubeconfig_current_context_namespace_comes_last(tmp_path):
    argv = ["--kube-config=/v", f"--host-kubeconfig={kubeconfig(tmp_path, 'ctx')}"]
    assert load_config(argv, {}, sa_namespace_file=str(tmp_path / "missing")).own_namespace == "ctx"


def test_current_context_without_a_namespace_leaves_the_own_namespace_unknown(tmp_path):
    argv = ["--kube-config=/v", f"--host-kubeconfig={kubeconfig(tmp_path, None)}"]
    with pytest.raises(ConfigError, match=r"^cannot tell the own namespace: set --own-namespace or POD_NAMESPACE"):
        load_config(argv, {}, sa_namespace_file=str(tmp_path / "missing"))


def test_no_source_for_the_own_namespace_is_a_clear_error():
    assert error("--kube-config=/v", required=False).startswith("cannot tell the own namespace")


def test_unreadable_host_kubeconfig_is_named(tmp_path):
    argv = ["--kube-config=/v", "--host-kubeconfig=/nonexistent/host.kubeconfig"]
    with pytest.raises(ConfigError, match=r"^cannot read --host-kubeconfig /nonexistent/host\.kubeconfig"):
        load_config(argv, {}, sa_namespace_file=str(tmp_path / "missing"))


def test_invalid_own_namespace_names_where_it_came_from():
    config_error = error("--kube-config=/v", env={"POD_NAMESPACE": "Bad_NS"}, required=False)
    assert config_error.startswith("POD_NAMESPACE: 'Bad_NS' is not a DNS-1123 label")


def test_target_namespace_defaults_to_own_namespace_and_keeps_owner_references():
    config = load()
    assert (config.own_namespace, config.target_namespace, config.set_owner) == ("vc-ns", "vc-ns", True)


def test_other_target_namespace_turns_owner_references_off():
    config = load("--target-namespace=workloads")
    assert (config.own_namespace, config.target_namespace, config.set_owner) == ("vc-ns", "workloads", False)


def test_invalid_target_namespace_is_named():
    assert error("--target-namespace=No").startswith("--target-namespace: 'No' is not a DNS-1123 label")


def test_service_name_defaults_to_name_and_can_be_set():
    assert load("--name=tenant-a").service_name == "tenant-a"
    assert load("--name=tenant-a", "--service-name=api").service_name == "api"


# --- the table everything derives from ---


def test_config_has_one_attribute_per_flag_in_table_order():
    assert [field.name for field in dataclasses.fields(Config)] == [flag.attr for flag in FLAGS]


def test_env_var_names_derive_from_flag_names():
    assert {flag.name: flag.env_var for flag in FLAGS}["fake-node-lease-duration"] == "VCSYNC_FAKE_NODE_LEASE_DURATION"


def test_markdown_table_lists_every_flag_with_its_env_var():
    rows = flags_markdown_table().splitlines()
    assert rows[0] == "| flag | env var | default | meaning |"
    assert len(rows) == len(FLAGS) + 2
    for flag, row in zip(FLAGS, rows[2:], strict=True):
        assert row.startswith(f"| `{flag.option}`") and f"| `{flag.env_var}` |" in row
    assert "`--virtual-kubeconfig` / `--kube-config`" in rows[2 + [f.name for f in FLAGS].index("virtual-kubeconfig")]


def test_markdown_table_shows_defaults():
    table = flags_markdown_table()
    assert "| `--fake-node-lease-duration` | `VCSYNC_FAKE_NODE_LEASE_DURATION` | `40s` |" in table
    assert "| `--set-owner` | `VCSYNC_SET_OWNER` | `true` |" in table


def test_help_text_names_each_env_var():
    help_text = run_parser().format_help()
    assert all(flag.env_var in help_text.replace("\n", " ").replace(" ", "") for flag in FLAGS)
