"""Every error code a caller can see, and the errors a caller is meant to see; anything else is masked as INTERNAL."""

from __future__ import annotations

import enum
from typing import ClassVar


class Code(enum.StrEnum):
    """Stable, machine-readable codes: ``extensions.code`` of a GraphQL error, ``InputError.code`` of an input."""

    # Request-level (``extensions.code``).
    BAD_USER_INPUT = "BAD_USER_INPUT"
    INVALID_CURSOR = "INVALID_CURSOR"
    UNAUTHENTICATED = "UNAUTHENTICATED"
    FORBIDDEN = "FORBIDDEN"
    LIMIT_EXCEEDED = "LIMIT_EXCEEDED"
    GRAPHQL_VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"
    INTERNAL = "INTERNAL"
    # Request-level, for refusals before GraphQL runs (HTTP status in the name's spirit).
    BAD_REQUEST = "BAD_REQUEST"
    NOT_FOUND = "NOT_FOUND"
    METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
    UNSUPPORTED_MEDIA_TYPE = "UNSUPPORTED_MEDIA_TYPE"
    TIMEOUT = "TIMEOUT"
    OVERLOADED = "OVERLOADED"

    # Per input of recordEvents (``InputError.code``): shape, from Pydantic's own checks.
    REQUIRED = "REQUIRED"
    EMPTY = "EMPTY"
    TOO_LONG = "TOO_LONG"
    TOO_FEW = "TOO_FEW"
    TOO_MANY = "TOO_MANY"
    TOO_SMALL = "TOO_SMALL"
    TOO_LARGE = "TOO_LARGE"
    INVALID_VALUE = "INVALID_VALUE"
    UNKNOWN_FIELD = "UNKNOWN_FIELD"
    INVALID_TYPE = "INVALID_TYPE"
    INVALID_DATETIME = "INVALID_DATETIME"
    INVALID = "INVALID"

    # Per input: the contracts' own rules.
    INVALID_UNICODE = "INVALID_UNICODE"
    CONTROL_CHARACTER = "CONTROL_CHARACTER"
    INVALID_ID = "INVALID_ID"
    INVALID_NAME = "INVALID_NAME"
    INVALID_CURRENCY = "INVALID_CURRENCY"
    INVALID_IP = "INVALID_IP"
    NEGATIVE = "NEGATIVE"
    MISSING_OFFSET = "MISSING_OFFSET"
    IN_FUTURE = "IN_FUTURE"
    TOO_EARLY = "TOO_EARLY"
    NOT_NFC = "NOT_NFC"
    INVALID_TRACEPARENT = "INVALID_TRACEPARENT"
    SELF_CAUSATION = "SELF_CAUSATION"
    UNKNOWN_CONTRACT = "UNKNOWN_CONTRACT"

    # Per input: rights and the log's state.
    TENANT_REQUIRED = "TENANT_REQUIRED"
    CONFLICT = "CONFLICT"


class UserFacingError(Exception):
    """An error whose message and code are safe and useful to show the caller."""

    code: ClassVar[Code] = Code.BAD_USER_INPUT


class BadUserInput(UserFacingError):
    code = Code.BAD_USER_INPUT


class InvalidCursor(UserFacingError):
    code = Code.INVALID_CURSOR


class Unauthenticated(UserFacingError):
    code = Code.UNAUTHENTICATED


class Forbidden(UserFacingError):
    code = Code.FORBIDDEN


class LimitExceeded(UserFacingError):
    code = Code.LIMIT_EXCEEDED


class SharedFailure(Exception):
    """One failure seen by many fields (every key of a failed batch): reported and logged once per request.

    Each field gets its own wrapper because one exception object raised in many places grows its traceback
    with every raise; ``cause`` is the shared original.
    """

    def __init__(self, cause: Exception) -> None:
        super().__init__(type(cause).__name__)
        self.cause = cause
