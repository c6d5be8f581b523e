"""The bad-input table: odd, extreme or refused objects a tenant may send, each with what vcsync must do with it —
sync it faithfully, sync it trimmed and say what it dropped, or refuse it and say why. The test
(test_bad_input.py) sends them all to one syncer; a unit test keeps the table's size and ids honest."""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Obj = dict[str, Any]
SYNCED, TRIMMED, REFUSED = "synced", "trimmed", "refused"
MIB = 1024 * 1024


@dataclass(frozen=True)
class Case:
    id: str
    resource: str  # plural of a core/v1 resource
    body: Obj
    outcome: str
    says: str = ""  # in the Warning event (trimmed, refused)
    check: Callable[[Obj], bool] = field(default=lambda host: True)  # on the host copy (synced, trimmed)
    before: tuple[tuple[str, Obj], ...] = ()  # objects it needs, created first

    @property
    def name(self) -> str:
        return self.body["metadata"]["name"]


def _meta(name: str, **more: Any) -> Obj:
    return {"name": name, **more}


def _cm(name: str, **content: Any) -> Obj:
    return {"metadata": _meta(name), **content}


def _pod(name: str, **spec: Any) -> Obj:
    container = {"name": "c", "image": "app", **spec.pop("container", {})}
    return {"metadata": _meta(name), "spec": {"containers": [container], **spec}}


def _service(name: str, **spec: Any) -> Obj:
    return {"metadata": _meta(name), "spec": {"ports": [{"name": "http", "port": 80}], **spec}}


def _endpoints(name: str, *ips: str) -> tuple[Case, ...]:
    """A selector-less Service and its Endpoints listing `ips`."""
    body = {"metadata": _meta(name), "subsets": [{"addresses": [{"ip": ip} for ip in ips], "ports": [{"port": 80}]}]}
    return (
        Case(
            f"endpoints-{name}",
            "endpoints",
            body,
            TRIMMED,
            f"dropped {len(ips)} endpoint",
            check=lambda host: not any(s.get("addresses") for s in host.get("subsets") or ()),
            before=(("services", _service(name)),),
        ),
    )


def _host_data(key: str, value: str) -> Callable[[Obj], bool]:
    return lambda host: (host.get("data") or {}).get(key) == value


def _b64(text: str | bytes) -> str:
    return base64.b64encode(text.encode() if isinstance(text, str) else text).decode()


LONG_LABEL_KEY = "example.com/" + "k" * 63
EVERY_VOLUME = [
    {"name": "empty", "emptyDir": {"medium": "Memory", "sizeLimit": "1Mi"}},
    {"name": "config", "configMap": {"name": "unicode", "items": [{"key": "greeting", "path": "g"}]}},
    {"name": "secret", "secret": {"secretName": "tls", "defaultMode": 0o400}},
    {"name": "claim", "persistentVolumeClaim": {"claimName": "missing-claim"}},
    {"name": "downward", "downwardAPI": {"items": [{"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}}]}},
    {
        "name": "projected",
        "projected": {
            "sources": [
                {"serviceAccountToken": {"path": "token", "expirationSeconds": 3600, "audience": "vault"}},
                {"configMap": {"name": "unicode"}},
                {"secret": {"name": "tls", "optional": True}},
                {"downwardAPI": {"items": [{"path": "name", "fieldRef": {"fieldPath": "metadata.name"}}]}},
            ]
        },
    },
    {
        "name": "scratch",
        "ephemeral": {
            "volumeClaimTemplate": {
                "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}
            }
        },
    },
    {"name": "inline-csi", "csi": {"driver": "inline.example.com", "volumeAttributes": {"size": "1Gi"}}},
]
EVERY_PROBE = {
    "livenessProbe": {"exec": {"command": ["true"]}, "periodSeconds": 10},
    "readinessProbe": {"httpGet": {"path": "/ready", "port": 8080, "httpHeaders": [{"name": "X", "value": "y"}]}},
    "startupProbe": {"tcpSocket": {"port": 8080}, "failureThreshold": 30},
    "lifecycle": {"preStop": {"sleep": {"seconds": 1}}, "postStart": {"httpGet": {"path": "/up", "port": 8080}}},
}

CASES: tuple[Case, ...] = (
    # ---- ConfigMaps and Secrets: sizes, names, encodings, types ---------------------------------------------
    Case("configmap-name-253", "configmaps", _cm("c" * 253, data={"a": "1"}), SYNCED, check=_host_data("a", "1")),
    Case("configmap-dotted-name", "configmaps", _cm("app.config.v2", data={"a": "1"}), SYNCED),
    Case(
        "configmap-unicode",
        "configmaps",
        _cm("unicode", data={"greeting": "grüße 你好 🚀"}),
        SYNCED,
        check=_host_data("greeting", "grüße 你好 🚀"),
    ),
    Case(
        "configmap-1mib",
        "configmaps",
        _cm("big", data={"big": "x" * (MIB - 1024)}),
        SYNCED,
        check=lambda host: len(host["data"]["big"]) == MIB - 1024,
    ),
    Case(
        "configmap-binarydata",
        "configmaps",
        _cm("binary", binaryData={"blob": _b64(bytes(range(256)))}),
        SYNCED,
        check=lambda host: host["binaryData"]["blob"] == _b64(bytes(range(256))),
    ),
    Case(
        "configmap-odd-keys",
        "configmaps",
        _cm("odd-keys", data={"a.b_c-d": "1", "-x": "2", ".y": "3"}),
        SYNCED,
        check=_host_data(".y", "3"),
    ),
    Case(
        "configmap-immutable",
        "configmaps",
        _cm("frozen", data={"a": "1"}, immutable=True),
        SYNCED,
        check=lambda host: host.get("immutable") is True,
    ),
    Case(
        "configmap-label-limits",
        "configmaps",
        {"metadata": _meta("labels", labels={"k" * 63: "v" * 63, LONG_LABEL_KEY: ""}), "data": {}},
        SYNCED,
        check=lambda host: host["metadata"]["labels"].get("k" * 63) == "v" * 63,
    ),
    Case(
        "configmap-annotations-over-the-host-limit",
        "configmaps",
        {"metadata": _meta("annotated", annotations={"note": "x" * (256 * 1024 - 64)}), "data": {}},
        REFUSED,
        "Too long: may not be more than 262144 bytes",
    ),
    Case("secret-1mib", "secrets", {"metadata": _meta("big-secret"), "data": {"k": _b64("s" * (MIB - 1024))}}, SYNCED),
    Case(
        "secret-tls",
        "secrets",
        {"metadata": _meta("tls"), "type": "kubernetes.io/tls", "stringData": {"tls.crt": "c", "tls.key": "k"}},
        SYNCED,
        check=lambda host: host["type"] == "kubernetes.io/tls",
    ),
    Case(
        "secret-dockerconfigjson",
        "secrets",
        {
            "metadata": _meta("pull"),
            "type": "kubernetes.io/dockerconfigjson",
            "stringData": {".dockerconfigjson": '{"auths": {}}'},
        },
        SYNCED,
    ),
    Case(
        "secret-binary-and-empty-values",
        "secrets",
        {"metadata": _meta("mixed"), "data": {"bin": _b64(bytes(range(256))), "empty": ""}},
        SYNCED,
        check=lambda host: host["data"].get("bin") == _b64(bytes(range(256))),
    ),
    # ---- Services of every type --------------------------------------------------------------------------------
    Case(
        "service-external-ips",
        "services",
        _service("ext", selector={"app": "x"}, externalIPs=["192.0.2.10"]),
        TRIMMED,
        "externalIPs 192.0.2.10 not synced",
        check=lambda host: "externalIPs" not in host["spec"] and "externalTrafficPolicy" not in host["spec"],
    ),
    Case(
        "service-nodeport",
        "services",
        _service("np", type="NodePort", selector={"app": "x"}),
        SYNCED,
        check=lambda host: bool(host["spec"]["ports"][0].get("nodePort")),
    ),
    Case(
        "service-loadbalancer",
        "services",
        _service("lb", type="LoadBalancer", selector={"app": "x"}, loadBalancerSourceRanges=["10.0.0.0/8"]),
        SYNCED,
        check=lambda host: host["spec"]["type"] == "LoadBalancer",
    ),
    Case(
        "service-externalname",
        "services",
        {"metadata": _meta("alias"), "spec": {"type": "ExternalName", "externalName": "example.com"}},
        SYNCED,
        check=lambda host: host["spec"]["externalName"] == "example.com",
    ),
    Case(
        "service-headless",
        "services",
        _service("headless", clusterIP="None", selector={"app": "x"}),
        SYNCED,
        check=lambda host: host["spec"]["clusterIP"] == "None",
    ),
    Case(
        "service-name-63",
        "services",
        _service("s" * 63, selector={"app": "x"}),
        SYNCED,
        check=lambda host: len(host["metadata"]["name"]) <= 63 and host["metadata"]["name"][0].isalpha(),
    ),
    Case(
        "service-session-affinity",
        "services",
        _service(
            "sticky",
            selector={"app": "x"},
            sessionAffinity="ClientIP",
            sessionAffinityConfig={"clientIP": {"timeoutSeconds": 60}},
        ),
        SYNCED,
        check=lambda host: host["spec"]["sessionAffinity"] == "ClientIP",
    ),
    # ---- Endpoints with odd addresses --------------------------------------------------------------------------
    # (loopback and link-local addresses the virtual API server refuses itself)
    *_endpoints("public", "8.8.8.8", "1.1.1.1"),
    *_endpoints("private-not-a-pod", "10.0.0.5"),
    *_endpoints("ipv6", "2001:db8::1"),
    # ---- Pods: refused by the Pod Security Standard or as unsupported, rejected by the host, odd but fine -------
    Case(
        "pod-privileged",
        "pods",
        _pod("privileged", container={"securityContext": {"privileged": True}}),
        REFUSED,
        "privileged",
    ),
    Case(
        "pod-host-path",
        "pods",
        _pod("host-path", volumes=[{"name": "h", "hostPath": {"path": "/etc"}}]),
        REFUSED,
        'hostPathVolumes: volume "h"',
    ),
    Case("pod-host-network", "pods", _pod("host-network", hostNetwork=True), REFUSED, "hostNetwork=true"),
    Case(
        "pod-resource-claims",
        "pods",
        _pod("claims", resourceClaims=[{"name": "gpu", "resourceClaimName": "gpu-claim"}]),
        REFUSED,
        "resourceClaims are not supported",
    ),
    Case(
        "pod-dns-searches-over-the-host-limit",
        "pods",
        _pod("searches", dnsConfig={"searches": [f"s{i}.example.com" for i in range(32)]}),
        REFUSED,
        "the pod's dnsConfig has 35 search paths; at most 32 are allowed",
    ),
    Case(
        "pod-every-volume-source",
        "pods",
        _pod("volumes", volumes=EVERY_VOLUME),
        SYNCED,
        check=lambda host: {v["name"] for v in host["spec"]["volumes"]} >= {v["name"] for v in EVERY_VOLUME},
    ),
    Case(
        "pod-every-probe-kind",
        "pods",
        _pod("probes", container=EVERY_PROBE),
        SYNCED,
        check=lambda host: "startupProbe" in host["spec"]["containers"][0],
    ),
    Case("pod-name-253", "pods", _pod("p" * 253), SYNCED),
    Case(
        "pod-missing-references",
        "pods",
        _pod(
            "dangling",
            container={"envFrom": [{"configMapRef": {"name": "nowhere"}}]},
            imagePullSecrets=[{"name": "nowhere"}],
        ),
        SYNCED,
    ),
    # ---- PersistentVolumeClaims ----------------------------------------------------------------------------------
    Case(
        "pvc-unknown-storage-class",
        "persistentvolumeclaims",
        {
            "metadata": _meta("claim"),
            "spec": {
                "storageClassName": "nope",
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": "1Gi"}},
            },
        },
        SYNCED,
    ),
)
