"""The chart and the image definition, checked without a cluster: helm lint, schema-valid Kubernetes objects for the
pinned version, every vcsync flag reachable as a value and rendered into a command line vcsync accepts, and host
RBAC that equals what the engine actually watches and writes for the enabled kinds, so a new kind or resource
cannot ship without its permission, nor a disabled kind keep one."""

from __future__ import annotations

import base64
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from syncer import registry
from syncer.config import FLAGS, Config, load_config
from syncer.engine import Engine
from tests.chart.chart import (
    CHART,
    EVERYTHING,
    OPTIONAL,
    RELEASE,
    ROOT,
    container,
    find_venv_tool,
    helm,
    kube_version,
    missing,
    objects,
    one,
    render,
    render_error,
    vcsync_args,
)
from translators.names import leader_lease_name
from vocab.resources import SECRETS

CRUD = frozenset({"get", "list", "watch", "create", "update", "patch", "delete"})
READ = frozenset({"get", "list", "watch"})
Rules = dict[tuple[str, str], frozenset[str]]


def _camel(flag_name: str) -> str:
    head, *rest = flag_name.split("-")
    return head + "".join(word.capitalize() for word in rest)


def _config(args: list[str], namespace: str = "vcsync") -> Config:
    assert args[0] == "run"
    return load_config(args[1:], {"POD_NAMESPACE": namespace}, read_file=lambda path: "{}")


def _granted(role: dict[str, Any]) -> Rules:
    granted: dict[tuple[str, str], frozenset[str]] = {}
    for rule in role.get("rules") or []:
        assert "resourceNames" not in rule, f"{role['metadata']['name']} should not restrict by name: {rule}"
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                granted[(group, resource)] = granted.get((group, resource), frozenset()) | set(rule["verbs"])
    return granted


def _engine_needs(config: Config) -> tuple[Rules, Rules, set[str]]:
    """What the engine for `config` watches on the host (from its stores) and which of those it writes: each
    toHost kind writes its own resource; pods also write their token Secrets and their status conditions."""
    engine = Engine(config, None, None, "chart-test")  # type: ignore[arg-type]  # constructed only, never run
    writes = {spec.resource for spec in registry.enabled(config.sync)}
    if "pods" in config.sync:
        writes.add(SECRETS)
    namespaced: dict[tuple[str, str], frozenset[str]] = {}
    cluster: dict[tuple[str, str], frozenset[str]] = {}
    own: set[str] = set()
    for side, res in engine._stores:  # the engine's declared (side, resource) pairs
        if side == "own":
            own.add(res.plural)
        elif side == "host":
            (namespaced if res.namespaced else cluster)[(res.group, res.plural)] = CRUD if res in writes else READ
    if "pods" in config.sync:
        namespaced[("", "pods/status")] = frozenset({"patch"})
    if config.kubelet_endpoint:  # the kubelet endpoint reads pods and connects to their log/stream subresources
        namespaced[("", "pods")] = namespaced.get(("", "pods"), READ)
        namespaced[("", "pods/log")] = frozenset({"get"})
        for stream in ("exec", "attach", "portforward"):
            namespaced[("", f"pods/{stream}")] = frozenset({"get", "create"})
        if config.kubelet_node_stats:  # host node annotations and the host kubelet's figures
            cluster[("", "nodes")] = cluster.get(("", "nodes"), frozenset()) | {"get"}
            cluster[("", "nodes/proxy")] = frozenset({"get"})
    return namespaced, cluster, own


def test_chart_passes_helm_lint_strictly(helm_bin: Path) -> None:
    for values in ({}, EVERYTHING):
        result = helm(
            helm_bin, "lint", "--strict", str(CHART), "--kube-version", kube_version(), "--values", "-",
            stdin=yaml.safe_dump(values),
        )  # fmt: skip
        assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("values", [{}, EVERYTHING], ids=["defaults", "everything"])
def test_rendered_objects_are_valid_for_the_pinned_kubernetes(helm_bin: Path, values: dict[str, Any]) -> None:
    try:
        import kubernetes_validate
    except ImportError:
        missing("kubernetes-validate is not installed: pip install -e '.[test]'")
    version = kube_version().removeprefix("v")
    docs = render(helm_bin, values)
    for doc in docs:
        kubernetes_validate.validate(doc, version, strict=True)
    assert {doc["kind"] for doc in docs} >= {
        "StatefulSet",
        "Service",
        "ServiceAccount",
        "Role",
        "RoleBinding",
        "Secret",
    }


def test_values_schema_is_generated_from_the_flag_table_and_kinds() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "hack" / "helm" / "schema.py"), "--check"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


def test_every_vcsync_flag_is_a_value_rendered_into_a_command_line_vcsync_accepts(helm_bin: Path) -> None:
    # chart value -> what vcsync must end up with; one entry per flag, so a new flag fails here until it is added
    chosen: dict[str, tuple[Any, Any]] = {
        "name": ("tenant", "tenant"),
        "targetNamespace": ("team-b", "team-b"),
        "ownNamespace": ("team-a", "team-a"),
        "serviceName": ("tenant-api", "tenant-api"),
        "virtualKubeconfig": ("/etc/v/kubeconfig", "/etc/v/kubeconfig"),
        "hostKubeconfig": ("/etc/h/kubeconfig", "/etc/h/kubeconfig"),
        "config": ("/etc/vcsync/config.yaml", "/etc/vcsync/config.yaml"),
        "syncAllConfigmaps": (True, True),
        "syncAllSecrets": (True, True),
        "setOwner": (False, False),
        "serviceAccount": ("tenant-pods", "tenant-pods"),
        "clusterDomain": ("example.internal", "example.internal"),
        "dnsService": ("kube-system/coredns", "kube-system/coredns"),
        "coredns": (False, False),  # the chart turns it on: false must reach vcsync
        "corednsImage": ("mirror.example/coredns:v1.14.2", "mirror.example/coredns:v1.14.2"),
        "corednsReplicas": (0, 0),
        "translateImage": (["nginx=mirror/nginx", "a:1=b:2"], ("nginx=mirror/nginx", "a:1=b:2")),
        "enforceToleration": (["dedicated=special:NoSchedule", "*"], ("dedicated=special:NoSchedule", "*")),
        "syncAllNodes": (True, True),
        "nodeSelector": ("pool=a,zone=z1", "pool=a,zone=z1"),
        "enforceNodeSelector": (False, False),
        "nodeClearImageStatus": (True, True),
        "fakeNodeLeaseDuration": ("1m30s", 90.0),
        "fakeNodeStatusInterval": (15, 15.0),
        "podSecurityStandard": ("restricted", "restricted"),
        "allowExternalIps": (True, True),
        "endpointsAllowedCidrs": (["10.0.0.0/8"], ("10.0.0.0/8",)),
        "hostQps": (2.5, 2.5),
        "hostBurst": (5, 5),
        "virtualQps": (1000000, 1000000.0),  # large numbers must not render as 1e+06
        "virtualBurst": (3000, 3000),
        "workers": (3, 3),
        "requestTimeout": ("45s", 45.0),
        "watchIdleTimeout": ("3m", 180.0),
        "shutdownTimeout": ("25s", 25.0),
        "massDeletionShare": (0.25, 0.25),
        "massDeletionMinimum": (0, 0),
        "leaderElect": (True, True),
        "leaseDuration": ("30s", 30.0),
        "renewDeadline": ("20s", 20.0),
        "retryPeriod": ("5s", 5.0),
        "metricsBindAddress": (":9090", ":9090"),
        "healthBindAddress": ("0.0.0.0:9091", "0.0.0.0:9091"),
        "kubeletBindAddress": (":11250", ":11250"),
        "kubeletAddress": ("10.0.0.9", "10.0.0.9"),
        "kubeletEgressSocket": ("/run/kubelet/egress.sock", "/run/kubelet/egress.sock"),
        "kubeletNodeStats": (True, True),
        "kubeletNodeServices": (True, True),
        "kubeletApiserverUser": ("apiserver", "apiserver"),
        "kubeletTlsCertFile": ("/etc/kubelet/tls.crt", "/etc/kubelet/tls.crt"),
        "kubeletTlsPrivateKeyFile": ("/etc/kubelet/tls.key", "/etc/kubelet/tls.key"),
        "kubeletClientCaFile": ("/etc/kubelet/ca.crt", "/etc/kubelet/ca.crt"),
        "logFormat": ("console", "console"),
        "logLevel": ("debug", "debug"),
        "dryRun": (True, True),
    }
    flag_keys = {_camel(flag.name) for flag in FLAGS if flag.name != "sync"}  # sync is the top-level `sync` value
    assert set(yaml.safe_load((CHART / "values.yaml").read_text())["syncer"]["flags"]) == flag_keys
    assert set(chosen) == flag_keys

    values = {"sync": ["+nodes", "-events"], "syncer": {"flags": {key: value for key, (value, _) in chosen.items()}}}
    docs = render(helm_bin, values)
    config = _config(vcsync_args(docs))

    for key, (_, want) in chosen.items():
        assert getattr(config, _attr(key)) == want, key
    assert "nodes" in config.sync and "events" not in config.sync
    ports = {p["name"]: p["containerPort"] for p in container(docs, "vcsync")["ports"]}
    assert ports["health"] == 9091 and ports["metrics"] == 9090 and ports["kubelet"] == 11250
    assert container(docs, "vcsync")["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "health"}


def _attr(camel: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in camel)


def test_default_command_line_names_the_release_and_its_namespace(helm_bin: Path) -> None:
    docs = render(helm_bin, {}, namespace="team-a")
    args = vcsync_args(docs)
    assert args == [
        "run",
        "--coredns=true",
        "--kubelet-apiserver-user=kube-apiserver-kubelet-client",
        "--kubelet-egress-socket=/var/run/vcsync/kubelet/egress.sock",
        f"--name={RELEASE}",
        f"--service-account={RELEASE}-workload",
        f"--service-name={RELEASE}",
        "--target-namespace=team-a",
        "--virtual-kubeconfig=/var/run/vcsync/virtual/kubeconfig",
    ]
    env = {e["name"]: e["valueFrom"]["fieldRef"]["fieldPath"] for e in container(docs, "vcsync")["env"]}
    assert env == {"POD_NAMESPACE": "metadata.namespace", "POD_NAME": "metadata.name"}
    config = _config(args, "team-a")
    assert (config.own_namespace, config.target_namespace, config.set_owner) == ("team-a", "team-a", True)
    workload = one(docs, "ServiceAccount", f"{RELEASE}-workload")
    assert workload["metadata"]["namespace"] == "team-a" and workload["automountServiceAccountToken"] is False


def test_coredns_is_on_by_default_and_off_when_the_tenant_brings_its_own(helm_bin: Path) -> None:
    assert _config(vcsync_args(render(helm_bin, {}))).coredns is True
    args = vcsync_args(render(helm_bin, {"syncer": {"flags": {"coredns": False}}}))
    assert "--coredns=false" in args and "--coredns=true" not in args
    assert _config(args).coredns is False


def test_coredns_image_and_replicas_reach_vcsync(helm_bin: Path) -> None:
    flags = {"corednsImage": "mirror.example/coredns/coredns:v1.14.2", "corednsReplicas": 2}
    args = vcsync_args(render(helm_bin, {"syncer": {"flags": flags}}))
    assert "--coredns-image=mirror.example/coredns/coredns:v1.14.2" in args and "--coredns-replicas=2" in args
    config = _config(args)
    assert (config.coredns, config.coredns_image, config.coredns_replicas) == (True, flags["corednsImage"], 2)
    assert "corednsReplicas" in render_error(helm_bin, {"syncer": {"flags": {"corednsReplicas": -1}}})


def test_isolation_lets_coredns_reach_its_upstream_resolver(helm_bin: Path) -> None:
    docs = render(helm_bin, {"isolation": {"enabled": True}})
    egress = one(docs, "NetworkPolicy")["spec"]["egress"]
    dns = [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]
    assert {"ports": dns} in egress  # no `to`: the node's resolver CoreDNS forwards to may be at any address


@pytest.mark.parametrize(
    "sync",
    [
        [],
        ["-pods"],
        ["-secrets", "-services"],
        ["-pods", "-endpoints", "+nodes"],
        OPTIONAL,
        ["+hoststorageclasses", "+ingressclasses,-configmaps"],
        ["+ingresses", "-ingressclasses"],
        ["-services,-configmaps,-secrets,-endpoints,-pods,-events,-persistentvolumeclaims,-fake-nodes"],
    ],
    ids=lambda sync: ",".join(sync) or "defaults",
)
def test_host_rbac_is_exactly_what_the_engine_uses_for_the_enabled_kinds(helm_bin: Path, sync: list[str]) -> None:
    docs = render(helm_bin, {"sync": sync}, namespace="team-a")
    config = _config(vcsync_args(docs), "team-a")
    namespaced, cluster, own = _engine_needs(config)

    assert _granted(one(docs, "Role", RELEASE)) == namespaced
    cluster_roles = objects(docs, "ClusterRole")
    if cluster:
        assert _granted(one(docs, "ClusterRole")) == cluster
        binding = one(docs, "ClusterRoleBinding")
        assert binding["subjects"] == [{"kind": "ServiceAccount", "name": RELEASE, "namespace": "team-a"}]
    else:
        assert cluster_roles == [] and objects(docs, "ClusterRoleBinding") == []
    own_rules = one(docs, "Role", f"{RELEASE}-own")["rules"]
    assert own <= set(own_rules[0]["resources"]) and own_rules[0]["resourceNames"] == [RELEASE]
    assert own_rules[0]["verbs"] == ["get", "list", "watch"]
    assert own_rules[1:] == [{"apiGroups": [""], "resources": ["events"], "verbs": ["create", "patch"]}]  # no Lease


def test_kubelet_endpoint_permissions_are_namespaced_and_go_when_it_is_disabled(helm_bin: Path) -> None:
    values = {"sync": ["-services,-configmaps,-secrets,-endpoints,-pods,-events,-persistentvolumeclaims,-fake-nodes"]}
    granted = _granted(one(render(helm_bin, values), "Role", RELEASE))
    assert granted[("", "pods/exec")] == {"get", "create"} and granted[("", "pods/log")] == {"get"}
    assert not any("nodes" in resource for _, resource in granted)
    values["syncer"] = {"flags": {"kubeletBindAddress": "0"}}
    docs = render(helm_bin, values)
    assert one(docs, "Role", RELEASE)["rules"] == []
    assert "kubelet" not in {p["name"] for p in container(docs, "vcsync")["ports"]}


def test_the_api_server_reaches_vcsyncs_kubelet_through_the_shared_egress_socket(helm_bin: Path) -> None:
    docs = render(helm_bin, {})
    apiserver = container(docs, "kube-apiserver")
    assert "--egress-selector-config-file=/etc/vcsync/pki/egress-selector.yaml" in apiserver["args"]
    assert "--kubelet-client-certificate=/etc/vcsync/pki/kubelet-client.crt" in apiserver["args"]
    assert "--kubelet-preferred-address-types=InternalIP,Hostname" in apiserver["args"]
    secret = one(docs, "Secret", f"{RELEASE}-certs")
    egress = yaml.safe_load(base64.b64decode(secret["data"]["egress-selector.yaml"]))
    socket = egress["egressSelections"][0]["connection"]["transport"]["uds"]["udsName"]
    assert f"--kubelet-egress-socket={socket}" in vcsync_args(docs)
    for name in ("kube-apiserver", "vcsync"):
        mounts = {m["name"]: m["mountPath"] for m in container(docs, name)["volumeMounts"]}
        assert socket.startswith(mounts["kubelet-egress"] + "/")
    disabled = render(helm_bin, {"syncer": {"flags": {"kubeletBindAddress": "0"}}})
    assert not any(a.startswith("--kubelet-egress") for a in vcsync_args(disabled))
    assert not any("egress" in a for a in container(disabled, "kube-apiserver")["args"])


def test_node_services_alone_grant_services_in_the_release_namespace(helm_bin: Path) -> None:
    default_rules = one(render(helm_bin, {}), "Role", f"{RELEASE}-own")["rules"]
    docs = render(helm_bin, {"syncer": {"flags": {"kubeletNodeServices": True}}})
    rules = one(docs, "Role", f"{RELEASE}-own")["rules"]
    assert rules == [
        *default_rules,
        {"apiGroups": [""], "resources": ["services"], "verbs": ["get", "list", "watch", "create", "delete"]},
    ]


def test_node_stats_alone_grant_nodes_proxy(helm_bin: Path) -> None:
    rules = one(render(helm_bin, {"syncer": {"flags": {"kubeletNodeStats": True}}}), "ClusterRole")["rules"]
    assert rules == [
        {"apiGroups": [""], "resources": ["nodes"], "verbs": ["get"]},
        {"apiGroups": [""], "resources": ["nodes/proxy"], "verbs": ["get"]},
    ]


def test_fake_node_mode_needs_no_cluster_role_and_nodes_mode_only_reads_nodes(helm_bin: Path) -> None:
    assert objects(render(helm_bin, {}), "ClusterRole") == []
    rules = one(render(helm_bin, {"sync": ["+nodes"]}), "ClusterRole")["rules"]
    assert rules == [{"apiGroups": [""], "resources": ["nodes"], "verbs": ["get", "list", "watch"]}]


def test_leader_election_grants_only_its_own_lease_and_not_in_dry_run(helm_bin: Path) -> None:
    docs = render(helm_bin, {"syncer": {"flags": {"leaderElect": True, "name": "a" * 60}}})
    lease_rules = [r for r in one(docs, "Role", f"{RELEASE}-own")["rules"] if r["resources"] == ["leases"]]
    assert lease_rules == [
        {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["create"]},
        {
            "apiGroups": ["coordination.k8s.io"],
            "resources": ["leases"],
            "resourceNames": [leader_lease_name("a" * 60)],  # the truncated, hashed name of SPEC §3
            "verbs": ["get", "update"],
        },
    ]
    dry = render(helm_bin, {"syncer": {"flags": {"leaderElect": True, "dryRun": True}}})
    assert len(one(dry, "Role", f"{RELEASE}-own")["rules"]) == 1


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"syncer": {"flags": {"bogus": 1}}}, "bogus"),
        ({"sync": ["+bogus"]}, "/sync/0"),
        ({"sync": ["namespaces"]}, "kind namespaces is not implemented yet"),
        ({"sync": ["+storageclasses", "+hoststorageclasses"]}, "cannot both be enabled"),
        ({"syncer": {"flags": {"syncAllNodes": True}}}, "needs the nodes kind"),
        ({"syncer": {"flags": {"podSecurityStandard": "lax"}}}, "podSecurityStandard"),
        ({"syncer": {"flags": {"leaseDuration": "soon"}}}, "leaseDuration"),
        ({"syncer": {"flags": {"name": "Not_A_Label"}}}, "name"),
    ],
    ids=["unknown-flag", "unknown-kind", "later-kind", "conflicting-kinds", "all-nodes", "enum", "duration", "label"],
)
def test_values_vcsync_would_reject_are_refused_at_render_time(
    helm_bin: Path, values: dict[str, Any], message: str
) -> None:
    assert message in render_error(helm_bin, values)


def test_control_plane_defaults_to_upstream_images_of_the_pinned_kubernetes(helm_bin: Path) -> None:
    docs = render(helm_bin, {"controlPlane": {"serviceCIDR": "10.96.0.0/16"}})
    apiserver, etcd = container(docs, "kube-apiserver"), container(docs, "etcd")
    assert apiserver["image"] == f"registry.k8s.io/kube-apiserver:{kube_version()}"
    assert container(docs, "kube-controller-manager")["image"] == (
        f"registry.k8s.io/kube-controller-manager:{kube_version()}"
    )
    assert etcd["image"].startswith("registry.k8s.io/etcd:")
    assert "--endpoint-reconciler-type=none" in apiserver["args"]
    assert "--service-cluster-ip-range=10.96.0.0/16" in apiserver["args"]
    assert "--etcd-servers=http://127.0.0.1:2379" in apiserver["args"]

    replaced = render(helm_bin, {"controlPlane": {"etcd": {"args": ["--data-dir=/d"], "extraArgs": ["--x=1"]}}})
    assert container(replaced, "etcd")["args"] == ["--data-dir=/d", "--x=1"]


def test_only_the_vcsync_image_gets_the_host_token_and_only_its_init_step_the_ca_key(helm_bin: Path) -> None:
    docs = render(helm_bin, {"controlPlane": {"apiserver": {"extraCertSANs": ["vc.example.com"]}}})
    pod = one(docs, "StatefulSet")["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False
    every = [*pod["initContainers"], *pod["containers"]]

    def mounting(path: str) -> set[str]:
        return {c["name"] for c in every for m in c.get("volumeMounts", []) if m["mountPath"] == path}

    assert mounting("/var/run/secrets/kubernetes.io/serviceaccount") == {"vcsync", "serving-cert"}
    assert mounting("/etc/vcsync/ca") == {"serving-cert"}
    volumes = {v["name"]: v for v in pod["volumes"]}
    ca_keys = {name for name, v in volumes.items() if "ca.key" in str(v.get("secret", {}).get("items"))}
    assert ca_keys == {"ca"}
    (init,) = pod["initContainers"]
    assert init["args"][0] == "serving-cert" and "--san=vc.example.com" in init["args"]
    assert "--tls-cert-file=/etc/vcsync/serving/apiserver.crt" in container(docs, "kube-apiserver")["args"]
    assert "apiserver.crt" not in one(docs, "Secret", f"{RELEASE}-certs")["data"]  # signed at pod start instead
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert all(c["securityContext"]["allowPrivilegeEscalation"] is False for c in every)


def test_isolation_objects_render_only_when_enabled(helm_bin: Path) -> None:
    assert not {"ResourceQuota", "LimitRange", "NetworkPolicy"} & {d["kind"] for d in render(helm_bin, {})}
    docs = render(helm_bin, {**EVERYTHING, "syncer": {"flags": {"targetNamespace": "tenant-pods"}}})
    for kind in ("ResourceQuota", "LimitRange", "NetworkPolicy"):
        assert one(docs, kind)["metadata"]["namespace"] == "tenant-pods"
    policy = one(docs, "NetworkPolicy")["spec"]
    assert policy["podSelector"] == {"matchLabels": {"vcluster.loft.sh/managed-by": RELEASE}}
    assert one(docs, "Role", RELEASE)["metadata"]["namespace"] == "tenant-pods"
    assert one(docs, "Role", f"{RELEASE}-own")["metadata"]["namespace"] == "vcsync"


def test_dockerfile_passes_hadolint_and_runs_vcsync_as_non_root() -> None:
    hadolint = find_venv_tool("hadolint")
    dockerfile = ROOT / "Dockerfile"
    result = subprocess.run(
        [str(hadolint), "--failure-threshold", "style", str(dockerfile)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    final_stage = dockerfile.read_text().rsplit("\nFROM ", 1)[1]
    assert final_stage.startswith("${BASE}\n")  # the same local Debian base as the builder (hack/image/base.sh)
    assert 'ENTRYPOINT ["vcsync"]' in final_stage and 'CMD ["run"]' in final_stage
    assert "USER 65532:65532" in final_stage and "HEALTHCHECK" not in final_stage
    assert "pip install" not in final_stage  # the runtime only receives the built virtualenv


def test_pause_subjects_alone_get_the_pause_roles_in_both_namespaces(helm_bin: Path) -> None:
    assert [r for r in objects(render(helm_bin, {}), "Role") if r["metadata"]["name"].endswith("-pause")] == []
    group = {"kind": "Group", "name": "platform-ops", "apiGroup": "rbac.authorization.k8s.io"}
    values = {"rbac": {"pauseSubjects": [group]}, "syncer": {"flags": {"targetNamespace": "team-a-pods"}}}
    docs = render(helm_bin, values)
    roles = {
        r["metadata"]["namespace"]: r for r in objects(docs, "Role") if r["metadata"]["name"] == f"{RELEASE}-pause"
    }
    assert roles["vcsync"]["rules"] == [
        {"apiGroups": [""], "resources": ["services"], "resourceNames": [RELEASE], "verbs": ["get", "patch"]},
        {"apiGroups": ["apps"], "resources": ["statefulsets"], "verbs": ["list"]},
        {"apiGroups": ["apps"], "resources": ["statefulsets"], "resourceNames": [RELEASE], "verbs": ["patch"]},
        {"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]},
    ]
    assert roles["team-a-pods"]["rules"] == [{"apiGroups": [""], "resources": ["pods"], "verbs": ["list", "delete"]}]
    bindings = [b for b in objects(docs, "RoleBinding") if b["metadata"]["name"] == f"{RELEASE}-pause"]
    assert sorted(b["metadata"]["namespace"] for b in bindings) == ["team-a-pods", "vcsync"]
    assert all(b["subjects"] == [group] for b in bindings)
    vcsync_roles = [r for r in objects(docs, "Role") if not r["metadata"]["name"].endswith("-pause")]
    assert not any(
        "patch" in rule["verbs"] and "statefulsets" in rule["resources"] for r in vcsync_roles for rule in r["rules"]
    )
