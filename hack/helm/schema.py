"""Writes helm/vcsync/values.schema.json. The `syncer.flags` part and the `sync` entries come from vcsync's own flag
table and kind names (syncer.config.FLAGS, syncer.kinds), so the chart cannot accept a flag or kind vcsync rejects,
nor miss one it has; the rest of the values are described here. `--check` exits 1 when the file is out of date
(the chart tests run it), the default rewrites it.

    .venv/bin/python hack/helm/schema.py [--check]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from syncer.config import FLAGS, LOG_FORMATS, LOG_LEVELS, POD_SECURITY_STANDARDS, Flag  # noqa: E402
from syncer.kinds import LATER_KINDS, VALID_KINDS  # noqa: E402
from vocab.flagvalues import check_non_negative  # noqa: E402

SCHEMA_PATH = ROOT / "helm" / "vcsync" / "values.schema.json"
CHART_FLAGS = ("sync",)  # top-level values rather than syncer.flags, because the RBAC is generated from them
DNS_LABEL = "^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"
DURATION = "^([0-9]+(\\.[0-9]+)?|([0-9]+(\\.[0-9]+)?(ms|h|m|s))+)$"
CHOICES = {"pod-security-standard": POD_SECURITY_STANDARDS, "log-format": LOG_FORMATS, "log-level": LOG_LEVELS}
LABELS = ("name", "target-namespace", "own-namespace", "service-name")


def camel(flag_name: str) -> str:
    """The values key of a flag: `host-qps` -> `hostQps` (the chart turns it back with sprig's kebabcase)."""
    head, *rest = flag_name.split("-")
    return head + "".join(word.capitalize() for word in rest)


def flag_schema(flag: Flag) -> dict[str, Any]:
    description = f"--{flag.name}: {flag.help}"
    if flag.is_list:
        return {"description": description, "type": ["array", "null"], "items": {"type": "string", "minLength": 1}}
    if flag.is_duration:
        return {
            "description": description,
            "type": ["string", "number", "null"],
            "pattern": DURATION,
            "exclusiveMinimum": 0,
        }
    if flag.type is bool:
        return {"description": description, "type": ["boolean", "null"]}
    if flag.type is int:
        least = 0 if flag.check is check_non_negative else 1
        return {
            "description": description,
            "type": ["integer", "string", "null"],
            "minimum": least,
            "pattern": "^[0-9]+$",
        }
    if flag.type is float:  # `helm --set` passes fractions as strings
        return {
            "description": description,
            "type": ["number", "string", "null"],
            "exclusiveMinimum": 0,
            "pattern": "^[0-9]+(\\.[0-9]+)?$",
        }
    schema: dict[str, Any] = {"description": description, "type": ["string", "null"]}
    if flag.name in CHOICES:
        schema["enum"] = [*CHOICES[flag.name], None]
    if flag.name in LABELS:
        schema["pattern"] = DNS_LABEL
    return schema


def _obj(properties: dict[str, Any], **more: Any) -> dict[str, Any]:
    return {"type": "object", "additionalProperties": False, "properties": properties, **more}


def _image() -> dict[str, Any]:
    return _obj(
        {
            "repository": {"type": "string", "minLength": 1},
            "tag": {"type": ["string", "number"]},
            "pullPolicy": {"enum": ["Always", "IfNotPresent", "Never"]},
        },
        required=["repository"],
    )


def _container(with_image: bool = True) -> dict[str, Any]:
    args = {"type": "array", "items": {"type": "string"}}
    properties: dict[str, Any] = {
        "args": {**args, "description": "non-empty replaces the chart's arguments"},
        "extraArgs": {**args, "description": "appended to the arguments"},
        "resources": {"type": "object"},
        "securityContext": {"type": "object"},
    }
    if with_image:
        properties["image"] = _image()
    return properties


def schema() -> dict[str, Any]:
    kinds = "|".join(sorted(VALID_KINDS | LATER_KINDS))  # later kinds pass, for the chart's "not implemented yet"
    entry = f"[+-]?({kinds})"
    flags = {camel(flag.name): flag_schema(flag) for flag in FLAGS if flag.name not in CHART_FLAGS}
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": "vcsync chart values",
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "sync": {
                "description": "--sync entries (kind, +kind, -kind; comma lists allowed); the RBAC follows them",
                "type": "array",
                "items": {"type": "string", "pattern": f"^\\s*{entry}(\\s*,\\s*{entry})*\\s*$"},
            },
            "syncer": _obj(
                {
                    "image": _image(),
                    "flags": _obj(flags, description="every other `vcsync run` flag; null leaves it out"),
                    "extraEnv": {"type": "array", "items": {"type": "object"}},
                    "extraVolumeMounts": {"type": "array", "items": {"type": "object"}},
                    "resources": {"type": "object"},
                    "securityContext": {"type": "object"},
                    "livenessProbe": {"type": "object"},
                    "readinessProbe": {"type": "object"},
                }
            ),
            "controlPlane": _obj(
                {
                    "serviceCIDR": {
                        "description": "the host's service CIDR",
                        "type": "string",
                        "pattern": "^[0-9a-fA-F.:]+/[0-9]+(,[0-9a-fA-F.:]+/[0-9]+)?$",
                    },
                    "serviceNodePortRange": {"type": "string", "pattern": "^([0-9]+-[0-9]+)?$"},
                    "etcd": _obj(_container()),
                    "apiserver": _obj(
                        {**_container(), "extraCertSANs": {"type": "array", "items": {"type": "string"}}}
                    ),
                    "controllerManager": _obj({**_container(), "enabled": {"type": "boolean"}}),
                },
                required=["serviceCIDR"],
            ),
            "persistence": _obj(
                {
                    "enabled": {"type": "boolean"},
                    "size": {"type": "string"},
                    "storageClassName": {"type": "string"},
                    "accessModes": {"type": "array", "items": {"type": "string"}, "minItems": 1},
                    "retainOnUninstall": {"type": "boolean"},
                }
            ),
            "service": _obj(
                {
                    "type": {"enum": ["ClusterIP", "NodePort", "LoadBalancer"]},
                    "clusterIP": {"type": "string"},
                    "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
                }
            ),
            "serviceAccount": _service_account(),
            "workloadServiceAccount": _service_account(),
            "rbac": _obj(
                {
                    "create": {"type": "boolean"},
                    "pauseSubjects": {
                        "description": "RBAC subjects allowed to run `vcsync pause` and `vcsync resume`",
                        "type": "array",
                        "items": {"type": "object", "required": ["kind", "name"]},
                    },
                }
            ),
            "isolation": _obj(
                {
                    "enabled": {"type": "boolean"},
                    "resourceQuota": _obj({"enabled": {"type": "boolean"}, "hard": {"type": "object"}}),
                    "limitRange": _obj(
                        {
                            "enabled": {"type": "boolean"},
                            "default": {"type": "object"},
                            "defaultRequest": {"type": "object"},
                            "max": {"type": "object"},
                        }
                    ),
                    "networkPolicy": _obj(
                        {
                            "enabled": {"type": "boolean"},
                            "outgoing": {
                                "description": "NetworkPolicyPeer list synced pods may connect to",
                                "type": "array",
                                "items": {"type": "object"},
                            },
                        }
                    ),
                }
            ),
            "fullnameOverride": {"type": "string", "pattern": "^([a-z0-9]([-a-z0-9]*[a-z0-9])?)?$"},
            "imagePullSecrets": {"type": "array", "items": {"type": "object"}},
            "podAnnotations": {"type": "object", "additionalProperties": {"type": "string"}},
            "podLabels": {"type": "object", "additionalProperties": {"type": "string"}},
            "podSecurityContext": {"type": "object"},
            "terminationGracePeriodSeconds": {"type": "integer", "minimum": 0},
            "priorityClassName": {"type": "string"},
            "nodeSelector": {"type": "object", "additionalProperties": {"type": "string"}},
            "tolerations": {"type": "array", "items": {"type": "object"}},
            "affinity": {"type": "object"},
            "extraVolumes": {"type": "array", "items": {"type": "object"}},
            "global": {"type": "object"},
        },
    }


def _service_account() -> dict[str, Any]:
    return _obj(
        {
            "create": {"type": "boolean"},
            "name": {"type": "string", "pattern": "^([a-z0-9]([-a-z0-9.]*[a-z0-9])?)?$"},
            "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
        }
    )


def rendered() -> str:
    return json.dumps(schema(), indent=2) + "\n"


def main(argv: list[str]) -> int:
    text = rendered()
    if "--check" in argv:
        if not SCHEMA_PATH.exists() or SCHEMA_PATH.read_text() != text:
            print(f"{SCHEMA_PATH.relative_to(ROOT)} is out of date: run python hack/helm/schema.py", file=sys.stderr)
            return 1
        return 0
    SCHEMA_PATH.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
