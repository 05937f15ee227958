"""Error policy: the project's own errors keep their message and code; everything else is masked.

A masked error is logged with an id, and the response repeats that id, so an
operator can find the stack trace without the caller ever seeing it.

The log stays bounded per request whatever the request does: fields that fail
with the same exception (every key of a failed batch) become one error in the
response and one log record; at most ``MAX_LOGGED`` internal errors are logged
with their stack trace, each with its message cut to ``MAX_LOGGED_MESSAGE``
characters (a database error's message repeats the whole SQL and its
parameters), and the rest are summed up in one line.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Iterator
from types import TracebackType

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

from app.errors import Code, SharedFailure, UserFacingError
from app.graphql.limits import LIMIT_MESSAGES

log = logging.getLogger("app.errors")


_SUGGESTION = re.compile(r" ?Did you mean .*\?$")

MAX_LOGGED = 3
MAX_LOGGED_MESSAGE = 500


class LoggedError(Exception):
    """Stands for the original exception in the log: its stack trace, with a bounded message."""


class _LogBudget:
    def __init__(self) -> None:
        self.logged = 0
        self.skipped: list[str] = []

    def log(self, error_id: str, path: object, original: BaseException) -> None:
        if self.logged >= MAX_LOGGED:
            self.skipped.append(error_id)
            return
        self.logged += 1
        summary = _summary(original)
        trace: tuple[type[LoggedError], LoggedError, TracebackType | None] = (
            LoggedError,
            LoggedError(summary),
            original.__traceback__,
        )
        log.error("internal error %s at %s: %s", error_id, path, summary, exc_info=trace)

    def close(self) -> None:
        if self.skipped:
            shown = ", ".join(self.skipped[:10])
            log.error(
                "%d more internal errors in this request, not logged one by one (ids %s%s)",
                len(self.skipped),
                shown,
                ", …" if len(self.skipped) > 10 else "",
            )


def _summary(original: BaseException) -> str:
    """``Type: message``, cut short, for the original and the exception that caused it."""
    parts: list[str] = []
    current: BaseException | None = original
    while current is not None and len(parts) < 3:
        text = str(current)
        if len(text) > MAX_LOGGED_MESSAGE:
            text = f"{text[:MAX_LOGGED_MESSAGE]}… ({len(text)} characters)"
        parts.append(f"{type(current).__name__}: {_printable(text)}")
        current = current.__cause__
    return " <- caused by ".join(parts)


def _printable(message: str) -> str:
    """Messages may quote the caller's input; a lone surrogate there could not be encoded as UTF-8."""
    return message.encode("utf-8", "backslashreplace").decode("utf-8")


def apply_policy(errors: list[GraphQLError], suggestions: bool = True) -> list[GraphQLError]:
    """The errors as the caller sees them; one entry (with ``extensions.occurrences``) per shared failure."""
    budget = _LogBudget()
    reported: dict[int, GraphQLError] = {}
    result = []
    for error in errors:
        original = error.original_error
        if isinstance(original, SharedFailure):
            original = original.cause
        if original is not None and id(original) in reported:
            first = reported[id(original)]
            extensions = first.extensions if first.extensions is not None else {}
            extensions["occurrences"] = int(extensions.get("occurrences", 1)) + 1
            first.extensions = extensions
            continue
        masked = _policy(error, suggestions, budget, original)
        if original is not None:
            reported[id(original)] = masked
        result.append(masked)
    budget.close()
    return result


def _policy(
    error: GraphQLError,
    suggestions: bool = True,
    budget: _LogBudget | None = None,
    original: BaseException | None = None,
) -> GraphQLError:
    error.message = _printable(error.message)
    budget = budget or _LogBudget()
    original = original if original is not None else error.original_error
    if original is None:
        # Parsing and validation errors: written by graphql-core about the caller's document.
        limited = any(text in error.message for text in LIMIT_MESSAGES)
        given = (error.extensions or {}).get("code")
        code = Code.LIMIT_EXCEEDED if limited else given or Code.GRAPHQL_VALIDATION_FAILED
        message = error.message if suggestions else _SUGGESTION.sub("", error.message)
        return GraphQLError(
            message,
            error.nodes,
            error.source,
            error.positions,
            error.path,
            extensions={**(error.extensions or {}), "code": code},
        )
    if isinstance(original, UserFacingError):
        return GraphQLError(
            str(original), error.nodes, error.source, error.positions, error.path, extensions={"code": original.code}
        )
    if isinstance(original, GraphQLError):
        return _policy(original, suggestions, budget)
    if isinstance(original, ValueError | TypeError) and error.path is None:
        # Variable coercion (e.g. a scalar's parse_value) reports the caller's input.
        return GraphQLError(
            error.message,
            error.nodes,
            error.source,
            error.positions,
            error.path,
            extensions={"code": Code.BAD_USER_INPUT},
        )
    error_id = uuid.uuid4().hex[:16]
    budget.log(error_id, error.path, original)
    return GraphQLError(
        f"Internal error (id {error_id}).",
        error.nodes,
        error.source,
        error.positions,
        error.path,
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
            result.errors = apply_policy(result.errors, self.suggestions)


def error_policy(*, suggestions: bool) -> ErrorPolicy:
    return ErrorPolicy(suggestions=suggestions)
