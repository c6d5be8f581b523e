"""Name resolution of host pods (SPEC §6.1.3): pods that would use cluster DNS must resolve through the virtual DNS
with the virtual namespace's search path, reach `kubernetes`, and keep a hostname derived from the virtual name."""

from __future__ import annotations

from translators.pod_dns import dns_fields, host_aliases, hostname, over_dns_limits

DNS_IP = "10.96.0.10"
SEARCHES = ["team-a.svc.cluster.local", "svc.cluster.local", "cluster.local"]


def test_default_policy_becomes_none_with_the_virtual_dns_config() -> None:
    assert dns_fields({}, "team-a", "cluster.local", DNS_IP) == {
        "dnsPolicy": "None",
        "dnsConfig": {"nameservers": [DNS_IP], "searches": SEARCHES, "options": [{"name": "ndots", "value": "5"}]},
    }


def test_cluster_first_with_host_net_is_rewritten_even_on_the_host_network() -> None:
    spec = {"dnsPolicy": "ClusterFirstWithHostNet", "hostNetwork": True}
    assert dns_fields(spec, "team-a", "cluster.local", DNS_IP)["dnsPolicy"] == "None"


def test_cluster_first_on_the_host_network_default_and_none_are_untouched() -> None:
    for spec in (
        {"dnsPolicy": "ClusterFirst", "hostNetwork": True},
        {"hostNetwork": True},
        {"dnsPolicy": "Default"},
        {"dnsPolicy": "None", "dnsConfig": {"nameservers": ["1.1.1.1"]}},
    ):
        assert dns_fields(spec, "team-a", "cluster.local", DNS_IP) == {}


def test_existing_dns_config_is_appended_deduplicated_and_keeps_its_own_ndots() -> None:
    spec = {
        "dnsPolicy": "ClusterFirst",
        "dnsConfig": {
            "nameservers": ["8.8.8.8", DNS_IP],
            "searches": ["corp.example", "svc.cluster.local"],
            "options": [{"name": "ndots", "value": "2"}, {"name": "edns0"}],
        },
    }
    assert dns_fields(spec, "team-a", "cluster.local", DNS_IP)["dnsConfig"] == {
        "nameservers": [DNS_IP, "8.8.8.8"],
        "searches": [*SEARCHES, "corp.example"],
        "options": [{"name": "ndots", "value": "2"}, {"name": "edns0"}],
    }


def test_ndots_is_added_after_other_existing_options() -> None:
    spec = {"dnsConfig": {"options": [{"name": "timeout", "value": "2"}]}}
    options = dns_fields(spec, "team-a", "cluster.local", DNS_IP)["dnsConfig"]["options"]
    assert options == [{"name": "timeout", "value": "2"}, {"name": "ndots", "value": "5"}]


def test_the_cluster_domain_shapes_the_search_path() -> None:
    searches = dns_fields({}, "web", "corp.internal", DNS_IP)["dnsConfig"]["searches"]
    assert searches == ["web.svc.corp.internal", "svc.corp.internal", "corp.internal"]


def test_host_aliases_append_kubernetes_names_for_the_vcluster_ip() -> None:
    spec = {"hostAliases": [{"ip": "10.0.0.5", "hostnames": ["db.local"]}]}
    assert host_aliases(spec, "10.96.0.1") == [
        {"ip": "10.0.0.5", "hostnames": ["db.local"]},
        {"ip": "10.96.0.1", "hostnames": ["kubernetes", "kubernetes.default", "kubernetes.default.svc"]},
    ]


def test_hostname_is_kept_when_set() -> None:
    assert hostname({"hostname": "db-0"}, "db-0.anything") == "db-0"


def test_hostname_is_the_pod_name_cut_to_63_with_dots_dashed_and_trailing_dashes_trimmed() -> None:
    assert hostname({}, "web.v1") == "web-v1"
    name = "a" * 61 + ".-b"  # the cut keeps "a"*61 + ".-", which becomes "a"*61 + "--", then trimmed
    assert hostname({}, name) == "a" * 61


def test_dns_entries_over_the_host_limits_are_told_in_the_tenants_terms():
    fits = {"dnsConfig": {"nameservers": ["10.0.0.10", "1.1.1.1", "8.8.8.8"], "searches": ["a"] * 32}}
    assert over_dns_limits(fits) is None and over_dns_limits({}) is None
    assert over_dns_limits({"dnsConfig": {"nameservers": ["1", "2", "3", "4"]}}) == (
        "with the virtual cluster's DNS added, the pod's dnsConfig has 4 nameservers; at most 3 are allowed"
    )
    assert "33 search paths; at most 32" in over_dns_limits({"dnsConfig": {"searches": ["a"] * 33}})
    assert "characters; at most 2048" in over_dns_limits({"dnsConfig": {"searches": ["s" * 250] * 9}})
