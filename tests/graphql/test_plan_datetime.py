"""The compiled plan's inline DateTime text is the schema scalar's own, for every instant and offset."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace
from typing import Any

import pytest
from graphql import GraphQLNonNull, GraphQLScalarType
from hypothesis import given
from hypothesis import strategies as st

from app.config import Settings
from app.graphql.plan.compile import Miss, _generate, _inline_datetime, _leaf
from app.graphql.schema import build_schema

SCALAR = build_schema(Settings())._schema.get_type("DateTime")
assert isinstance(SCALAR, GraphQLScalarType)


def _builds(non_null: bool) -> Any:
    type_ = GraphQLNonNull(SCALAR) if non_null else SCALAR
    expression = _inline_datetime(type_, "r.occurred_at")
    assert expression is not None
    return _generate([("at", _leaf(type_, lambda record: record.occurred_at))], {0: expression})


offsets = st.sampled_from(
    [dt.UTC, dt.timezone(dt.timedelta(hours=2)), dt.timezone(dt.timedelta(hours=-9, minutes=-30))]
)
instants = st.datetimes(min_value=dt.datetime(2, 1, 1), max_value=dt.datetime(9998, 12, 31), timezones=offsets)


@given(instants, st.booleans())
def test_an_instant_is_written_as_the_scalar_writes_it(value: dt.datetime, non_null: bool) -> None:
    assert _builds(non_null)(SimpleNamespace(occurred_at=value)) == {"at": SCALAR.serialize(value)}


def test_a_null_is_null_or_a_miss_as_without_the_inline_text() -> None:
    assert _builds(False)(SimpleNamespace(occurred_at=None)) == {"at": None}
    with pytest.raises(Miss):
        _builds(True)(SimpleNamespace(occurred_at=None))


def test_only_datetime_is_inlined() -> None:
    assert _inline_datetime(build_schema(Settings())._schema.get_type("BigInt"), "r.sequence") is None  # type: ignore[arg-type]
