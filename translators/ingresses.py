"""Ingresses down (SPEC §6.4, §6.7, §8.4): every Service, resource and Secret an Ingress names, in its spec or in
the nginx and AWS ALB annotations that carry names, is rewritten to the host copy's name, so a tenant's Ingress can
only reach its own objects. The ingress class is a host-global name and is copied as is."""

from __future__ import annotations

import json
from typing import Any

from translators.kind import KindSpec, Obj, SyncContext
from translators.metadata import desired_host_metadata
from translators.names import NameTranslator
from vocab.resources import INGRESSES

NGINX_SECRET_ANNOTATIONS = frozenset(
    f"nginx.ingress.kubernetes.io/{key}" for key in ("auth-secret", "auth-tls-secret", "proxy-ssl-secret")
)
ALB_PREFIXES = ("alb.ingress.kubernetes.io/actions.", "alb.ingress.kubernetes.io/conditions.")
ALB_ACTIONS = ALB_PREFIXES[0]


# ---- references ------------------------------------------------------------------------------------------------
def secret_ref(value: str, namespace: str) -> tuple[str, str] | None:
    """(namespace, name) of an nginx secret annotation value, `name` or `ns/name`; None if malformed."""
    parts = value.split("/")
    if len(parts) == 1:
        parts = [namespace, *parts]
    return (parts[0], parts[1]) if len(parts) == 2 and all(parts) else None


def secrets_referenced(ingress: Obj) -> list[str]:
    """`ns/name` keys of the virtual Secrets the Ingress uses: TLS secrets and the nginx secret annotations."""
    meta = ingress["metadata"]
    namespace = meta["namespace"]
    keys = [
        f"{namespace}/{tls['secretName']}"
        for tls in (ingress.get("spec") or {}).get("tls") or ()
        if tls.get("secretName")
    ]
    for key, value in (meta.get("annotations") or {}).items():
        ref = secret_ref(value, namespace) if key in NGINX_SECRET_ANNOTATIONS else None
        if ref:
            keys.append("/".join(ref))
    return list(dict.fromkeys(keys))


# ---- spec ------------------------------------------------------------------------------------------------------
def translate_backend(backend: Obj, names: NameTranslator, namespace: str) -> Obj:
    backend = dict(backend)
    for ref in ("service", "resource"):
        if (backend.get(ref) or {}).get("name"):
            backend[ref] = {**backend[ref], "name": names.to_host(namespace, backend[ref]["name"])[1]}
    return backend


def translate_rule(rule: Obj, names: NameTranslator, namespace: str) -> Obj:
    if not (rule.get("http") or {}).get("paths"):
        return rule
    paths = [
        {**path, "backend": translate_backend(path.get("backend") or {}, names, namespace)}
        for path in rule["http"]["paths"]
    ]
    return {**rule, "http": {**rule["http"], "paths": paths}}


def translate_tls(tls: Obj, names: NameTranslator, namespace: str) -> Obj:
    if not tls.get("secretName"):
        return tls
    return {**tls, "secretName": names.to_host(namespace, tls["secretName"])[1]}


def desired(ctx: SyncContext, ingress: Obj) -> Obj:
    """The translated spec. Without a virtual ingressClassName the host's value (set by a host default class) is
    kept, so it never shows as a difference."""
    spec, names = ingress.get("spec") or {}, ctx.names
    namespace, name = ingress["metadata"]["namespace"], ingress["metadata"]["name"]
    out: dict[str, Any] = {}
    if spec.get("defaultBackend"):
        out["defaultBackend"] = translate_backend(spec["defaultBackend"], names, namespace)
    if spec.get("rules"):
        out["rules"] = [translate_rule(rule, names, namespace) for rule in spec["rules"]]
    if spec.get("tls"):
        out["tls"] = [translate_tls(tls, names, namespace) for tls in spec["tls"]]
    host_ns, host_name = names.to_host(namespace, name)
    host = ctx.host(INGRESSES).get(f"{host_ns}/{host_name}") or {}
    class_name = spec.get("ingressClassName") or (host.get("spec") or {}).get("ingressClassName")
    if class_name:
        out["ingressClassName"] = class_name
    return {"spec": out}


# ---- annotations -----------------------------------------------------------------------------------------------
def translate_actions(value: str, names: NameTranslator, namespace: str) -> str:
    """An ALB actions JSON with forwardConfig.targetGroups[].serviceName translated; non-JSON is kept as is."""
    try:
        action = json.loads(value)
    except ValueError:
        return value
    groups = (action.get("forwardConfig") or {}).get("targetGroups") if isinstance(action, dict) else None
    if not groups:
        return value
    for group in groups:
        if isinstance(group, dict) and group.get("serviceName"):
            group["serviceName"] = names.to_host(namespace, group["serviceName"])[1]
    return json.dumps(action, separators=(",", ":"))


def translate_annotation(key: str, value: str, names: NameTranslator, namespace: str) -> tuple[str, str] | None:
    """The host (key, value) of one virtual annotation; None drops a malformed nginx secret reference, which could
    otherwise name a host Secret as is."""
    if key in NGINX_SECRET_ANNOTATIONS:
        ref = secret_ref(value, namespace)
        if ref is None:
            return None
        host_ns, host_name = names.to_host(*ref)
        return key, host_name if "/" not in value else f"{host_ns}/{host_name}"
    prefix = next((p for p in ALB_PREFIXES if key.startswith(p) and len(key) > len(p)), None)
    if prefix is None:
        return key, value
    host_key = prefix + names.to_host(namespace, key[len(prefix) :])[1]
    return host_key, translate_actions(value, names, namespace) if prefix == ALB_ACTIONS else value


def translate_annotations(annotations: dict[str, str], names: NameTranslator, namespace: str) -> dict[str, str]:
    pairs = (translate_annotation(key, value, names, namespace) for key, value in annotations.items())
    return dict(pair for pair in pairs if pair is not None)


def metadata(ctx: SyncContext, ingress: Obj, host: Obj | None) -> Obj:
    meta = ingress["metadata"]
    annotations = translate_annotations(meta.get("annotations") or {}, ctx.names, meta["namespace"])
    translated = {**ingress, "metadata": {**meta, "annotations": annotations}}
    return desired_host_metadata(
        translated, host, names=ctx.names, api_version=INGRESSES.api_version, kind=INGRESSES.kind
    )


KIND = KindSpec(
    name="ingresses",
    resource=INGRESSES,
    owned=("spec.ingressClassName", "spec.defaultBackend", "spec.rules", "spec.tls"),
    desired=desired,
    metadata=metadata,
)
