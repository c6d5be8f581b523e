"""Host names must match vcluster's byte for byte (SPEC §3). Expectations are built by hand with hashlib, never by
calling the code under test, so a wrong formula cannot agree with itself."""

from __future__ import annotations

import hashlib

import pytest

from translators.names import (
    NameTranslator,
    cluster_host_name,
    host_name,
    leader_lease_name,
    safe_concat_name,
    sha10,
    token_secret_name,
)


def ref_sha10(s: str) -> str:
    return hashlib.sha256(s.encode("utf-8")).hexdigest()[:10]


def test_sha10_is_the_first_ten_hex_chars_of_sha256():
    assert sha10("") == "e3b0c44298"
    assert sha10("abc") == "ba7816bf8f"
    assert sha10("ünïcode") == ref_sha10("ünïcode")


def test_short_name_is_joined_with_x_separators():
    assert host_name("nginx", "default", "vcluster") == "nginx-x-default-x-vcluster"


def test_name_of_exactly_63_chars_is_not_hashed():
    name = "a" * 42
    expected = "a" * 42 + "-x-default-x-vcluster"
    assert len(expected) == 63
    assert host_name(name, "default", "vcluster") == expected


def test_name_of_64_chars_keeps_52_and_appends_hash_of_the_whole():
    full = "a" * 43 + "-x-default-x-vcluster"
    assert len(full) == 64
    assert host_name("a" * 43, "default", "vcluster") == "a" * 43 + "-x-defaul" + "-" + ref_sha10(full)


@pytest.mark.parametrize("length", [52, 63])
def test_single_part_up_to_63_chars_is_unchanged(length):
    assert safe_concat_name("p" * length) == "p" * length


@pytest.mark.parametrize("length", [64, 253])
def test_single_part_over_63_chars_is_hashed(length):
    assert safe_concat_name("p" * length) == "p" * 52 + "-" + ref_sha10("p" * length)


@pytest.mark.parametrize("length", [52, 63, 64, 253])
def test_long_pod_names_get_a_63_char_hashed_host_name(length):
    full = "p" * length + "-x-default-x-vcluster"
    result = host_name("p" * length, "default", "vcluster")
    assert result == "p" * 52 + "-" + ref_sha10(full)
    assert len(result) == 63


def test_max_length_name_in_max_length_namespace_matches_the_formula():
    full = "a" * 63 + "-x-" + "b" * 63 + "-x-vcluster"
    assert host_name("a" * 63, "b" * 63, "vcluster") == "a" * 52 + "-" + ref_sha10(full)


def test_dot_at_the_cut_is_collapsed_into_the_hash_separator():
    name = "a" * 51 + "." + "b" * 20
    full = name + "-x-default-x-vcluster"
    result = host_name(name, "default", "vcluster")
    assert result == "a" * 51 + "-" + ref_sha10(full)
    assert ".-" not in result
    assert len(result) == 62


def test_every_dot_dash_in_a_truncated_name_is_collapsed():
    result = safe_concat_name("web.", "a" * 70)
    assert result == "web-" + "a" * 47 + "-" + ref_sha10("web.-" + "a" * 70)


def test_dots_away_from_the_cut_are_kept():
    name = "app.example.com" + "b" * 60
    full = name + "-x-default-x-vcluster"
    assert host_name(name, "default", "vcluster") == "app.example.com" + "b" * 37 + "-" + ref_sha10(full)


def test_dot_dash_is_kept_when_no_truncation_happens():
    assert host_name("web.", "default", "vcluster") == "web.-x-default-x-vcluster"


@pytest.mark.parametrize("filler", ["a", "a.", ".", "a.b-"])
def test_host_names_never_exceed_63_chars(filler):
    for length in range(1, 300):
        name = (filler * length)[:length]
        assert len(host_name(name, "n" * 63, "s" * 63)) <= 63
        assert len(safe_concat_name(name)) <= 63


def test_empty_name_gives_no_host_name():
    with pytest.raises(ValueError):
        host_name("", "default", "vcluster")
    with pytest.raises(ValueError):
        cluster_host_name("", "team-a", "vcluster")


def test_cluster_scoped_name_includes_target_namespace_and_suffix():
    assert cluster_host_name("high", "team-a", "vc") == "vcluster-high-x-team-a-x-vc"
    full = "vcluster-" + "c" * 60 + "-x-team-a-x-vc"
    assert cluster_host_name("c" * 60, "team-a", "vc") == "vcluster-" + "c" * 43 + "-" + ref_sha10(full)


def test_leader_lease_name():
    assert leader_lease_name("vcluster") == "vcluster-vcluster-controller"
    full = "vcluster-" + "s" * 63 + "-controller"
    assert leader_lease_name("s" * 63) == "vcluster-" + "s" * 43 + "-" + ref_sha10(full)


def test_token_secret_name_is_the_host_name_of_pod_sa_token():
    assert token_secret_name("web-0", "default", "vc") == "web-0-sa-token-x-default-x-vc"


def test_translator_places_namespaced_objects_in_the_target_namespace():
    names = NameTranslator("vc", "host-ns")
    assert names.to_host("default", "web") == ("host-ns", "web-x-default-x-vc")


def test_translator_gives_cluster_scoped_objects_no_namespace():
    names = NameTranslator("vc", "host-ns")
    assert names.to_host(None, "high") == (None, "vcluster-high-x-host-ns-x-vc")
    assert names.to_host("", "high") == (None, "vcluster-high-x-host-ns-x-vc")


def test_translator_rejects_an_empty_name():
    with pytest.raises(ValueError):
        NameTranslator("vc", "host-ns").to_host("default", "")


def test_managed_by_value_is_suffix_or_target_namespace_and_suffix():
    names = NameTranslator("vc", "host-ns")
    assert names.managed_by_value(cluster_scoped=False) == "vc"
    assert names.managed_by_value(cluster_scoped=True) == "host-ns-x-vc"
    long = NameTranslator("s" * 40, "t" * 40)
    full = "t" * 40 + "-x-" + "s" * 40
    assert long.managed_by_value(cluster_scoped=True) == "t" * 40 + "-x-" + "s" * 9 + "-" + ref_sha10(full)


def test_reverse_lookup_reads_the_object_annotations():
    names = NameTranslator("vc", "host-ns")
    host = {
        "metadata": {
            "name": "whatever",
            "annotations": {"vcluster.loft.sh/object-name": "web", "vcluster.loft.sh/object-namespace": "default"},
        }
    }
    assert names.to_virtual(host) == ("default", "web")


def test_reverse_lookup_of_a_cluster_scoped_object_has_no_namespace():
    names = NameTranslator("vc", "host-ns")
    host = {
        "metadata": {"name": "vcluster-high-x-host-ns-x-vc", "annotations": {"vcluster.loft.sh/object-name": "high"}}
    }
    assert names.to_virtual(host) == (None, "high")


def test_reverse_lookup_never_parses_host_names():
    names = NameTranslator("vc", "host-ns")
    assert names.to_virtual({"metadata": {"name": "web-x-default-x-vc", "namespace": "host-ns"}}) is None
    assert names.to_virtual({"metadata": {"name": "web-x-default-x-vc", "annotations": {}}}) is None
    assert names.to_virtual({}) is None
