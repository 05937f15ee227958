"""Error policy: the project's own errors keep their message and code; everything else is masked.

A masked error is logged with an id, and the response repeats that id, so an
operator can find the stack trace without the caller ever seeing it.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

from app.errors import UserFacingError

log = logging.getLogger("app.errors")


def _policy(error: GraphQLError) -> GraphQLError:
    original = error.original_error
    if original is None:
        # Parsing and validation errors: written by graphql-core about the caller's document.
        code = (error.extensions or {}).get("code") or "GRAPHQL_VALIDATION_FAILED"
        return GraphQLError(error.message, error.nodes, error.source, error.positions, error.path,
                            extensions={**(error.extensions or {}), "code": code})
    if isinstance(original, UserFacingError):
        return GraphQLError(str(original), error.nodes, error.source, error.positions, error.path,
                            extensions={"code": original.code})
    if isinstance(original, GraphQLError):
        return _policy(original)
    if isinstance(original, ValueError | TypeError) and error.path is None:
        # Variable coercion (e.g. a scalar's parse_value) reports the caller's input.
        return GraphQLError(error.message, error.nodes, error.source, error.positions, error.path,
                            extensions={"code": "BAD_USER_INPUT"})
    error_id = uuid.uuid4().hex[:16]
    log.error("internal error %s at %s", error_id, error.path, exc_info=original)
    return GraphQLError(
        f"Internal error (id {error_id}).", error.nodes, error.source, error.positions, error.path,
        extensions={"code": "INTERNAL", "errorId": error_id},
    )


class ErrorPolicy(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        if result is not None and result.errors:
            result.errors = [_policy(error) for error in result.errors]
