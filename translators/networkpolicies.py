"""NetworkPolicies down (SPEC §5, §6.7): every selector is confined to this tenant's pods, and a namespaceSelector
becomes a pod selector on the ns-label keys, since host pods all share one namespace. A host policy can therefore
never select or admit another tenant's pods; ipBlock peers, ports and policyTypes go down as they are."""

from __future__ import annotations

from typing import Any

from translators.kind import KindSpec, Obj, SyncContext
from translators.labels import ns_label_key, translate_label_selector
from vocab.resources import NETWORKPOLICIES

RULE_PEERS = (("ingress", "from"), ("egress", "to"))


def namespace_selector_labels(selector: Obj, suffix: str) -> Obj:
    """A virtual namespaceSelector as a host pod selector on the ns-label keys (its keys only, no markers)."""
    labels = {ns_label_key(key, suffix): value for key, value in (selector.get("matchLabels") or {}).items()}
    expressions = [
        {**expr, "key": ns_label_key(expr["key"], suffix)} for expr in selector.get("matchExpressions") or ()
    ]
    return {"matchLabels": labels, "matchExpressions": expressions}


def combine(first: Obj, second: Obj) -> Obj:
    """Both selectors at once (AND): labels merged, expressions concatenated."""
    expressions = [*first.get("matchExpressions", ()), *second.get("matchExpressions", ())]
    labels = {**first.get("matchLabels", {}), **second.get("matchLabels", {})}
    return {"matchLabels": labels, **({"matchExpressions": expressions} if expressions else {})}


def translate_peer(peer: Obj, suffix: str, namespace: str) -> Obj:
    """ipBlock peers are kept; others become one podSelector, with the namespace marker only when no
    namespaceSelector widened the peer beyond the policy's own namespace."""
    if "ipBlock" in peer:
        return peer
    namespaces = peer.get("namespaceSelector")
    scope = namespace if namespaces is None else None
    pods = translate_label_selector(peer.get("podSelector") or {}, suffix, scope) or {}
    if namespaces is not None:
        pods = combine(namespace_selector_labels(namespaces, suffix), pods)
    return {"podSelector": pods}


def translate_rules(rules: list[Obj], peers_key: str, suffix: str, namespace: str) -> list[Obj]:
    out = []
    for rule in rules:
        rule = dict(rule)
        if rule.get(peers_key) is not None:
            rule[peers_key] = [translate_peer(peer, suffix, namespace) for peer in rule[peers_key]]
        out.append(rule)
    return out


def desired(ctx: SyncContext, policy: Obj) -> Obj:
    spec = policy.get("spec") or {}
    suffix, namespace = ctx.names.suffix, policy["metadata"]["namespace"]
    out: dict[str, Any] = {"podSelector": translate_label_selector(spec.get("podSelector") or {}, suffix, namespace)}
    for rules_key, peers_key in RULE_PEERS:
        if spec.get(rules_key) is not None:
            out[rules_key] = translate_rules(spec[rules_key], peers_key, suffix, namespace)
    if "policyTypes" in spec:
        out["policyTypes"] = spec["policyTypes"]
    return {"spec": out}


KIND = KindSpec(name="networkpolicies", resource=NETWORKPOLICIES, owned=("spec",), desired=desired)
