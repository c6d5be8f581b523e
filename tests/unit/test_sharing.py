"""Equal parts of cached objects are held once (syncer.sharing): thousands of pods then hold one copy of their
tolerations and owner reference. Only equal parts may be shared, and the table of parts must stay bounded."""

from __future__ import annotations

import orjson

from syncer.sharing import SHARED_MAX, SHARED_STRING_MAX, Parts

OWNER = [{"apiVersion": "v1", "kind": "Service", "name": "vc", "uid": "u-1"}]


def pod(name: str, node_ip: str = "192.0.2.1", labels: dict | None = None) -> dict:
    return {
        "metadata": {"name": name, "labels": labels or {"app": "web"}, "ownerReferences": [dict(OWNER[0])]},
        "spec": {"tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists"}], "priority": 0},
        "status": {"hostIPs": [{"ip": node_ip}], "podIP": f"10.0.0.{len(name)}"},
    }


def test_equal_parts_of_two_objects_are_one_object() -> None:
    parts = Parts()
    a, b = parts.share(pod("a")), parts.share(pod("b"))
    for section, key in (("metadata", "labels"), ("metadata", "ownerReferences"), ("spec", "tolerations")):
        assert a[section][key] is b[section][key]
    assert a["status"]["hostIPs"] is b["status"]["hostIPs"]


def test_parts_that_differ_stay_apart_and_unchanged() -> None:
    parts = Parts()
    a = parts.share(pod("a", node_ip="192.0.2.1", labels={"app": "web"}))
    b = parts.share(pod("b", node_ip="192.0.2.2", labels={"app": "db"}))
    assert a["status"]["hostIPs"] == [{"ip": "192.0.2.1"}] and b["status"]["hostIPs"] == [{"ip": "192.0.2.2"}]
    assert a["metadata"]["labels"] == {"app": "web"} and b["metadata"]["labels"] == {"app": "db"}
    assert a["metadata"]["name"] == "a" and b["spec"]["priority"] == 0


def test_large_parts_are_not_remembered() -> None:
    parts = Parts()
    big = {"note": "x" * SHARED_MAX}
    a = parts.share({"metadata": {"name": "a", "annotations": dict(big)}})
    b = parts.share({"metadata": {"name": "b", "annotations": dict(big)}})
    assert a["metadata"]["annotations"] == b["metadata"]["annotations"]
    assert a["metadata"]["annotations"] is not b["metadata"]["annotations"]


def test_the_table_forgets_the_least_recently_met_part() -> None:
    parts = Parts(size=2)

    def labels(n: str) -> dict:
        return parts.share({"metadata": {"labels": {"n": n}}})["metadata"]["labels"]

    one, two = labels("1"), labels("2")
    assert labels("1") is one  # met again: now the most recent
    labels("3")  # the table is full: "2", met least recently, goes
    assert labels("1") is one and labels("2") is not two


def decoded(obj: dict) -> dict:
    """`obj` as a fresh decode gives it: no string shared with any other object."""
    return orjson.loads(orjson.dumps(obj))


def test_short_strings_are_shared_also_in_parts_too_big_to_share() -> None:
    parts = Parts()
    big = {"image": "registry.example/app:1", "note": "n" * SHARED_MAX}
    a, b = (
        parts.share(decoded({"kind": "Pod", "metadata": {"name": "web"}, "spec": {"main": big}, "data": {"k": "v1"}}))
        for _ in range(2)
    )
    assert a["spec"]["main"] is not b["spec"]["main"]
    assert a["spec"]["main"]["image"] is b["spec"]["main"]["image"]
    assert a["metadata"]["name"] is b["metadata"]["name"] and a["kind"] is b["kind"]
    assert a["data"]["k"] is b["data"]["k"]


def test_long_strings_are_left_alone() -> None:
    parts = Parts()
    long = "x" * (SHARED_STRING_MAX + 1)
    a, b = (parts.share(decoded({"metadata": {"uid": long}, "data": {"cert": long}})) for _ in range(2))
    assert a == b and a["metadata"]["uid"] is not b["metadata"]["uid"] and a["data"]["cert"] is not b["data"]["cert"]
