"""Scalars: DateTime that insists on an offset, BigInt as a decimal string, JSON for catalog metadata."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

import strawberry
from pydantic_core import CoreSchema
from pydantic_core import core_schema as cs
from strawberry.scalars import JSON
from strawberry.types.scalar import ScalarDefinition

from app.contracts.values import BIGINT_MAX, BIGINT_MIN, BigInt, canonical_timestamp

_DIGITS = re.compile(r"-?[0-9]{1,19}")


def _serialize_datetime(value: dt.datetime) -> str:
    return canonical_timestamp(value)


def _parse_datetime(value: Any) -> dt.datetime:
    if not isinstance(value, str) or len(value) > 40:
        raise ValueError("DateTime must be an ISO-8601 string with an offset, e.g. 2026-01-01T12:00:00Z")
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"DateTime {value!r} is not ISO-8601, e.g. 2026-01-01T12:00:00.123456+02:00") from None
    if parsed.tzinfo is None:
        raise ValueError(f"DateTime {value!r} has no offset: add Z or +HH:MM")
    try:
        return parsed.astimezone(dt.UTC)
    except OverflowError:
        raise ValueError(f"DateTime {value!r} is outside the years 1-9999 in UTC") from None


def _serialize_bigint(value: int) -> str:
    return str(value)


def _parse_bigint(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError("BigInt must be an integer or a string of digits")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and _DIGITS.fullmatch(value):
        number = int(value)
    else:
        raise ValueError("BigInt must be an integer or a string of decimal digits with an optional '-'")
    if not BIGINT_MIN <= number <= BIGINT_MAX:
        raise ValueError("BigInt must fit in a signed 64-bit integer")
    return number


_BIGINT_NATIVE = cs.union_schema(
    [
        cs.int_schema(strict=True, ge=BIGINT_MIN, le=BIGINT_MAX),
        cs.chain_schema(
            [cs.str_schema(strict=True, pattern=f"^{_DIGITS.pattern}$"), cs.int_schema(ge=BIGINT_MIN, le=BIGINT_MAX)]
        ),
    ],
    mode="left_to_right",
)
"""``_parse_bigint`` as pydantic-core's own checks: an int (not a bool) or a string of 1-19 ASCII digits with an
optional ``-``, within 64 bits; the same int, or a refusal where ``_parse_bigint`` raises."""

NATIVE_PARSERS: dict[Callable[[Any], Any], CoreSchema] = {_parse_bigint: _BIGINT_NATIVE}
"""Scalar input parsers and their pydantic-core twins, for the ingestion fast path's native coercion
(``app.graphql.input_coercion``): the value is then parsed without a Python call.
tests/graphql/test_input_coercion.py compares the twin with the parser."""

DateTimeScalar = strawberry.scalar(
    name="DateTime",
    description="ISO-8601 date-time with an offset; UTC on output, microseconds kept.",
    serialize=_serialize_datetime,
    parse_value=_parse_datetime,
)

BigIntScalar = strawberry.scalar(
    name="BigInt",
    description=('A signed 64-bit integer, serialized as a string of decimal digits with an optional leading "-".'),
    serialize=_serialize_bigint,
    parse_value=_parse_bigint,
)

SCALARS: dict[object, ScalarDefinition] = {dt.datetime: DateTimeScalar, BigInt: BigIntScalar}

__all__ = ["JSON", "SCALARS", "BigInt"]
