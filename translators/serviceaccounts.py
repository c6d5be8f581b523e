"""ServiceAccounts down (SPEC §6.7): pods run on host as `H(sa, ns)`, so a tenant's workload-identity annotations
(GKE, EKS, Azure) reach the host through the copied metadata. The account carries nothing else: its token Secrets
and pull secrets are virtual names, and host tokens are never mounted (vcsync provides virtual tokens itself)."""

from __future__ import annotations

from translators.kind import KindSpec, Obj, SyncContext
from vocab.resources import SERVICEACCOUNTS


def desired(ctx: SyncContext, account: Obj) -> Obj:
    """Metadata only: `secrets` and `imagePullSecrets` are owned and left out, which clears them."""
    return {"automountServiceAccountToken": False}


KIND = KindSpec(
    name="serviceaccounts",
    resource=SERVICEACCOUNTS,
    owned=("automountServiceAccountToken", "secrets", "imagePullSecrets"),
    desired=desired,
)
