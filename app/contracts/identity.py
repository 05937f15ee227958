"""Identity: sign-ins and API keys."""

from __future__ import annotations

import enum
from typing import Annotated

from pydantic import Field

from app.contracts.values import ContractModel, Count, Id, Label, Text, Timestamp


class SignInMethod(enum.Enum):
    PASSWORD = "PASSWORD"
    SSO = "SSO"
    PASSKEY = "PASSKEY"
    API_KEY = "API_KEY"
    MAGIC_LINK = "MAGIC_LINK"


class SignInFailureReason(enum.Enum):
    BAD_CREDENTIALS = "BAD_CREDENTIALS"
    ACCOUNT_LOCKED = "ACCOUNT_LOCKED"
    MFA_FAILED = "MFA_FAILED"
    UNKNOWN_USER = "UNKNOWN_USER"


class UserSignedInData(ContractModel):
    """user.signed_in v1: a user started a session."""

    method: SignInMethod
    mfa: bool
    session_id: Id | None = None


class UserSignInFailedData(ContractModel):
    """user.sign_in_failed v1: a sign-in attempt was refused."""

    method: SignInMethod
    failure_reason: SignInFailureReason
    attempt: Annotated[Count, Field(ge=1)]


class ApiKeyCreatedData(ContractModel):
    """api_key.created v1: an API key was issued."""

    key_id: Id
    name: Label
    scopes: Annotated[list[Id], Field(max_length=50)]
    expires_at: Timestamp | None = None


class ApiKeyRevokedData(ContractModel):
    """api_key.revoked v1: an API key was revoked."""

    key_id: Id
    reason: Text | None = None
