"""API answers are decoded for a long life in the caches: the same document as the standard decoder gives, with
keys and short values shared between objects, so ten thousand cached pods hold one "resourceVersion" key."""

from __future__ import annotations

import json

from syncer.kube.api import SHARED_STRING_MAX, _decode, loads, parse_json

POD = {
    "metadata": {"name": "p", "namespace": "ns", "labels": {"app": "web"}, "resourceVersion": "7"},
    "spec": {"containers": [{"name": "c", "image": "nginx", "args": ["a", "b"]}], "priority": 0},
    "status": {"phase": "Running", "podIPs": [{"ip": "10.0.0.1"}], "ready": True, "note": None},
    "data": "x" * (SHARED_STRING_MAX + 1),
}


def test_decoding_gives_the_same_document_as_the_standard_decoder() -> None:
    text = json.dumps(POD).encode()
    assert loads(text) == json.loads(text)


def test_keys_and_short_values_are_shared_between_decoded_objects() -> None:
    a, b = (loads(json.dumps(POD).encode()) for _ in range(2))
    key_a = next(k for k in a["metadata"] if k == "resourceVersion")
    key_b = next(k for k in b["metadata"] if k == "resourceVersion")
    assert key_a is key_b
    assert a["status"]["phase"] is b["status"]["phase"]
    assert a["spec"]["containers"][0]["image"] is b["spec"]["containers"][0]["image"]


def test_long_values_are_left_alone() -> None:
    a, b = (loads(json.dumps(POD).encode()) for _ in range(2))
    assert a["data"] == b["data"] and a["data"] is not b["data"]


def test_list_answers_share_strings_and_write_answers_do_not_pay_for_it() -> None:
    text = json.dumps({"items": [POD]}).encode()
    listed = [_decode(text, for_cache=True)["items"][0] for _ in range(2)]
    written = [_decode(text)["items"][0] for _ in range(2)]
    assert listed[0]["status"]["phase"] is listed[1]["status"]["phase"]
    image = [pod["spec"]["containers"][0]["image"] for pod in written]
    assert written[0] == listed[0] and image[0] is not image[1]


def test_int64_extremes_decode_exactly_and_what_orjson_refuses_falls_back_to_the_standard_decoder() -> None:
    assert parse_json(b"[9223372036854775807, -9223372036854775808]") == [2**63 - 1, -(2**63)]
    value = parse_json(b'{"a": NaN}')["a"]  # JSON as Python writes it, which orjson refuses
    assert value != value


def test_managed_fields_are_not_walked_for_sharing() -> None:
    doc = {"metadata": {"managedFields": [{"manager": "kubectl"}]}, "status": {"phase": "Running"}}
    a, b = (loads(json.dumps(doc).encode()) for _ in range(2))
    assert a["status"]["phase"] is b["status"]["phase"]
    assert a["metadata"]["managedFields"][0]["manager"] is not b["metadata"]["managedFields"][0]["manager"]
