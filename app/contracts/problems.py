"""Validation failures as stable, addressable problems."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import ValidationError
from pydantic.alias_generators import to_camel

# Pydantic's own error types, renamed to this project's stable codes.
_CODES = {
    "missing": "REQUIRED",
    "string_too_short": "EMPTY",
    "string_too_long": "TOO_LONG",
    "too_short": "TOO_FEW",
    "too_long": "TOO_MANY",
    "greater_than_equal": "TOO_SMALL",
    "greater_than": "TOO_SMALL",
    "less_than_equal": "TOO_LARGE",
    "less_than": "TOO_LARGE",
    "enum": "INVALID_VALUE",
    "extra_forbidden": "UNKNOWN_FIELD",
    "string_type": "INVALID_TYPE",
    "string_unicode": "INVALID_UNICODE",
    "int_type": "INVALID_TYPE",
    "int_parsing": "INVALID_TYPE",
    "bool_type": "INVALID_TYPE",
    "datetime_type": "INVALID_DATETIME",
    "datetime_parsing": "INVALID_DATETIME",
    "datetime_from_date_parsing": "INVALID_DATETIME",
}


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one input, at ``path`` inside that input."""

    path: tuple[str, ...]
    code: str
    message: str


def problems_from(error: ValidationError, prefix: Sequence[str] = ()) -> list[Problem]:
    problems = []
    for detail in error.errors(include_url=False, include_input=False):
        kind = detail["type"]
        code = kind if kind.isupper() else _CODES.get(kind, "INVALID")
        # Contract models alias every field with to_camel: the same rule names the GraphQL fields.
        path = (*prefix, *(to_camel(part) if isinstance(part, str) else str(part) for part in detail["loc"]))
        problems.append(Problem(path, code, detail["msg"]))
    return problems
