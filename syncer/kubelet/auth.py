"""Who calls vcsync's kubelet endpoint, and may they: the rules of a real kubelet, answered by the *virtual* API server.
A client certificate signed by the configured CA names the user (CN) and groups (O); a bearer token is checked with a
TokenReview; every request is then authorized by a SubjectAccessReview on nodes/<subresource>. Answers are cached
briefly (kubelet defaults: tokens 2 min, allowed 5 min, denied 30 s) so streams do not cost a review each."""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from syncer.kube.api import KubeApi
from syncer.log import get_logger

log = get_logger("kubelet")

TOKEN_REVIEWS = "/apis/authentication.k8s.io/v1/tokenreviews"
ACCESS_REVIEWS = "/apis/authorization.k8s.io/v1/subjectaccessreviews"
CACHE_SIZE = 4096
KUBELET_API_ADMIN = "system:kubelet-api-admin"  # bootstrap ClusterRole: full access to the kubelet API


def apiserver_kubelet_binding(user: str) -> dict[str, Any]:
    """The ClusterRoleBinding that lets `user` (the API server's kubelet client certificate) call kubelets."""
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": "vcsync:apiserver-kubelet-client", "labels": {"app.kubernetes.io/managed-by": "vcsync"}},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": KUBELET_API_ADMIN},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}],
    }


@dataclass(frozen=True)
class User:
    name: str
    groups: tuple[str, ...] = ()
    uid: str = ""
    extra: tuple[tuple[str, tuple[str, ...]], ...] = field(default=())


def user_from_certificate(peercert: dict[str, Any] | None) -> User | None:
    """The user a verified client certificate names (ssl's getpeercert() form): CN is the name, O the groups."""
    if not peercert:
        return None
    attributes = [pair for rdn in peercert.get("subject", ()) for pair in rdn]
    names = [value for key, value in attributes if key == "commonName"]
    groups = tuple(value for key, value in attributes if key == "organizationName")
    return User(names[0], groups) if names else None


class _TtlCache:
    """A small LRU whose entries expire; the kubelet's webhook caches behave the same way."""

    def __init__(self) -> None:
        self._entries: OrderedDict[Any, tuple[float, Any]] = OrderedDict()

    def get(self, key: Any) -> Any:
        entry = self._entries.get(key)
        if entry is None or entry[0] < time.monotonic():
            self._entries.pop(key, None)
            return None
        self._entries.move_to_end(key)
        return entry[1]

    def put(self, key: Any, value: Any, ttl: float) -> None:
        self._entries[key] = (time.monotonic() + ttl, value)
        self._entries.move_to_end(key)
        while len(self._entries) > CACHE_SIZE:
            self._entries.popitem(last=False)


class Gatekeeper:
    """Authentication and authorization against the virtual API server (`api` must not carry a write gate: reviews
    are not writes, and a standby replica answers them too)."""

    def __init__(
        self, api: KubeApi, *, token_ttl: float = 120, allowed_ttl: float = 300, denied_ttl: float = 30
    ) -> None:
        self._api = api
        self._token_ttl, self._allowed_ttl, self._denied_ttl = token_ttl, allowed_ttl, denied_ttl
        self._tokens = _TtlCache()
        self._decisions = _TtlCache()

    async def authenticate(self, peercert: dict[str, Any] | None, authorization: str) -> User | None:
        user = user_from_certificate(peercert)
        if user is not None:
            return user
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        return await self._review_token(token.strip())

    async def _review_token(self, token: str) -> User | None:
        key = hashlib.sha256(token.encode()).hexdigest()
        cached = self._tokens.get(key)
        if cached is not None:
            return cached or None
        body = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": {"token": token}}
        status = (await self._api.request("POST", TOKEN_REVIEWS, verb="review", body=body)).get("status") or {}
        user: User | None = None
        if status.get("authenticated"):
            info = status.get("user") or {}
            extra = tuple(sorted((k, tuple(v)) for k, v in (info.get("extra") or {}).items()))
            user = User(info.get("username", ""), tuple(info.get("groups") or ()), info.get("uid", ""), extra)
        self._tokens.put(key, user or False, self._token_ttl)
        return user

    async def authorize(self, user: User, verb: str, node: str, subresources: tuple[str, ...]) -> bool:
        """Whether `user` may `verb` nodes/<subresource> of `node` for any of `subresources`, tried in order (the
        kubelet's fine-grained checks fall back to nodes/proxy the same way)."""
        for subresource in subresources:
            key = (user, verb, node, subresource)
            allowed = self._decisions.get(key)
            if allowed is None:
                allowed = await self._review_access(user, verb, node, subresource)
                self._decisions.put(key, allowed, self._allowed_ttl if allowed else self._denied_ttl)
            if allowed:
                return True
        return False

    async def _review_access(self, user: User, verb: str, node: str, subresource: str) -> bool:
        spec: dict[str, Any] = {
            "user": user.name,
            "groups": list(user.groups),
            "resourceAttributes": {"verb": verb, "resource": "nodes", "subresource": subresource, "name": node},
        }
        if user.uid:
            spec["uid"] = user.uid
        if user.extra:
            spec["extra"] = {k: list(v) for k, v in user.extra}
        body = {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "spec": spec}
        status = (await self._api.request("POST", ACCESS_REVIEWS, verb="review", body=body)).get("status") or {}
        return bool(status.get("allowed"))
