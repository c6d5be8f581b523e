"""Translators copy what they take from cached objects with jsoncopy.clone: an equal value sharing nothing mutable."""

from __future__ import annotations

import json

from translators.jsoncopy import clone


def test_a_clone_is_equal_and_shares_no_dict_or_list() -> None:
    original = {"spec": {"containers": [{"name": "c", "env": [{"name": "A", "value": "1"}]}]}, "n": 1, "x": None}
    kept = json.dumps(original)
    copy = clone(original)
    assert copy == original
    copy["spec"]["containers"][0]["env"].append({"name": "B"})
    copy["spec"]["containers"][0]["name"] = "d"
    assert json.dumps(original) == kept
