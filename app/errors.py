"""Errors a caller is meant to see; anything else is masked as INTERNAL."""

from __future__ import annotations

from typing import ClassVar


class UserFacingError(Exception):
    """An error whose message and code are safe and useful to show the caller."""

    code: ClassVar[str] = "BAD_USER_INPUT"


class BadUserInput(UserFacingError):
    code = "BAD_USER_INPUT"


class InvalidCursor(UserFacingError):
    code = "INVALID_CURSOR"


class Unauthenticated(UserFacingError):
    code = "UNAUTHENTICATED"


class Forbidden(UserFacingError):
    code = "FORBIDDEN"


class LimitExceeded(UserFacingError):
    code = "LIMIT_EXCEEDED"
