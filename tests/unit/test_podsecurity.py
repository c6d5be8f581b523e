"""Pod Security Standard checks (SPEC §8.1): a pod that passes here runs on the host with whatever it asked for, so
each rule must fire on its minimal violating pod, stay quiet on the values the standard allows, and name the
offending container, volume or value in the tenant's SyncError."""

from __future__ import annotations

from typing import Any

import pytest

from translators.podsecurity import LEVELS, Violation, check_pod, refusal_message

Obj = dict[str, Any]


def container(name: str = "app", security: Obj | None = None, **fields: Any) -> Obj:
    return {"name": name, "image": "nginx", **fields, **({"securityContext": security} if security else {})}


def pod(*containers: Obj, annotations: Obj | None = None, **spec: Any) -> Obj:
    metadata = {"name": "web", "namespace": "team-a", **({"annotations": annotations} if annotations else {})}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": {"containers": list(containers), **spec}}


RESTRICTED_CONTAINER = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}
RESTRICTED_POD = {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}


def restricted_pod(*containers: Obj, **spec: Any) -> Obj:
    return pod(*containers, securityContext={**RESTRICTED_POD, **spec.pop("securityContext", {})}, **spec)


def rules(pod_: Obj, level: str) -> list[str]:
    return [violation.rule for violation in check_pod(pod_, level)]


def details(pod_: Obj, level: str) -> dict[str, str]:
    return {violation.rule: violation.detail for violation in check_pod(pod_, level)}


# ---- levels -------------------------------------------------------------------------------------------------------
def test_levels_are_ordered_from_open_to_strict() -> None:
    assert LEVELS == ("privileged", "baseline", "restricted")


def test_plain_pod_passes_baseline() -> None:
    assert check_pod(pod(container()), "baseline") == []


def test_plain_pod_fails_restricted_on_the_four_hardening_rules() -> None:
    assert check_pod(pod(container()), "restricted") == [
        Violation("capabilities_restricted", 'container "app" must set securityContext.capabilities.drop=["ALL"]'),
        Violation(
            "seccompProfile_restricted",
            'pod or container "app" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost"',
        ),
        Violation(
            "allowPrivilegeEscalation", 'container "app" must set securityContext.allowPrivilegeEscalation=false'
        ),
        Violation("runAsNonRoot", 'pod or container "app" must set securityContext.runAsNonRoot=true'),
    ]


def test_privileged_level_passes_a_privileged_host_path_pod() -> None:
    wide_open = pod(
        container(security={"privileged": True, "capabilities": {"add": ["SYS_ADMIN"]}}, ports=[{"hostPort": 80}]),
        hostNetwork=True,
        hostPID=True,
        volumes=[{"name": "root", "hostPath": {"path": "/"}}],
    )
    assert check_pod(wide_open, "privileged") == []
    assert "privileged" in rules(wide_open, "baseline")


def test_restricted_compliant_pod_passes_every_level() -> None:
    compliant = restricted_pod(container(security=RESTRICTED_CONTAINER))
    assert [check_pod(compliant, level) for level in LEVELS] == [[], [], []]


def test_unknown_level_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown Pod Security level 'strict'"):
        check_pod(pod(container()), "strict")


# ---- every baseline rule, by a minimal pod ------------------------------------------------------------------------
BASELINE_VIOLATIONS = [
    (
        "hostProcess",
        pod(
            container(security={"windowsOptions": {"hostProcess": True}}),
            securityContext={"windowsOptions": {"hostProcess": True}},
        ),
        'pod and container "app" must not set securityContext.windowsOptions.hostProcess=true',
    ),
    ("hostNamespaces", pod(container(), hostNetwork=True, hostIPC=True), "hostNetwork=true, hostIPC=true"),
    (
        "privileged",
        pod(container(security={"privileged": True})),
        'container "app" must not set securityContext.privileged=true',
    ),
    (
        "capabilities_baseline",
        pod(container(security={"capabilities": {"add": ["CHOWN", "SYS_ADMIN", "NET_RAW"]}})),
        'container "app" must not include "NET_RAW", "SYS_ADMIN" in securityContext.capabilities.add',
    ),
    (
        "hostPathVolumes",
        pod(container(), volumes=[{"name": "logs", "hostPath": {"path": "/var/log"}}]),
        'volume "logs"',
    ),
    (
        "hostPorts",
        pod(container(ports=[{"containerPort": 80, "hostPort": 8080}, {"containerPort": 443, "hostPort": 443}])),
        'container "app" uses hostPorts 443, 8080',
    ),
    (
        "hostProbesAndHostLifecycle",
        pod(container(livenessProbe={"httpGet": {"host": "10.0.0.1", "port": 8080}})),
        'container "app" uses probe or lifecycle host "10.0.0.1"',
    ),
    (
        "appArmorProfile",
        pod(container(security={"appArmorProfile": {"type": "Unconfined"}})),
        'container "app" must not set AppArmor profile type to "Unconfined"',
    ),
    (
        "appArmorProfile",
        pod(container(), annotations={"container.apparmor.security.beta.kubernetes.io/app": "unconfined"}),
        'container.apparmor.security.beta.kubernetes.io/app="unconfined"',
    ),
    (
        "seLinuxOptions",
        pod(container(security={"seLinuxOptions": {"type": "spc_t", "user": "system_u"}})),
        'container "app" set forbidden securityContext.seLinuxOptions: type "spc_t", user may not be set',
    ),
    (
        "seLinuxOptions",
        pod(container(), securityContext={"seLinuxOptions": {"role": "sysadm_r"}}),
        "pod set forbidden securityContext.seLinuxOptions: role may not be set",
    ),
    (
        "procMount",
        pod(container(security={"procMount": "Unmasked"})),
        'container "app" must not set securityContext.procMount to "Unmasked"',
    ),
    (
        "seccompProfile_baseline",
        pod(container(), securityContext={"seccompProfile": {"type": "Unconfined"}}),
        'pod must not set securityContext.seccompProfile.type to "Unconfined"',
    ),
    (
        "sysctls",
        pod(
            container(),
            securityContext={
                "sysctls": [{"name": "kernel.msgmax", "value": "1"}, {"name": "net.core.somaxconn", "value": "1"}]
            },
        ),
        "kernel.msgmax, net.core.somaxconn",
    ),
]


@pytest.mark.parametrize(
    ("rule", "violating", "detail"), BASELINE_VIOLATIONS, ids=[case[0] for case in BASELINE_VIOLATIONS]
)
def test_each_baseline_rule_refuses_its_minimal_pod_and_is_named_in_the_message(
    rule: str, violating: Obj, detail: str
) -> None:
    assert check_pod(violating, "baseline") == [Violation(rule, detail)]
    assert refusal_message("baseline", check_pod(violating, "baseline")) == (
        f'violates PodSecurity "baseline:latest": {rule}: {detail}'
    )


@pytest.mark.parametrize(
    "allowed",
    [
        pod(
            container(
                security={"privileged": False, "capabilities": {"add": ["CHOWN", "NET_BIND_SERVICE", "SYS_CHROOT"]}}
            )
        ),
        pod(container(ports=[{"containerPort": 80, "hostPort": 0}, {"containerPort": 81}])),
        pod(container(security={"appArmorProfile": {"type": "Localhost", "localhostProfile": "k8s-nginx"}})),
        pod(container(), securityContext={"appArmorProfile": {"type": "RuntimeDefault"}}),
        pod(
            container("app"),
            container("side"),
            annotations={
                "container.apparmor.security.beta.kubernetes.io/app": "runtime/default",
                "container.apparmor.security.beta.kubernetes.io/side": "localhost/k8s-nginx",
            },
        ),
        pod(container(security={"seLinuxOptions": {"type": "container_init_t", "level": "s0:c123,c456"}})),
        pod(container(security={"procMount": "Default", "windowsOptions": {"hostProcess": False}})),
        pod(container(security={"seccompProfile": {"type": "Localhost", "localhostProfile": "audit.json"}})),
        pod(container(), hostNetwork=False, volumes=[{"name": "scratch", "emptyDir": {}}]),
        pod(
            container(),
            securityContext={
                "sysctls": [
                    {"name": name, "value": "1"}
                    for name in (
                        "kernel.shm_rmid_forced",
                        "net.ipv4.ip_local_port_range",
                        "net.ipv4.ip_local_reserved_ports",
                        "net.ipv4.ip_unprivileged_port_start",
                        "net.ipv4.ping_group_range",
                        "net.ipv4.tcp_fin_timeout",
                        "net.ipv4.tcp_keepalive_intvl",
                        "net.ipv4.tcp_keepalive_probes",
                        "net.ipv4.tcp_keepalive_time",
                        "net.ipv4.tcp_rmem",
                        "net.ipv4.tcp_syncookies",
                        "net.ipv4.tcp_wmem",
                    )
                ]
            },
        ),
    ],
    ids=[
        "capabilities",
        "hostPort-0",
        "apparmor-localhost",
        "apparmor-pod",
        "apparmor-annotations",
        "selinux",
        "procMount",
        "seccomp",
        "volumes",
        "sysctls",
    ],
)
def test_values_the_baseline_allows_pass(allowed: Obj) -> None:
    assert check_pod(allowed, "baseline") == []


def test_each_offending_container_is_listed_once_with_plural_wording() -> None:
    two = pod(container("a", {"privileged": True}), container("b", {"privileged": True}), container("ok"))
    assert details(two, "baseline") == {
        "privileged": 'containers "a", "b" must not set securityContext.privileged=true'
    }


def test_host_ports_of_several_containers_are_merged() -> None:
    both = pod(container("a", ports=[{"hostPort": 9090}]), container("b", ports=[{"hostPort": 80}]))
    assert details(both, "baseline") == {"hostPorts": 'containers "a", "b" use hostPorts 80, 9090'}


def test_refusal_message_joins_several_violations_after_one_prefix() -> None:
    bad = pod(container(security={"privileged": True}), hostPID=True)
    assert refusal_message("baseline", check_pod(bad, "baseline")) == (
        'violates PodSecurity "baseline:latest": hostNamespaces: hostPID=true; '
        'privileged: container "app" must not set securityContext.privileged=true'
    )


def test_refusal_message_needs_a_violation() -> None:
    with pytest.raises(ValueError, match="at least one violation"):
        refusal_message("baseline", [])


# ---- probe and lifecycle hosts (latest Kubernetes, v1.34+, beyond the SPEC's list) --------------------------------
def test_probe_host_is_refused_at_baseline_for_every_probe_kind_and_container_kind() -> None:
    probing = pod(
        container("web", readinessProbe={"tcpSocket": {"host": "169.254.169.254", "port": 80}}),
        container("app", startupProbe={"httpGet": {"host": "10.0.0.1", "path": "/", "port": 80}}),
        initContainers=[container("setup", livenessProbe={"tcpSocket": {"host": "10.0.0.1", "port": 22}})],
    )
    assert check_pod(probing, "baseline") == [
        Violation(
            "hostProbesAndHostLifecycle",
            'containers "app", "setup", "web" use probe or lifecycle hosts "10.0.0.1", "169.254.169.254"',
        )
    ]


def test_lifecycle_pre_stop_http_get_host_is_refused() -> None:
    hook = pod(container(lifecycle={"preStop": {"httpGet": {"host": "metadata.internal", "path": "/", "port": 80}}}))
    assert refusal_message("baseline", check_pod(hook, "baseline")) == (
        'violates PodSecurity "baseline:latest": hostProbesAndHostLifecycle: '
        'container "app" uses probe or lifecycle host "metadata.internal"'
    )


def test_lifecycle_post_start_tcp_socket_host_is_refused() -> None:
    hook = pod(container(lifecycle={"postStart": {"tcpSocket": {"host": "10.0.0.9", "port": 80}}}))
    assert details(hook, "baseline") == {
        "hostProbesAndHostLifecycle": 'container "app" uses probe or lifecycle host "10.0.0.9"'
    }


def test_probe_host_is_refused_at_restricted_too() -> None:
    probing = restricted_pod(
        container(security=RESTRICTED_CONTAINER, livenessProbe={"httpGet": {"host": "10.0.0.1", "port": 80}})
    )
    assert rules(probing, "restricted") == ["hostProbesAndHostLifecycle"]
    assert check_pod(probing, "privileged") == []


def test_empty_or_absent_probe_and_lifecycle_host_is_allowed() -> None:
    handlers = {
        "livenessProbe": {"httpGet": {"host": "", "path": "/healthz", "port": 8080}},
        "readinessProbe": {"tcpSocket": {"port": 8080}},
        "startupProbe": {"exec": {"command": ["true"]}},
        "lifecycle": {"postStart": {"httpGet": {"host": None, "port": 80}}, "preStop": {"sleep": {"seconds": 5}}},
    }
    assert check_pod(pod(container(**handlers)), "baseline") == []
    assert check_pod(restricted_pod(container(security=RESTRICTED_CONTAINER, **handlers)), "restricted") == []


# ---- all container kinds ------------------------------------------------------------------------------------------
def test_init_and_ephemeral_containers_are_checked_in_baseline() -> None:
    sneaky = pod(
        container(),
        initContainers=[container("setup", {"privileged": True})],
        ephemeralContainers=[
            {**container("debug", {"capabilities": {"add": ["SYS_PTRACE"]}}), "targetContainerName": "app"}
        ],
    )
    assert details(sneaky, "baseline") == {
        "privileged": 'container "setup" must not set securityContext.privileged=true',
        "capabilities_baseline": 'container "debug" must not include "SYS_PTRACE" in securityContext.capabilities.add',
    }


def test_init_and_ephemeral_containers_must_be_hardened_for_restricted() -> None:
    partly = restricted_pod(
        container(security=RESTRICTED_CONTAINER),
        initContainers=[container("setup")],
        ephemeralContainers=[container("debug", RESTRICTED_CONTAINER)],
    )
    assert details(partly, "restricted") == {
        "capabilities_restricted": 'container "setup" must set securityContext.capabilities.drop=["ALL"]',
        "allowPrivilegeEscalation": 'container "setup" must set securityContext.allowPrivilegeEscalation=false',
    }


# ---- restricted rules and pod/container precedence ----------------------------------------------------------------
def test_run_as_non_root_may_be_set_per_container_instead_of_on_the_pod() -> None:
    per_container = pod(
        container("a", {**RESTRICTED_CONTAINER, "runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}),
        container("b", {**RESTRICTED_CONTAINER, "runAsNonRoot": True, "seccompProfile": {"type": "Localhost"}}),
    )
    assert check_pod(per_container, "restricted") == []


def test_run_as_non_root_names_only_containers_the_pod_level_does_not_cover() -> None:
    one_unset = pod(
        container("a", {**RESTRICTED_CONTAINER, "runAsNonRoot": True}),
        container("b", RESTRICTED_CONTAINER),
        securityContext={"seccompProfile": {"type": "RuntimeDefault"}},
    )
    assert check_pod(one_unset, "restricted") == [
        Violation("runAsNonRoot", 'pod or container "b" must set securityContext.runAsNonRoot=true')
    ]


def test_container_run_as_non_root_false_overrides_the_pod_and_is_refused() -> None:
    overridden = restricted_pod(container(security={**RESTRICTED_CONTAINER, "runAsNonRoot": False}))
    assert details(overridden, "restricted") == {
        "runAsNonRoot": 'container "app" must not set securityContext.runAsNonRoot=false'
    }


def test_pod_run_as_non_root_false_is_refused_even_when_every_container_sets_true() -> None:
    explicit = restricted_pod(
        container(security={**RESTRICTED_CONTAINER, "runAsNonRoot": True}), securityContext={"runAsNonRoot": False}
    )
    assert details(explicit, "restricted") == {"runAsNonRoot": "pod must not set securityContext.runAsNonRoot=false"}


def test_run_as_user_zero_is_refused_at_pod_and_container_level() -> None:
    root = restricted_pod(
        container(security={**RESTRICTED_CONTAINER, "runAsUser": 0}), securityContext={"runAsUser": 0}
    )
    assert details(root, "restricted") == {"runAsUser": 'pod and container "app" must not set runAsUser=0'}
    assert (
        check_pod(
            restricted_pod(container(security=RESTRICTED_CONTAINER), securityContext={"runAsUser": 1000}), "restricted"
        )
        == []
    )


def test_container_seccomp_profile_overrides_a_confining_pod_profile() -> None:
    unconfined = restricted_pod(container(security={**RESTRICTED_CONTAINER, "seccompProfile": {"type": "Unconfined"}}))
    assert check_pod(unconfined, "restricted") == [
        Violation(
            "seccompProfile_restricted",
            'container "app" must not set securityContext.seccompProfile.type to "Unconfined"',
        )
    ]


def test_seccomp_profile_may_be_set_on_each_container_instead_of_on_the_pod() -> None:
    per_container = pod(
        container(security={**RESTRICTED_CONTAINER, "seccompProfile": {"type": "RuntimeDefault"}}),
        securityContext={"runAsNonRoot": True},
    )
    assert check_pod(per_container, "restricted") == []


def test_allow_privilege_escalation_must_be_explicitly_false() -> None:
    escalating = restricted_pod(container(security={**RESTRICTED_CONTAINER, "allowPrivilegeEscalation": True}))
    assert details(escalating, "restricted") == {
        "allowPrivilegeEscalation": 'container "app" must set securityContext.allowPrivilegeEscalation=false'
    }


def test_restricted_capabilities_allow_only_net_bind_service_after_dropping_all() -> None:
    binding = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}}
    assert check_pod(restricted_pod(container(security=binding)), "restricted") == []
    greedy = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["NET_RAW"], "add": ["CHOWN"]}}
    assert check_pod(restricted_pod(container(security=greedy)), "restricted") == [
        Violation(
            "capabilities_restricted",
            'container "app" must set securityContext.capabilities.drop=["ALL"], '
            'container "app" must not include "CHOWN" in securityContext.capabilities.add',
        )
    ]


def test_restricted_volumes_allow_only_the_listed_types() -> None:
    allowed = [
        {"name": name, kind: {}}
        for name, kind in [
            ("cm", "configMap"),
            ("csi", "csi"),
            ("downward", "downwardAPI"),
            ("scratch", "emptyDir"),
            ("eph", "ephemeral"),
            ("data", "persistentVolumeClaim"),
            ("token", "projected"),
            ("creds", "secret"),
        ]
    ]
    assert check_pod(restricted_pod(container(security=RESTRICTED_CONTAINER), volumes=allowed), "restricted") == []
    mixed = [
        *allowed,
        {"name": "share", "nfs": {"server": "nas", "path": "/"}},
        {"name": "repo", "gitRepo": {"repository": "x"}},
    ]
    assert details(restricted_pod(container(security=RESTRICTED_CONTAINER), volumes=mixed), "restricted") == {
        "restrictedVolumes": 'volumes "share", "repo" use restricted volume types "gitRepo", "nfs"'
    }


def test_image_volume_is_allowed_at_restricted() -> None:
    """Latest Kubernetes admits `image` volumes at restricted, beyond the SPEC's eight types."""
    tools = [{"name": "tools", "image": {"reference": "registry.example/tools:1.0", "pullPolicy": "IfNotPresent"}}]
    assert check_pod(restricted_pod(container(security=RESTRICTED_CONTAINER), volumes=tools), "restricted") == []
    assert check_pod(pod(container(), volumes=tools), "baseline") == []


def test_restricted_reports_a_stricter_rule_instead_of_its_baseline_counterpart() -> None:
    bad = restricted_pod(
        container(
            security={
                **RESTRICTED_CONTAINER,
                "seccompProfile": {"type": "Unconfined"},
                "capabilities": {"drop": ["ALL"], "add": ["SYS_ADMIN"]},
            }
        ),
        volumes=[{"name": "root", "hostPath": {"path": "/"}}],
    )
    assert rules(bad, "restricted") == ["capabilities_restricted", "restrictedVolumes", "seccompProfile_restricted"]
    assert rules(bad, "baseline") == ["capabilities_baseline", "hostPathVolumes", "seccompProfile_baseline"]
    assert details(bad, "restricted")["restrictedVolumes"] == 'volume "root" uses restricted volume type "hostPath"'


# ---- upstream exemptions ------------------------------------------------------------------------------------------
def test_user_namespace_pods_may_run_as_root_and_unmask_proc_at_baseline() -> None:
    userns = restricted_pod(
        container(security={**RESTRICTED_CONTAINER, "runAsUser": 0, "procMount": "Unmasked"}),
        securityContext={"runAsNonRoot": False},
        hostUsers=False,
    )
    assert check_pod(userns, "baseline") == []
    assert check_pod(userns, "restricted") == [
        Violation("procMount", 'container "app" must not set securityContext.procMount to "Unmasked"')
    ]
    assert rules({**userns, "spec": {**userns["spec"], "hostUsers": True}}, "restricted") == [
        "procMount",
        "runAsNonRoot",
        "runAsUser",
    ]


def test_windows_pods_skip_the_linux_only_restricted_rules() -> None:
    windows = pod(container(), os={"name": "windows"}, securityContext={"runAsNonRoot": True})
    assert check_pod(windows, "restricted") == []
