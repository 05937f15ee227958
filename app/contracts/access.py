"""Access: role grants and revocations."""

from __future__ import annotations

from app.contracts.values import ContractModel, Id, Label, Text


class RoleGrantedData(ContractModel):
    """role.granted v1: a role was granted to a principal."""

    role: Label
    grantee_id: Id
    scope: Label | None = None


class RoleRevokedData(ContractModel):
    """role.revoked v1: a role was taken away from a principal."""

    role: Label
    grantee_id: Id
    scope: Label | None = None
    reason: Text | None = None
