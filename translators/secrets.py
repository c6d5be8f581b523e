"""Secrets (SPEC §6.4): like ConfigMaps, synced only while used. Service-account-token Secrets become Opaque on
the host (the host must not treat them as its own tokens); a changed type or immutable content is recreated.
Secret data is compared and written, never logged."""

from __future__ import annotations

from translators.configmaps import immutable_and_changed, is_used
from translators.ingresses import secrets_referenced
from translators.kind import KindSpec, Obj, SyncContext, Trigger
from translators.references import referenced_keys
from vocab.resources import INGRESSES, PODS, SECRETS

SA_TOKEN_TYPE = "kubernetes.io/service-account-token"
CONTENT = ("data",)


def pods_referencing(pod: Obj) -> tuple[str, ...]:
    return referenced_keys(pod, "secrets")


def host_type(secret: Obj) -> str:
    kind = secret.get("type") or "Opaque"
    return "Opaque" if kind == SA_TOKEN_TYPE else kind


def desired(ctx: SyncContext, secret: Obj) -> Obj:
    body = {key: secret[key] for key in ("data", "immutable") if key in secret}
    body["type"] = host_type(secret)
    return body


def used_by_ingress(ctx: SyncContext, secret: Obj) -> bool:
    """While Ingresses sync, a Secret an Ingress references (TLS, nginx auth annotations) is used too."""
    meta = secret["metadata"]
    key = f"{meta['namespace']}/{meta['name']}"
    return "ingresses" in ctx.config.sync and bool(ctx.virtual(INGRESSES).keys_by_index("secrets", key))


def must_recreate(host: Obj, want: Obj) -> bool:
    return (host.get("type") or "Opaque") != want["type"] or immutable_and_changed(host, want, CONTENT)


KIND = KindSpec(
    name="secrets",
    resource=SECRETS,
    owned=("data", "immutable", "type"),
    desired=desired,
    should_sync=lambda ctx, s: (
        is_used(ctx, s, sync_all=ctx.config.sync_all_secrets, index="secrets") or used_by_ingress(ctx, s)
    ),
    must_recreate=must_recreate,
    virtual_indexes={PODS: {"secrets": pods_referencing}, INGRESSES: {"secrets": secrets_referenced}},
    triggers=(Trigger("virtual", PODS, pods_referencing), Trigger("virtual", INGRESSES, secrets_referenced)),
)
