"""Error policy: the project's own errors keep their message and code; everything else is masked.

A masked error is logged with an id, and the response repeats that id, so an
operator can find the stack trace without the caller ever seeing it.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Iterator

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

from app.errors import Code, UserFacingError
from app.graphql.limits import LIMIT_MESSAGES

log = logging.getLogger("app.errors")


_SUGGESTION = re.compile(r" ?Did you mean .*\?$")


def _printable(message: str) -> str:
    """Messages may quote the caller's input; a lone surrogate there could not be encoded as UTF-8."""
    return message.encode("utf-8", "backslashreplace").decode("utf-8")


def _policy(error: GraphQLError, suggestions: bool = True) -> GraphQLError:
    error.message = _printable(error.message)
    original = error.original_error
    if original is None:
        # Parsing and validation errors: written by graphql-core about the caller's document.
        limited = any(text in error.message for text in LIMIT_MESSAGES)
        given = (error.extensions or {}).get("code")
        code = Code.LIMIT_EXCEEDED if limited else given or Code.GRAPHQL_VALIDATION_FAILED
        message = error.message if suggestions else _SUGGESTION.sub("", error.message)
        return GraphQLError(message, error.nodes, error.source, error.positions, error.path,
                            extensions={**(error.extensions or {}), "code": code})
    if isinstance(original, UserFacingError):
        return GraphQLError(str(original), error.nodes, error.source, error.positions, error.path,
                            extensions={"code": original.code})
    if isinstance(original, GraphQLError):
        return _policy(original, suggestions)
    if isinstance(original, ValueError | TypeError) and error.path is None:
        # Variable coercion (e.g. a scalar's parse_value) reports the caller's input.
        return GraphQLError(error.message, error.nodes, error.source, error.positions, error.path,
                            extensions={"code": Code.BAD_USER_INPUT})
    error_id = uuid.uuid4().hex[:16]
    log.error("internal error %s at %s", error_id, error.path, exc_info=original)
    return GraphQLError(
        f"Internal error (id {error_id}).", error.nodes, error.source, error.positions, error.path,
        extensions={"code": Code.INTERNAL, "errorId": error_id},
    )


def policy(error: GraphQLError, suggestions: bool = True) -> GraphQLError:
    """The error as the caller sees it, for paths that answer without running the schema's extensions."""
    return _policy(error, suggestions)


class ErrorPolicy(SchemaExtension):
    def __init__(self, suggestions: bool = True) -> None:
        self.suggestions = suggestions

    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        if result is not None and result.errors:
            result.errors = [_policy(error, self.suggestions) for error in result.errors]


def error_policy(*, suggestions: bool) -> ErrorPolicy:
    return ErrorPolicy(suggestions=suggestions)
