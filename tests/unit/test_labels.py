"""Label keys and selectors (SPEC §5): ordinary labels pass through, special keys are hashed so tenants cannot forge
markers or match the chart's `release` selector, and every translated selector only reaches this tenant's pods."""

from __future__ import annotations

import copy
import hashlib

from translators.labels import (
    is_special_label_key,
    ns_label_key,
    translate_label_key,
    translate_label_selector,
    translate_labels,
    translate_selector_map,
)


def ref_sha10(s: str) -> str:
    return hashlib.sha256(s.encode("utf-8")).hexdigest()[:10]


def lk(key: str, suffix: str = "vc") -> str:
    return f"vcluster.loft.sh/label-{suffix}-x-{ref_sha10(key)}"


TENANT = {"vcluster.loft.sh/managed-by": "vc", "vcluster.loft.sh/namespace": "default"}


def test_release_and_vcluster_keys_are_special():
    assert is_special_label_key("release")
    assert is_special_label_key("vcluster.loft.sh/managed-by")
    assert is_special_label_key("vcluster.loft.sh/anything")
    assert not is_special_label_key("app")
    assert not is_special_label_key("app.kubernetes.io/release")
    assert not is_special_label_key("loft.sh/x")


def test_ordinary_label_passes_through():
    assert translate_labels({"app": "web", "app.kubernetes.io/name": "web"}, "vc") == {
        "app": "web",
        "app.kubernetes.io/name": "web",
    }


def test_tenant_cannot_match_the_chart_release_selector():
    assert translate_labels({"release": "vc"}, "vc") == {lk("release"): "vc"}


def test_tenant_cannot_spoof_managed_by_label():
    translated = translate_labels({"vcluster.loft.sh/managed-by": "other", "vcluster.loft.sh/namespace": "kube"}, "vc")
    assert translated == {lk("vcluster.loft.sh/managed-by"): "other", lk("vcluster.loft.sh/namespace"): "kube"}


def test_controlled_by_and_other_vcluster_keys_are_hashed():
    assert translate_label_key("vcluster.loft.sh/controlled-by", "vc") == lk("vcluster.loft.sh/controlled-by")
    assert translate_label_key("vcluster.loft.sh/fake-node", "vc") == lk("vcluster.loft.sh/fake-node")


def test_cluster_scoped_hashed_key_includes_the_target_namespace():
    expected = f"vcluster.loft.sh/label-host-ns-x-vc-x-{ref_sha10('release')}"
    assert translate_label_key("release", "vc", target_namespace="host-ns") == expected


def test_hashed_key_with_a_long_suffix_is_truncated_and_hashed():
    suffix = "s" * 63
    full = f"vcluster.loft.sh/label-{suffix}-x-{ref_sha10('release')}"
    key = translate_label_key("release", suffix)
    assert key == full[:52] + "-" + ref_sha10(full)
    assert len(key) == 63


def test_label_values_are_copied_byte_exact():
    labels = {"app": "v" * 63, "release": "ünïcode"}
    assert list(translate_labels(labels, "vc").values()) == ["v" * 63, "ünïcode"]


def test_no_labels_translate_to_an_empty_map():
    assert translate_labels(None, "vc") == {}


def test_namespace_label_key_is_hashed_per_suffix():
    assert ns_label_key("team", "vc") == f"vcluster.loft.sh/ns-label-vc-x-{ref_sha10('team')}"


def test_service_without_selector_keeps_no_selector():
    assert translate_selector_map(None, "vc", "default") is None
    assert translate_selector_map({}, "vc", "default") is None


def test_service_selector_only_selects_this_tenants_pods_in_its_namespace():
    assert translate_selector_map({"app": "web", "release": "r"}, "vc", "default") == {
        "app": "web",
        lk("release"): "r",
        **TENANT,
    }


def test_tenant_selector_cannot_widen_to_another_vcluster():
    selector = {"vcluster.loft.sh/managed-by": "other", "vcluster.loft.sh/namespace": "kube-system"}
    translated = translate_selector_map(selector, "vc", "default")
    assert translated["vcluster.loft.sh/managed-by"] == "vc"
    assert translated["vcluster.loft.sh/namespace"] == "default"


def test_null_label_selector_still_selects_nothing():
    assert translate_label_selector(None, "vc", "default") is None


def test_empty_label_selector_selects_all_of_this_tenants_pods_in_the_namespace():
    assert translate_label_selector({}, "vc", "default") == {"matchLabels": TENANT}


def test_label_selector_maps_match_labels_and_expression_keys():
    selector = {
        "matchLabels": {"app": "web", "release": "r"},
        "matchExpressions": [
            {"key": "tier", "operator": "In", "values": ["a", "b"]},
            {"key": "vcluster.loft.sh/namespace", "operator": "Exists"},
        ],
    }
    assert translate_label_selector(selector, "vc", "default") == {
        "matchLabels": {"app": "web", lk("release"): "r", **TENANT},
        "matchExpressions": [
            {"key": "tier", "operator": "In", "values": ["a", "b"]},
            {"key": lk("vcluster.loft.sh/namespace"), "operator": "Exists"},
        ],
    }


def test_label_selector_without_namespace_only_adds_managed_by():
    assert translate_label_selector({"matchLabels": {"app": "web"}}, "vc", None) == {
        "matchLabels": {"app": "web", "vcluster.loft.sh/managed-by": "vc"}
    }


def test_label_selector_translation_leaves_the_input_untouched():
    selector = {
        "matchLabels": {"release": "r"},
        "matchExpressions": [{"key": "release", "operator": "In", "values": ["r"]}],
    }
    before = copy.deepcopy(selector)
    translated = translate_label_selector(selector, "vc", "default")
    translated["matchExpressions"][0]["values"].append("x")
    assert selector == before
