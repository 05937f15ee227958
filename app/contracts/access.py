"""Access: role grants and revocations, API keys."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from app.contracts.declare import event_contract
from app.contracts.values import ContractModel, Id, Label, Text, Timestamp


@event_contract("role.granted", version=1, examples=[{"role": "admin", "granteeId": "u_7", "scope": "billing"}])
class RoleGrantedData(ContractModel):
    """A role was granted to a principal."""

    role: Label
    grantee_id: Id
    scope: Label | None = None


@event_contract(
    "role.revoked", version=1, examples=[{"role": "admin", "granteeId": "u_7", "scope": None, "reason": "left team"}]
)
class RoleRevokedData(ContractModel):
    """A role was taken away from a principal."""

    role: Label
    grantee_id: Id
    scope: Label | None = None
    reason: Text | None = None


@event_contract(
    "api_key.created",
    version=1,
    examples=[{"keyId": "k_1", "name": "ci", "scopes": ["events:write"], "expiresAt": "2027-01-01T00:00:00.000000Z"}],
)
class ApiKeyCreatedData(ContractModel):
    """An API key was issued."""

    key_id: Id
    name: Label
    scopes: Annotated[list[Id], Field(max_length=50)]
    expires_at: Timestamp | None = None


@event_contract("api_key.revoked", version=1, examples=[{"keyId": "k_1", "reason": "rotated"}])
class ApiKeyRevokedData(ContractModel):
    """An API key was revoked."""

    key_id: Id
    reason: Text | None = None
