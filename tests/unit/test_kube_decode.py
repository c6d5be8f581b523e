"""API answers decode to the same document as the standard decoder gives, exact for every integer an API server
sends; what the caches share of them is `syncer.sharing`'s (tests/unit/test_sharing.py)."""

from __future__ import annotations

import json

from syncer.kube.api import _decode, parse_json

POD = {
    "metadata": {"name": "p", "namespace": "ns", "labels": {"app": "web"}, "resourceVersion": "7"},
    "spec": {"containers": [{"name": "c", "image": "nginx", "args": ["a", "b"]}], "priority": 0},
    "status": {"phase": "Running", "podIPs": [{"ip": "10.0.0.1"}], "ready": True, "note": None},
}


def test_decoding_gives_the_same_document_as_the_standard_decoder() -> None:
    text = json.dumps({"items": [POD]}).encode()
    assert parse_json(text) == json.loads(text) == _decode(text)


def test_int64_extremes_decode_exactly_and_what_orjson_refuses_falls_back_to_the_standard_decoder() -> None:
    assert parse_json(b"[9223372036854775807, -9223372036854775808]") == [2**63 - 1, -(2**63)]
    value = parse_json(b'{"a": NaN}')["a"]  # JSON as Python writes it, which orjson refuses
    assert value != value
