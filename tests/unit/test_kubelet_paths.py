"""The kubelet endpoint's pure parts: which paths are pod requests, what they are authorized as, how kubelet queries
map onto the host API server's pod subresources, who a client certificate names, and which host pod a request may
reach."""

from __future__ import annotations

import pytest

from syncer.cache import Store
from syncer.kube.upgrade import _parse_head
from syncer.kubelet.auth import User, user_from_certificate
from syncer.kubelet.paths import (
    BadRequest,
    PodRequest,
    authz_verb,
    log_query,
    node_subresource,
    pod_request,
    stream_query,
)
from syncer.kubelet.streams import host_request_headers
from syncer.kubelet.targets import Refused, pod_target, virtual_pod
from translators.markers import marker_annotations, marker_labels
from translators.names import NameTranslator

NAMES = NameTranslator("vc", "team-a")


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/containerLogs/shop/web/c", PodRequest("containerLogs", "shop", "web", container="c")),
        ("/exec/shop/web/c", PodRequest("exec", "shop", "web", container="c")),
        ("/exec/shop/web/1234-ab/c", PodRequest("exec", "shop", "web", uid="1234-ab", container="c")),
        ("/attach/shop/web/c", PodRequest("attach", "shop", "web", container="c")),
        ("/portForward/shop/web", PodRequest("portForward", "shop", "web")),
        ("/portForward/shop/web/1234-ab", PodRequest("portForward", "shop", "web", uid="1234-ab")),
        ("/stats/summary", None),
        ("/healthz", None),
        ("/containerLogs/shop/web", None),
        ("/exec/a/b/c/d/e", None),
    ],
)
def test_pod_requests_are_recognised_by_their_kubelet_path(path, expected):
    assert pod_request(path) == expected


@pytest.mark.parametrize("path", ["/containerLogs/Shop/web/c", "/exec/shop/../c", "/containerLogs/shop/web%2Fx/c"])
def test_malformed_pod_paths_are_bad_requests(path):
    with pytest.raises(BadRequest):
        pod_request(path)


@pytest.mark.parametrize(
    ("path", "subresource"),
    [
        ("/stats/summary", "stats"),
        ("/metrics/resource", "metrics"),
        ("/metrics", "metrics"),
        ("/logs/syslog", "log"),
        ("/spec", "spec"),
        ("/statsz", "proxy"),
        ("/containerLogs/a/b/c", "proxy"),
        ("/exec/a/b/c", "proxy"),
    ],
)
def test_paths_are_authorized_as_the_kubelet_maps_them(path, subresource):
    assert node_subresource(path) == subresource


def test_methods_map_to_authorization_verbs():
    assert [authz_verb(m) for m in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")] == [
        "get",
        "get",
        "create",
        "update",
        "patch",
        "delete",
    ]
    with pytest.raises(BadRequest):
        authz_verb("TRACE")


def test_every_kubelet_log_option_is_checked_and_passed_to_the_host():
    query = [
        ("follow", "true"),
        ("tailLines", "10"),
        ("sinceSeconds", "60"),
        ("timestamps", "1"),
        ("previous", "false"),
        ("limitBytes", "4096"),
        ("stream", "Stderr"),
        ("unknown", "x"),
    ]
    assert log_query("web", query) == [
        ("container", "web"),
        ("follow", "true"),
        ("tailLines", "10"),
        ("sinceSeconds", "60"),
        ("timestamps", "true"),
        ("previous", "false"),
        ("limitBytes", "4096"),
        ("stream", "Stderr"),
    ]
    assert log_query("web", [("sinceTime", "2026-01-02T03:04:05Z")])[1] == ("sinceTime", "2026-01-02T03:04:05Z")


@pytest.mark.parametrize(
    "query",
    [
        [("tailLines", "ten")],
        [("tailLines", "-1")],
        [("limitBytes", "0")],
        [("follow", "maybe")],
        [("sinceTime", "yesterday")],
        [("sinceSeconds", "5"), ("sinceTime", "2026-01-02T03:04:05Z")],
        [("tailLines", "1"), ("tailLines", "2")],
        [("stream", "both")],
    ],
)
def test_malformed_log_queries_are_bad_requests(query):
    with pytest.raises(BadRequest):
        log_query("web", query)


def test_stream_flags_become_the_host_api_names_and_commands_pass_in_order():
    request = PodRequest("exec", "shop", "web", container="c")
    query = [
        ("command", "sh"),
        ("command", "-c"),
        ("command", "echo hi"),
        ("input", "1"),
        ("output", "1"),
        ("tty", "1"),
    ]
    assert stream_query(request, query) == [
        ("container", "c"),
        ("command", "sh"),
        ("command", "-c"),
        ("command", "echo hi"),
        ("stdin", "true"),
        ("stdout", "true"),
        ("tty", "true"),
    ]
    with pytest.raises(BadRequest):
        stream_query(request, [("output", "1")])
    forward = PodRequest("portForward", "shop", "web")
    assert stream_query(forward, [("ports", "8080")]) == [("ports", "8080")]


def test_only_protocol_negotiation_headers_reach_the_host():
    headers = [
        ("Authorization", "Bearer tenant-token"),
        ("Impersonate-User", "admin"),
        ("Connection", "Upgrade"),
        ("Upgrade", "SPDY/3.1"),
        ("X-Stream-Protocol-Version", "v5.channel.k8s.io"),
        ("X-Stream-Protocol-Version", "v4.channel.k8s.io"),
        ("Sec-WebSocket-Protocol", "v5.channel.k8s.io"),
    ]
    assert host_request_headers(headers) == headers[2:]


def test_a_client_certificate_names_user_and_groups():
    cert = {
        "subject": (
            (("organizationName", "system:masters"),),
            (("organizationName", "ops"),),
            (("commonName", "kube-apiserver-kubelet-client"),),
        )
    }
    assert user_from_certificate(cert) == User("kube-apiserver-kubelet-client", ("system:masters", "ops"))
    assert user_from_certificate({}) is None
    assert user_from_certificate(None) is None


def test_the_host_answer_head_is_parsed_with_lower_case_headers():
    status, headers = _parse_head(
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: v4\r\n\r\n"
    )
    assert status == 101 and headers == {"upgrade": "SPDY/3.1", "x-stream-protocol-version": "v4"}
    with pytest.raises(ValueError):
        _parse_head(b"SSH-2.0-OpenSSH\r\n\r\n")


# ---- which host pod a request reaches ----------------------------------------------------------------------


def stores(*, host_markers: bool = True, host_uid: str = "uid-1") -> tuple[Store, Store]:
    vpod = {
        "metadata": {"name": "web", "namespace": "shop", "uid": "uid-1"},
        "spec": {"nodeName": "node-a", "containers": [{"name": "c"}], "initContainers": [{"name": "init"}]},
    }
    host = {"metadata": {"name": "web-x-shop-x-vc", "namespace": "team-a"}}
    if host_markers:
        virtual = {**vpod, "metadata": {**vpod["metadata"], "uid": host_uid}}
        host["metadata"]["labels"] = marker_labels(virtual, names=NAMES)
        host["metadata"]["annotations"] = marker_annotations(virtual, names=NAMES, api_version="v1", kind="Pod")
    vpods, hpods = Store("pods", "virtual"), Store("pods", "host")
    vpods.replace(map(vpods.keep, [vpod]))
    hpods.replace(map(hpods.keep, [host]))
    return vpods, hpods


def target(request: PodRequest, **kwargs):
    vpods, hpods = stores(**kwargs)
    return pod_target(virtual_pod(vpods, request), request, hpods, NAMES)


def test_a_request_reaches_the_host_copy_of_its_pod_on_the_pods_node():
    reached = target(PodRequest("exec", "shop", "web", container="init"))
    assert (reached.host_namespace, reached.host_name, reached.node) == ("team-a", "web-x-shop-x-vc", "node-a")


@pytest.mark.parametrize(
    ("request_", "kwargs", "message"),
    [
        (PodRequest("exec", "shop", "nope", container="c"), {}, 'pod "nope" not found in namespace "shop"'),
        (PodRequest("exec", "shop", "web", uid="other", container="c"), {}, 'pod "web" not found'),
        (PodRequest("exec", "shop", "web", container="x"), {}, 'container "x" not found in pod "web"'),
        (PodRequest("exec", "shop", "web", container="c"), {"host_markers": False}, "has no host pod of this cluster"),
        (PodRequest("exec", "shop", "web", container="c"), {"host_uid": "old"}, "has no host pod of this cluster"),
    ],
)
def test_anything_but_this_vclusters_copy_of_the_pod_is_404(request_, kwargs, message):
    with pytest.raises(Refused) as refused:
        target(request_, **kwargs)
    assert refused.value.status == 404 and message in refused.value.message


def test_host_names_are_scrubbed_from_messages():
    reached = target(PodRequest("exec", "shop", "web", container="c"))
    text = 'pods "web-x-shop-x-vc" not found in namespace team-a (not team-ab)'
    assert reached.scrub(text) == 'pods "web" not found in namespace shop (not team-ab)'
