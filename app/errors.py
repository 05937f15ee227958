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


class SharedFailure(Exception):
    """One failure seen by many fields (every key of a failed batch): reported and logged once per request.

    Each field gets its own wrapper because one exception object raised in many places grows its traceback
    with every raise; ``cause`` is the shared original.
    """

    def __init__(self, cause: Exception) -> None:
        super().__init__(type(cause).__name__)
        self.cause = cause
