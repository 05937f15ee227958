"""Validation failures as stable, addressable problems."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import ValidationError
from pydantic.alias_generators import to_camel

from app.errors import Code

# Pydantic's own error types, renamed to this project's stable codes.
_CODES: dict[str, Code] = {
    "missing": Code.REQUIRED,
    "string_too_short": Code.EMPTY,
    "string_too_long": Code.TOO_LONG,
    "too_short": Code.TOO_FEW,
    "too_long": Code.TOO_MANY,
    "greater_than_equal": Code.TOO_SMALL,
    "greater_than": Code.TOO_SMALL,
    "less_than_equal": Code.TOO_LARGE,
    "less_than": Code.TOO_LARGE,
    "enum": Code.INVALID_VALUE,
    "extra_forbidden": Code.UNKNOWN_FIELD,
    "string_type": Code.INVALID_TYPE,
    "string_unicode": Code.INVALID_UNICODE,
    "int_type": Code.INVALID_TYPE,
    "int_parsing": Code.INVALID_TYPE,
    "bool_type": Code.INVALID_TYPE,
    "datetime_type": Code.INVALID_DATETIME,
    "datetime_parsing": Code.INVALID_DATETIME,
    "datetime_from_date_parsing": Code.INVALID_DATETIME,
}


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one input, at ``path`` inside that input."""

    path: tuple[str, ...]
    code: Code
    message: str


def problems_from(error: ValidationError, prefix: Sequence[str] = ()) -> list[Problem]:
    problems = []
    for detail in error.errors(include_url=False, include_input=False):
        kind = detail["type"]
        # The contracts' own rules raise PydanticCustomError with a Code as their type.
        code = Code(kind) if kind in Code.__members__ else _CODES.get(kind, Code.INVALID)
        # Contract models alias every field with to_camel: the same rule names the GraphQL fields.
        path = (*prefix, *(to_camel(part) if isinstance(part, str) else str(part) for part in detail["loc"]))
        problems.append(Problem(path, code, detail["msg"]))
    return problems
