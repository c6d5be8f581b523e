"""The diff behind every write (SPEC §6 common contract, §9.5): only owned fields are compared, values the server
drops anyway compare equal to absent, and an unchanged object yields an empty patch, which is what keeps restarts
from writing. Dry-run logs name changed paths but must never carry Secret values."""

from __future__ import annotations

import copy

from vocab.diff import changed_paths, merge_patch, normalise, owned_patch, owned_view

OWNED = ("data", "binaryData", "immutable", "type", "metadata.labels", "metadata.annotations")


def host_secret() -> dict:
    """A host Secret as the server returns it: our content plus fields the server and other actors added."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": "db-x-default-x-vc",
            "namespace": "host-ns",
            "uid": "3f1c",
            "resourceVersion": "812",
            "creationTimestamp": "2024-01-01T00:00:00Z",
            "labels": {"app": "db"},
            "annotations": {"vcluster.loft.sh/object-name": "db", "note": "kept"},
            "managedFields": [{"manager": "vcsync", "operation": "Update"}],
        },
        "type": "Opaque",
        "data": {"password": "aHVudGVyMg=="},
    }


def desired_secret() -> dict:
    return {
        "metadata": {
            "labels": {"app": "db"},
            "annotations": {"vcluster.loft.sh/object-name": "db", "note": "kept"},
        },
        "type": "Opaque",
        "data": {"password": "aHVudGVyMg=="},
    }


# ---- no write when nothing owned differs -------------------------------------------------------------------------
def test_no_patch_when_only_server_added_fields_differ() -> None:
    assert owned_patch(host_secret(), desired_secret(), OWNED) == {}


def test_no_patch_when_unowned_fields_differ() -> None:
    host = host_secret()
    host["metadata"]["finalizers"] = ["example.com/keep"]
    host["stringData"] = {"ignored": "x"}
    assert owned_patch(host, desired_secret(), OWNED) == {}


def test_patch_against_absent_live_object_sets_every_owned_field() -> None:
    patch = owned_patch(None, desired_secret(), OWNED)
    assert patch == {
        "metadata": {
            "labels": {"app": "db"},
            "annotations": {"vcluster.loft.sh/object-name": "db", "note": "kept"},
        },
        "type": "Opaque",
        "data": {"password": "aHVudGVyMg=="},
    }


def test_owned_view_keeps_only_the_owned_paths() -> None:
    view = owned_view(host_secret(), ("data", "metadata.labels"))
    assert view == {"data": {"password": "aHVudGVyMg=="}, "metadata": {"labels": {"app": "db"}}}


def test_owned_view_does_not_modify_its_input() -> None:
    host = host_secret()
    before = copy.deepcopy(host)
    owned_view(host, OWNED)
    owned_patch(host, desired_secret(), OWNED)
    assert host == before


# ---- removals and nested maps ------------------------------------------------------------------------------------
def test_key_removed_in_desired_becomes_null_in_patch() -> None:
    host = host_secret()
    host["data"]["old-key"] = "c3RhbGU="
    assert owned_patch(host, desired_secret(), OWNED) == {"data": {"old-key": None}}


def test_owned_field_removed_in_desired_becomes_null_in_patch() -> None:
    desired = desired_secret()
    del desired["data"]
    assert owned_patch(host_secret(), desired, OWNED) == {"data": None}


def test_changed_annotation_patches_only_that_key() -> None:
    desired = desired_secret()
    desired["metadata"]["annotations"]["note"] = "changed"
    assert owned_patch(host_secret(), desired, OWNED) == {"metadata": {"annotations": {"note": "changed"}}}


def test_added_and_removed_annotations_patch_only_those_keys() -> None:
    desired = desired_secret()
    del desired["metadata"]["annotations"]["note"]
    desired["metadata"]["annotations"]["fresh"] = "1"
    assert owned_patch(host_secret(), desired, OWNED) == {"metadata": {"annotations": {"note": None, "fresh": "1"}}}


def test_map_replacing_a_scalar_is_sent_whole() -> None:
    assert merge_patch({"a": "x"}, {"a": {"b": "1"}}) == {"a": {"b": "1"}}


def test_scalar_replacing_a_map_is_sent_as_is() -> None:
    assert merge_patch({"a": {"b": "1"}}, {"a": "x"}) == {"a": "x"}


def test_lists_are_replaced_whole() -> None:
    current = {"refs": [{"name": "a", "uid": "1"}, {"name": "b", "uid": "2"}]}
    desired = {"refs": [{"name": "a", "uid": "1"}, {"name": "b", "uid": "3"}]}
    assert merge_patch(current, desired) == desired


def test_equal_lists_give_no_patch() -> None:
    refs = {"refs": [{"name": "a", "uid": "1"}]}
    assert merge_patch(refs, copy.deepcopy(refs)) == {}


def test_list_order_matters() -> None:
    assert merge_patch({"l": ["a", "b"]}, {"l": ["b", "a"]}) == {"l": ["b", "a"]}


# ---- normalisation: what the server drops compares equal to absent -------------------------------------------------
def test_empty_map_and_absent_map_are_equal() -> None:
    host = host_secret()
    del host["data"]
    desired = desired_secret()
    desired["data"] = {}
    assert owned_patch(host, desired, OWNED) == {}


def test_absent_labels_and_empty_labels_are_equal() -> None:
    host = host_secret()
    del host["metadata"]["labels"]
    desired = desired_secret()
    desired["metadata"]["labels"] = {}
    assert owned_patch(host, desired, OWNED) == {}


def test_empty_string_and_absent_scalar_are_equal() -> None:
    assert owned_patch({"type": ""}, {}, ("type",)) == {}
    assert owned_patch({}, {"type": ""}, ("type",)) == {}


def test_false_and_absent_are_equal() -> None:
    host = host_secret()
    desired = desired_secret()
    desired["immutable"] = False
    assert owned_patch(host, desired, OWNED) == {}
    host["immutable"] = False
    del desired["immutable"]
    assert owned_patch(host, desired, OWNED) == {}


def test_none_and_absent_are_equal() -> None:
    desired = desired_secret()
    desired["binaryData"] = None
    assert owned_patch(host_secret(), desired, OWNED) == {}


def test_zero_is_not_treated_as_empty() -> None:
    assert owned_patch({"spec": {"replicas": 1}}, {"spec": {"replicas": 0}}, ("spec",)) == {"spec": {"replicas": 0}}
    assert normalise({"replicas": 0}) == {"replicas": 0}


def test_true_to_false_is_a_removal() -> None:
    assert owned_patch({"immutable": True}, {"immutable": False}, ("immutable",)) == {"immutable": None}


def test_normalise_prunes_nested_empties_recursively() -> None:
    value = {"a": {"b": {"c": None, "d": []}, "e": ""}, "f": "keep", "g": [{"h": False, "i": 1}]}
    assert normalise(value) == {"f": "keep", "g": [{"i": 1}]}


def test_empty_string_value_in_a_string_map_is_content() -> None:
    # ConfigMap data keys, labels and annotations may have "" values; the server keeps them, so must we.
    host = {"data": {"a": "1"}, "metadata": {"labels": {"tier": "web"}}}
    desired = {"data": {"a": "1", "empty-file": ""}, "metadata": {"labels": {"tier": "web", "canary": ""}}}
    assert owned_patch(host, desired, ("data", "metadata.labels")) == {
        "data": {"empty-file": ""},
        "metadata": {"labels": {"canary": ""}},
    }


def test_empty_string_value_removed_from_a_string_map_becomes_null() -> None:
    host = {"data": {"a": "1", "empty-file": ""}}
    assert owned_patch(host, {"data": {"a": "1"}}, ("data",)) == {"data": {"empty-file": None}}


def test_equal_string_maps_with_empty_values_give_no_patch() -> None:
    obj = {"data": {"empty-file": ""}, "metadata": {"annotations": {"flag": ""}}}
    assert owned_patch(obj, copy.deepcopy(obj), ("data", "metadata.annotations")) == {}


def test_empty_string_field_in_a_struct_still_equals_absent() -> None:
    host = {"spec": {"replicas": 1, "hostname": ""}}
    assert owned_patch(host, {"spec": {"replicas": 1}}, ("spec",)) == {}


# ---- changed_paths ------------------------------------------------------------------------------------------------
def test_changed_paths_names_nested_leaf_keys() -> None:
    patch = {"metadata": {"annotations": {"note": "x", "gone": None}}, "type": "Opaque"}
    assert sorted(changed_paths(patch)) == ["metadata.annotations.gone", "metadata.annotations.note", "type"]


def test_changed_paths_names_a_removed_field() -> None:
    assert changed_paths({"data": None}) == ["data"]


def test_changed_paths_treats_lists_as_one_leaf() -> None:
    assert changed_paths({"metadata": {"ownerReferences": [{"name": "svc"}]}}) == ["metadata.ownerReferences"]


def test_changed_paths_of_empty_patch_is_empty() -> None:
    assert changed_paths({}) == []


def test_changed_paths_never_contains_secret_values() -> None:
    secret_value = "c3VwZXItc2VjcmV0LXZhbHVl"
    host = host_secret()
    desired = desired_secret()
    desired["data"] = {"password": secret_value, "token": secret_value}
    patch = owned_patch(host, desired, OWNED)
    paths = changed_paths(patch)
    assert sorted(paths) == ["data.password", "data.token"]
    assert not any(secret_value in path for path in paths)
    assert secret_value not in repr(paths)


def test_changed_paths_of_a_whole_create_body_never_contains_values() -> None:
    body = desired_secret()
    paths = changed_paths(body)
    assert "data.password" in paths
    assert "aHVudGVyMg==" not in repr(paths)


def test_owned_values_equal_as_they_are_need_no_patch_and_anything_else_takes_the_views() -> None:
    """The equality shortcut gives exactly what comparing the normalised views gives."""
    host, desired = host_secret(), desired_secret()
    cases = [(host, desired), (None, desired), (host, host), (None, {})]
    for change in ({"data": {}}, {"type": ""}, {"data": {"password": "bmV3"}}, {"metadata": {"labels": None}}):
        changed = copy.deepcopy(desired)
        for key, value in change.items():
            if isinstance(value, dict) and isinstance(changed.get(key), dict):
                changed[key].update(value)
            else:
                changed[key] = value
        cases.append((host, changed))
    for live, want in cases:
        assert owned_patch(live, want, OWNED) == merge_patch(owned_view(live, OWNED), owned_view(want, OWNED))
