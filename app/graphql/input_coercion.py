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

The same rules are also compiled into one pydantic-core validator (``_native``),
which checks and coerces a whole batch in Rust, calling Python only for custom
scalars whose parser has no pydantic-core twin (``scalars.NATIVE_PARSERS``). It
is at least as strict as the closures and returns what they return; whatever it
refuses is handed to the closures, which give the exact answer (coerced, or
``Unsupported``). ``NATIVE_COUNTS`` says how often each answered.
"""

from __future__ import annotations

import collections
import enum
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
from pydantic_core import CoreSchema, PydanticCustomError, SchemaValidator, ValidationError
from pydantic_core import core_schema as cs

from app.graphql.scalars import NATIVE_PARSERS

Coercer = Callable[[Any], Any]

_INT_MIN, _INT_MAX = -(2**31), 2**31 - 1


class Unsupported(Exception):
    """The value is not one these closures vouch for: let graphql-core coerce it (and report its errors)."""


NATIVE_COUNTS: collections.Counter[str] = collections.Counter()
"""Values coerced per process: by the native validator (``native``), by the closures after it refused (``closures``)."""


def compile_coercer(type_: GraphQLInputType) -> Coercer:
    closures = _compile(type_, {})
    native = _native_validator(type_)
    if native is None:
        return closures
    validate = native.validate_python

    def coerce(value: Any) -> Any:
        try:
            coerced = validate(value)
        except ValidationError:
            NATIVE_COUNTS["closures"] += 1
            return closures(value)  # the exact answer, or Unsupported
        NATIVE_COUNTS["native"] += 1
        return coerced

    return coerce


def compile_closures(type_: GraphQLInputType) -> Coercer:
    """The closures alone (the reference the native validator is tested against)."""
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


# --- the same rules as one pydantic-core validator ------------------------------------------------


class _NotNative(Exception):
    """A type the native validator does not mirror: the closures alone coerce it."""


def _native_validator(type_: GraphQLInputType) -> SchemaValidator | None:
    try:
        return SchemaValidator(_native(type_, set()))
    except _NotNative:
        return None


def _refuse_native(reason: str) -> PydanticCustomError:
    return PydanticCustomError("unsupported", reason)


def _native(type_: GraphQLInputType, compiling: set[str]) -> CoreSchema:
    if isinstance(type_, GraphQLNonNull):
        return _native_nullable(type_.of_type, compiling, nullable=False)
    return cs.nullable_schema(_native_nullable(type_, compiling, nullable=True))


def _native_nullable(type_: GraphQLInputType, compiling: set[str], *, nullable: bool) -> CoreSchema:
    """Rejects None itself (a non-null position), unless wrapped by ``nullable_schema`` (then never sees None)."""
    if isinstance(type_, GraphQLList):
        return cs.list_schema(_native(type_.of_type, compiling), strict=True)
    if isinstance(type_, GraphQLInputObjectType):
        if type_.name in compiling:
            raise _NotNative("recursive input type")  # none in this schema; the closures handle them
        compiling.add(type_.name)
        try:
            return _native_object(type_, compiling)
        finally:
            compiling.discard(type_.name)
    if isinstance(type_, GraphQLEnumType):
        names = list(type_.values)
        if any(value.value != name for name, value in type_.values.items()):
            raise _NotNative("enum values differ from their names")
        return cs.literal_schema(names)
    if isinstance(type_, GraphQLScalarType):
        if type_ is GraphQLString:
            return cs.str_schema(strict=True)
        if type_ is GraphQLBoolean:
            return cs.bool_schema(strict=True)
        if type_ is GraphQLInt:
            return cs.int_schema(strict=True, ge=_INT_MIN, le=_INT_MAX)
        if type_.parse_value in NATIVE_PARSERS and type_.coerce_input_value == type_.parse_value:
            return NATIVE_PARSERS[type_.parse_value]
        return cs.no_info_plain_validator_function(_native_scalar(type_))
    raise _NotNative(f"not an input type: {type_}")


def _native_scalar(type_: GraphQLScalarType) -> Callable[[Any], Any]:
    coerce_input = type_.coerce_input_value

    def coerce_scalar(value: Any) -> Any:
        if value is None:  # only reached in a non-null position (nullable_schema answers None itself)
            raise _refuse_native("null")
        try:
            result = coerce_input(value)
        except Exception:
            raise _refuse_native("scalar") from None
        if result is Undefined:
            raise _refuse_native("scalar")
        return result

    return coerce_scalar


def _native_object(type_: GraphQLInputObjectType, compiling: set[str]) -> CoreSchema:
    fields: dict[str, cs.TypedDictField] = {}
    for name, field in type_.fields.items():
        if field.out_name not in (None, name):
            raise _NotNative("out_name")
        schema = _native(field.type, compiling)
        default = Undefined if is_required_input_field(field) else coerce_default_value(field)
        if is_required_input_field(field):
            fields[name] = cs.typed_dict_field(schema, required=True)
        elif default is Undefined:
            fields[name] = cs.typed_dict_field(schema, required=False)
        else:
            if not (default is None or isinstance(default, str | int | bool | enum.Enum)):
                raise _NotNative("a default the closures would share")
            fields[name] = cs.typed_dict_field(cs.with_default_schema(schema, default=default), required=False)
    schema = cs.typed_dict_schema(fields, strict=True, extra_behavior="forbid")
    # The default out_type passes the dict through; Strawberry's ``check_one_of`` (its @oneOf inputs, even when
    # graphql-core's ``is_one_of`` is off) passes it through once it holds exactly one non-null member.
    out_type = vars(type_).get("out_type")
    strawberry_one_of = out_type is not None and getattr(out_type, "__name__", None) == "check_one_of"
    if out_type is not None and not strawberry_one_of:
        raise _NotNative("out_type")
    if type_.is_one_of or strawberry_one_of:
        return cs.no_info_after_validator_function(_one_of, schema)
    return schema


def _one_of(value: dict[str, Any]) -> dict[str, Any]:
    """What the closures and Strawberry's ``check_one_of`` require: exactly one member, not null."""
    if len(value) != 1 or next(iter(value.values())) is None:
        raise _refuse_native("oneOf")
    return value
