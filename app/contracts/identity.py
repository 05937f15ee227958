"""Identity: sign-ins."""

from __future__ import annotations

import enum
from typing import Annotated

from pydantic import Field

from app.contracts.declare import event_contract
from app.contracts.values import ContractModel, Count, Id


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


@event_contract("user.signed_in", version=1, examples=[{"method": "PASSWORD", "mfa": True, "sessionId": "s_81"}])
class UserSignedInData(ContractModel):
    """A user started a session."""

    method: SignInMethod
    mfa: bool
    session_id: Id | None = None


@event_contract(
    "user.sign_in_failed", version=1, examples=[{"method": "PASSWORD", "failureReason": "MFA_FAILED", "attempt": 2}]
)
class UserSignInFailedData(ContractModel):
    """A sign-in attempt was refused."""

    method: SignInMethod
    failure_reason: SignInFailureReason
    attempt: Annotated[Count, Field(ge=1)]
