"""Variable coercion compiled from the schema's own input types, for the ingestion fast path.

``compile_coercer(type_)`` turns a graphql-core input type into plain Python
closures that do what ``graphql.utilities.coerce_input_value`` does for JSON
variables: non-null, lists, input objects (unknown fields, required fields,
defaults, ``@oneOf``), enums, and scalars through their own coercion. Where a
closure is unsure it raises ``Unsupported`` instead of guessing (e.g. a single
value where a list is expected, which GraphQL would wrap): the caller then runs
the reference path, whose errors are the ones a client must see. So a value the
closures accept is coerced exactly as graphql-core would; anything else is
graphql-core's to answer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from graphql import (
    GraphQLBoolean,
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLInt,
    GraphQLList,
    GraphQLNonNull,
    GraphQLScalarType,
    GraphQLString,
    Undefined,
)
from graphql.type.definition import is_required_input_field
from graphql.utilities.coerce_input_value import coerce_default_value

Coercer = Callable[[Any], Any]

_INT_MIN, _INT_MAX = -(2**31), 2**31 - 1


class Unsupported(Exception):
    """The value is not one these closures vouch for: let graphql-core coerce it (and report its errors)."""


def compile_coercer(type_: GraphQLInputType) -> Coercer:
    return _compile(type_, {})


def _compile(type_: GraphQLInputType, objects: dict[str, Coercer]) -> Coercer:
    if isinstance(type_, GraphQLNonNull):
        inner = _compile_nullable(type_.of_type, objects)

        def non_null(value: Any) -> Any:
            if value is None:
                raise Unsupported
            return inner(value)

        return non_null
    nullable = _compile_nullable(type_, objects)

    def maybe_null(value: Any) -> Any:
        return None if value is None else nullable(value)

    return maybe_null


def _compile_nullable(type_: GraphQLInputType, objects: dict[str, Coercer]) -> Coercer:
    if isinstance(type_, GraphQLList):
        return _list(_compile(type_.of_type, objects))
    if isinstance(type_, GraphQLInputObjectType):
        if type_.name not in objects:
            # Compile lazily through a cell, so that recursive input types would terminate.
            cell: list[Coercer] = []
            objects[type_.name] = lambda value: cell[0](value)
            cell.append(_input_object(type_, objects))
        return objects[type_.name]
    if isinstance(type_, GraphQLEnumType):
        return _enum(type_)
    if isinstance(type_, GraphQLScalarType):
        return _scalar(type_)
    raise TypeError(f"not an input type: {type_}")


def _list(item: Coercer) -> Coercer:
    def coerce_list(value: Any) -> Any:
        if type(value) is not list:  # GraphQL would take a single value as a list of one: not ours to vouch for
            raise Unsupported
        return [item(each) for each in value]

    return coerce_list


def _input_object(type_: GraphQLInputObjectType, objects: dict[str, Coercer]) -> Coercer:
    fields: list[tuple[str, str, Coercer, bool, Any]] = []
    for name, field in type_.fields.items():
        default = Undefined if is_required_input_field(field) else coerce_default_value(field)
        fields.append(
            (name, field.out_name or name, _compile(field.type, objects), is_required_input_field(field), default)
        )
    known = frozenset(type_.fields)
    one_of = type_.is_one_of
    out_type = type_.out_type

    def coerce_object(value: Any) -> Any:
        if type(value) is not dict or not known.issuperset(value):
            raise Unsupported
        coerced: dict[str, Any] = {}
        for name, out_name, coerce, required, default in fields:
            if name in value:
                coerced[out_name] = coerce(value[name])
            elif required:
                raise Unsupported
            elif default is not Undefined:
                coerced[out_name] = default
        if one_of and (len(value) != 1 or len(coerced) != 1 or next(iter(coerced.values())) is None):
            raise Unsupported
        try:
            return out_type(coerced)  # Strawberry checks its @oneOf inputs here
        except Exception:
            raise Unsupported from None

    return coerce_object


def _enum(type_: GraphQLEnumType) -> Coercer:
    values = {name: value.value for name, value in type_.values.items()}

    def coerce_enum(value: Any) -> Any:
        if type(value) is not str or value not in values:
            raise Unsupported
        return values[value]

    return coerce_enum


def _scalar(type_: GraphQLScalarType) -> Coercer:
    # The built-in scalars as exact type checks (at least as strict as graphql-core's); any other scalar
    # through its own coercion function, as graphql-core calls it.
    if type_ is GraphQLString:
        return _exact(str)
    if type_ is GraphQLBoolean:
        return _exact(bool)
    if type_ is GraphQLInt:

        def coerce_int(value: Any) -> Any:
            if type(value) is not int or not _INT_MIN <= value <= _INT_MAX:
                raise Unsupported
            return value

        return coerce_int
    coerce_input = type_.coerce_input_value

    def coerce_scalar(value: Any) -> Any:
        try:
            result = coerce_input(value)
        except Exception:
            raise Unsupported from None
        if result is Undefined:
            raise Unsupported
        return result

    return coerce_scalar


def _exact(kind: type) -> Coercer:
    def coerce_exact(value: Any) -> Any:
        if type(value) is not kind:
            raise Unsupported
        return value

    return coerce_exact
