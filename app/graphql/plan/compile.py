"""Compile a validated read operation into plain callables that turn store rows into the response.

Everything is derived from the graphql-core schema the Strawberry schema built:
which fields a type has, their types, their serializers, enum names. Field
collection (fragments, inline fragments, ``@skip``/``@include``, merging of
equal response keys, field order) is graphql-core's own ``collect_fields``, so
the shape of the answer is exactly the reference's. What maps to what:

* envelope fields → ``EventRecord`` attributes (camelCase name → snake_case column;
  ``actor``/``target`` → the ``actor_*``/``target_*`` columns);
* ``data`` fields → the stored JSON, which is kept with the GraphQL field names,
  upcast to the current contract version with the contracts' own upcasters;
* leaves → the schema's scalar ``serialize`` (BigInt → string, DateTime → UTC
  microseconds ``Z``), enums → their GraphQL names.

Anything a plan does not know (another root field, introspection, ``@defer``)
raises :class:`Unsupported`, and the operation goes to the reference executor.
A value a plan cannot serve exactly (a null where the schema says non-null, an
unknown contract) raises :class:`Miss` at run time, with the same outcome.
"""

from __future__ import annotations

import datetime as dt
import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    FieldNode,
    GraphQLBoolean,
    GraphQLEnumType,
    GraphQLField,
    GraphQLID,
    GraphQLInt,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLString,
    OperationDefinitionNode,
)
from graphql.execution.collect_fields import FieldDetails, FragmentDetails, collect_fields, collect_subfields
from graphql.execution.values import VariableValues
from pydantic.alias_generators import to_snake

from app.contracts.envelope import trace_id
from app.contracts.registry import CURRENT
from app.contracts.registry import upcast as upcast_data
from app.graphql.events import node_id
from app.graphql.lookahead import page_selects_cause
from app.store.chain import record_canonical
from app.store.records import EventRecord

Getter = Callable[[Any], Any]
FieldDetailsList = list[FieldDetails]

_RECORD_COLUMNS = frozenset(EventRecord.__dataclass_fields__)
_VERSIONS = {contract.name: contract.version for contract in CURRENT}
_GRAPHQL_TYPES = {contract.name: contract.graphql_type for contract in CURRENT}

RELATIONS = frozenset({"causedBy", "effects", "correlated"})

# Envelope fields that are not a column of the same name.
_ENVELOPE: dict[str, Getter] = {
    "id": lambda record: node_id(record.tenant, record.sequence),
    "schemaVersion": lambda record: _VERSIONS[record.type],  # served upcast to the current version
    "traceId": lambda record: trace_id(record.traceparent),
}
# Envelope objects: the column prefix of their fields, and the column whose null means the object is null.
_ENVELOPE_OBJECTS: dict[str, tuple[str, str | None]] = {"actor": ("actor_", None), "target": ("target_", "target_type")}
_INTEGRITY: dict[str, Getter] = {"canonical": lambda record: record_canonical(record).decode("utf-8")}


class Unsupported(Exception):
    """The plan does not cover this operation; the reference executor serves it."""


class Miss(Exception):
    """A value the plan cannot serve exactly (the reference decides what the answer is)."""


def _none(_: object) -> None:
    return None


def _const(value: str) -> Getter:
    return lambda _: value


@dataclass(eq=False)
class Relation:
    """``causedBy``, ``effects`` or ``correlated`` on an event: loaded level by level, in batches."""

    key: str
    name: str
    definition: GraphQLField
    node: FieldNode
    child: EventPlan


@dataclass(eq=False)
class TypePlan:
    build: Getter
    """Record → the event's response object; relations hold a placeholder filled in by the next level."""
    relations: list[Relation]


@dataclass(eq=False)
class EventPlan:
    """What to build for an event at one position, per contract name (the row's ``type``)."""

    by_contract: dict[str, TypePlan]


@dataclass(eq=False)
class ConnectionPlan:
    """A keyset connection: the order of its keys and what each one is."""

    definition: GraphQLField
    node: FieldNode
    fields: list[tuple[str, str, Any]]
    """(response key, kind, detail): kinds ``typename``, ``edges``, ``nodes``, ``pageInfo``, ``totalCount``."""
    needs_cursors: bool
    causes: bool
    """The page is read with its events' causes (``app.graphql.lookahead``, as the reference decides it)."""


@dataclass(eq=False)
class RootField:
    key: str
    name: str
    definition: GraphQLField | None
    node: FieldNode
    detail: Any = None
    """EventPlan (event, node, nodes), ConnectionPlan (events) or CorrelationPlan (correlation)."""


@dataclass(eq=False)
class CorrelationPlan:
    fields: list[tuple[str, Getter | None]]
    connections: dict[str, ConnectionPlan] = field(default_factory=dict)


@dataclass(eq=False)
class Plan:
    roots: list[RootField]


class Compiler:
    """Builds the plan of one operation for one set of ``@skip``/``@include`` outcomes."""

    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: dict[str, FragmentDetails],
        operation: OperationDefinitionNode,
        variables: VariableValues,
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.operation = operation
        self.variables = variables
        self._event_plans: dict[tuple[int, ...], EventPlan] = {}

    def _type(self, name: str) -> GraphQLObjectType:
        found = self.schema.get_type(name)
        assert isinstance(found, GraphQLObjectType), name
        return found

    def _subfields(self, type_: GraphQLObjectType, details: FieldDetailsList) -> dict[str, FieldDetailsList]:
        collected = collect_subfields(self.schema, self.fragments, self.variables, self.operation, type_, details)
        self._check(collected.new_defer_usages, collected.forbidden_directive_instances)
        return collected.grouped_field_set

    @staticmethod
    def _check(defers: list[Any], forbidden: list[Any]) -> None:
        if defers or forbidden:
            raise Unsupported("@defer")

    @staticmethod
    def _name(details: FieldDetailsList) -> str:
        if any(detail.fragment_variable_values is not None for detail in details):
            raise Unsupported("fragment variables")
        return details[0].node.name.value

    def compile(self) -> Plan:
        query = self.schema.query_type
        assert query is not None
        collected = collect_fields(self.schema, self.fragments, self.variables, query, self.operation)
        self._check(collected.new_defer_usages, collected.forbidden_directive_instances)
        roots = []
        for key, details in collected.grouped_field_set.items():
            name = self._name(details)
            if name == "__typename":
                roots.append(RootField(key, name, None, details[0].node, query.name))
                continue
            definition = query.fields.get(name)
            if definition is None:
                raise Unsupported(f"root field {name}")
            root = RootField(key, name, definition, details[0].node)
            if name in ("event", "node", "nodes"):
                root.detail = self.event_plan(details)
            elif name == "events":
                root.detail = self.connection_plan(definition, details)
            elif name == "correlation":
                root.detail = self.correlation_plan(details)
            else:
                raise Unsupported(f"root field {name}")
            roots.append(root)
        return Plan(roots)

    # --- events ---------------------------------------------------------------------------------------------

    def event_plan(self, details: FieldDetailsList) -> EventPlan:
        # Fragments on AuditEvent reach every concrete type with the same field nodes: one plan per selection,
        # not one per path through the types (which would grow as 12 ** depth).
        key = tuple(id(detail.node) for detail in details)
        found = self._event_plans.get(key)
        if found is None:
            found = self._event_plans[key] = EventPlan({})
            for contract, type_name in _GRAPHQL_TYPES.items():
                type_ = self._type(type_name)
                found.by_contract[contract] = self._event_type_plan(type_, self._subfields(type_, details))
        return found

    def _event_type_plan(self, type_: GraphQLObjectType, grouped: dict[str, FieldDetailsList]) -> TypePlan:
        fields: list[tuple[str, Getter]] = []
        inline: dict[int, str] = {}
        extra: dict[str, Any] = {}
        relations: list[Relation] = []
        for key, sub in grouped.items():
            name = self._name(sub)
            if name == "__typename":
                inline[len(fields)] = repr(type_.name)
                fields.append((key, _const(type_.name)))
                continue
            definition = type_.fields[name]
            column = to_snake(name)
            if name in RELATIONS:
                relations.append(Relation(key, name, definition, sub[0].node, self.event_plan(sub)))
                inline[len(fields)] = "None"
                fields.append((key, _none))
            elif name == "id" and _is_non_null(definition.type, GraphQLID):
                # ``node_id`` gives a str: what the ID's getter would return, without its two calls.
                extra["_node_id"] = node_id
                inline[len(fields)] = "_node_id(r.tenant, r.sequence)"
                fields.append((key, _none))
            elif name == "traceId" and definition.type is GraphQLString:
                # ``trace_id`` gives a str or None: what the nullable String's getter would return.
                extra["_trace_id"] = trace_id
                inline[len(fields)] = "_trace_id(r.traceparent)"
                fields.append((key, _none))
            elif name == "schemaVersion" and _is_non_null(definition.type, GraphQLInt):
                # The current version of the contract: an int in Int's range serializes as itself.
                extra["_VERSIONS"] = _VERSIONS
                inline[len(fields)] = (
                    f"(n if (n := _VERSIONS.get(r.type)).__class__ is int and {_INT_MIN} <= n <= {_INT_MAX} "
                    f"else {_FALLBACK})"
                )
                fields.append((key, _leaf(definition.type, _envelope_getter(name))))
            elif (
                name not in _ENVELOPE
                and column in _RECORD_COLUMNS
                and (expression := _inline_string(definition.type, f"r.{_identifier(column)}"))
            ):
                inline[len(fields)] = expression
                fields.append((key, _none))
            elif (
                name not in _ENVELOPE
                and column in _RECORD_COLUMNS
                and (
                    expression := _inline_datetime(definition.type, f"r.{_identifier(column)}")
                    or _inline_leaf(definition.type, f"r.{_identifier(column)}", f"x{len(fields)}", extra)
                )
            ):
                inline[len(fields)] = expression
                fields.append((key, _leaf(definition.type, _envelope_getter(name))))
            elif name == "data":
                data_type = definition.type.of_type if isinstance(definition.type, GraphQLNonNull) else definition.type
                if isinstance(data_type, GraphQLObjectType):
                    slot = f"x{len(fields)}"
                    extra[slot], extra["_upcast"] = self._json_object(data_type, sub), upcast
                    # Data recorded in the current version is served as recorded (what ``upcast`` returns).
                    extra["_VERSIONS"] = _VERSIONS
                    current = "(r.data if _VERSIONS.get(r.type) == r.schema_version else _upcast(r))"
                    inline[len(fields)] = _inline_object(definition.type, current, slot)
                fields.append((key, _data_getter(self._json(definition.type, sub))))
            elif name == "integrity":
                fields.append((key, self._object(definition.type, sub, _integrity_getter)))
            elif name in _ENVELOPE_OBJECTS:
                prefix, presence = _ENVELOPE_OBJECTS[name]
                fields.append((key, self._object(definition.type, sub, _column_getter(prefix), presence)))
            else:
                fields.append((key, _leaf(definition.type, _envelope_getter(name))))
        return TypePlan(_generate(fields, inline, extra), relations)

    def _object(
        self,
        type_: GraphQLOutputType,
        details: FieldDetailsList,
        getter_of: Callable[[str], Getter],
        presence: str | None = None,
    ) -> Getter:
        """An object whose fields read the record itself (actor, target, integrity)."""
        non_null = isinstance(type_, GraphQLNonNull)
        object_type = type_.of_type if isinstance(type_, GraphQLNonNull) else type_
        assert isinstance(object_type, GraphQLObjectType)
        fields: list[tuple[str, Getter]] = []
        inline: dict[int, str] = {}
        extra: dict[str, Any] = {}
        for key, sub in self._subfields(object_type, details).items():
            name = self._name(sub)
            if name == "__typename":
                inline[len(fields)] = repr(object_type.name)
                fields.append((key, _const(object_type.name)))
                continue
            get = getter_of(name)
            column = getattr(get, "column", None)
            field_type = object_type.fields[name].type
            if column is not None and (
                expression := _inline_string(field_type, f"r.{_identifier(column)}")
                or _inline_leaf(field_type, f"r.{_identifier(column)}", f"x{len(fields)}", extra)
            ):
                inline[len(fields)] = expression
            fields.append((key, _leaf(field_type, get)))
        present = _generate(fields, inline, extra)
        if presence is None:
            return present  # always present (actor): no wrapper call

        def build(record: EventRecord) -> dict[str, Any] | None:
            if presence is not None and getattr(record, presence) is None:
                if non_null:
                    raise Miss(object_type.name)
                return None
            return present(record)  # type: ignore[no-any-return]

        return build

    def _json(self, type_: GraphQLOutputType, details: FieldDetailsList) -> Getter:
        """A value of the stored JSON (``data``), walked by its GraphQL type."""
        if isinstance(type_, GraphQLNonNull):
            if type_.of_type is GraphQLString or type_.of_type is GraphQLID:
                return _non_null_string(lambda value: value, type_.of_type.serialize)
            inner = self._json(type_.of_type, details)

            def non_null(value: Any) -> Any:
                if value is None:
                    raise Miss("null for a non-null field")
                return inner(value)

            return non_null
        if isinstance(type_, GraphQLList):
            item = self._json(type_.of_type, details)
            return lambda value: None if value is None else [item(each) for each in value]
        if isinstance(type_, GraphQLObjectType):
            build = self._json_object(type_, details)
            return lambda value: None if value is None else build(value)
        serialize = _serializer(type_, from_json=True)
        return lambda value: None if value is None else serialize(value)

    def _json_object(self, type_: GraphQLObjectType, details: FieldDetailsList) -> Getter:
        """A JSON object (a dict) → the response object: one generated dict display, the common leaves inline."""
        fields: list[tuple[str, Getter]] = []
        inline: dict[int, str] = {}
        extra: dict[str, Any] = {}
        for key, sub in self._subfields(type_, details).items():
            name = self._name(sub)
            if name == "__typename":
                inline[len(fields)] = repr(type_.name)
                fields.append((key, _const(type_.name)))
                continue
            field_type = type_.fields[name].type
            read = f"r.get({name!r})"
            slot = f"x{len(fields)}"
            expression = _inline_string(field_type, read) or _inline_leaf(field_type, read, slot, extra)
            if expression:
                inline[len(fields)] = expression
            else:
                object_type = field_type.of_type if isinstance(field_type, GraphQLNonNull) else field_type
                if isinstance(object_type, GraphQLObjectType):
                    extra[slot] = self._json_object(object_type, sub)
                    inline[len(fields)] = _inline_object(field_type, read, slot)
            fields.append((key, _json_member(name, self._json(field_type, sub))))
        return _generate(fields, inline, extra)

    # --- connections and correlations ----------------------------------------------------------------------

    def connection_plan(self, definition: GraphQLField, details: FieldDetailsList) -> ConnectionPlan:
        connection = self._type("AuditEventConnection")
        fields: list[tuple[str, str, Any]] = []
        needs_cursors = False
        for key, sub in self._subfields(connection, details).items():
            name = self._name(sub)
            if name == "__typename":
                fields.append((key, "typename", connection.name))
            elif name == "edges":
                edge = self._type("AuditEventEdge")
                edge_fields: list[tuple[str, str, Any]] = []
                for edge_key, edge_sub in self._subfields(edge, sub).items():
                    edge_name = self._name(edge_sub)
                    if edge_name == "__typename":
                        edge_fields.append((edge_key, "typename", edge.name))
                    elif edge_name == "cursor":
                        needs_cursors = True
                        edge_fields.append((edge_key, "cursor", None))
                    else:
                        edge_fields.append((edge_key, "node", self.event_plan(edge_sub)))
                fields.append((key, "edges", edge_fields))
            elif name == "nodes":
                fields.append((key, "nodes", self.event_plan(sub)))
            elif name == "pageInfo":
                page_info = self._type("PageInfo")
                info_fields = [(k, self._name(s)) for k, s in self._subfields(page_info, sub).items()]
                needs_cursors = needs_cursors or any(n in ("startCursor", "endCursor") for _, n in info_fields)
                fields.append((key, "pageInfo", info_fields))
            elif name == "totalCount":
                fields.append((key, "totalCount", None))
            else:
                raise Unsupported(f"connection field {name}")
        causes = page_selects_cause(self.schema, self.fragments, self.variables, self.operation, details)
        return ConnectionPlan(definition, details[0].node, fields, needs_cursors, causes)

    def correlation_plan(self, details: FieldDetailsList) -> CorrelationPlan:
        correlation = self._type("Correlation")
        plan = CorrelationPlan([])
        for key, sub in self._subfields(correlation, details).items():
            name = self._name(sub)
            if name == "__typename":
                plan.fields.append((key, _const(correlation.name)))
            elif name == "events":
                plan.connections[key] = self.connection_plan(correlation.fields[name], sub)
                plan.fields.append((key, None))
            else:
                attribute = "correlation_id" if name == "id" else to_snake(name)
                plan.fields.append((key, _leaf(correlation.fields[name].type, _attribute(attribute))))
        return plan


# --- getters and serializers ---------------------------------------------------------------------------------


def upcast(record: EventRecord) -> dict[str, Any]:
    """The recorded data in the current contract version, upcast as ``decode`` does (``registry.upcast``)."""
    if record.schema_version > _VERSIONS[record.type]:
        raise Miss(f"{record.type} v{record.schema_version} is newer than this gateway knows")
    return upcast_data(record.type, record.schema_version, record.data)


def _data_getter(build: Getter) -> Getter:
    return lambda record: build(upcast(record))


def _attribute(name: str) -> Getter:
    return operator.attrgetter(name)


def _non_null_string(get: Getter, serialize: Getter) -> Getter:
    """The most common leaf, in one call: a non-null String or ID."""

    def non_null_string(source: Any) -> Any:
        value = get(source)
        if value.__class__ is str:
            return value
        if value is None:
            raise Miss("null for a non-null field")
        return serialize(value)

    return non_null_string


def _envelope_getter(name: str) -> Getter:
    if name in _ENVELOPE:
        return _ENVELOPE[name]
    column = to_snake(name)
    if column not in _RECORD_COLUMNS or column == "data":
        raise Unsupported(f"envelope field {name}")
    return _attribute(column)


class _Column:
    """A getter of one record column, by name (so the generated code can read it inline)."""

    def __init__(self, column: str) -> None:
        self.column = column
        self._get = operator.attrgetter(column)

    def __call__(self, source: Any) -> Any:
        return self._get(source)


def _column_getter(prefix: str) -> Callable[[str], Getter]:
    def getter_of(name: str) -> Getter:
        column = prefix + to_snake(name)
        if column not in _RECORD_COLUMNS:
            raise Unsupported(f"envelope field {name}")
        return _Column(column)

    return getter_of


def _string_or_miss(value: Any, type_: GraphQLScalarType) -> Any:
    if value is None:
        raise Miss("null for a non-null field")
    return type_.serialize(value)


def _is_non_null(type_: GraphQLOutputType, scalar: GraphQLScalarType) -> bool:
    return isinstance(type_, GraphQLNonNull) and type_.of_type is scalar


def _identifier(column: str) -> str:
    assert column.isidentifier(), column
    return column


def _json_member(name: str, convert: Getter) -> Getter:
    return lambda value: convert(value.get(name))


def _inline_string(type_: GraphQLOutputType, read: str) -> str | None:
    """Python source serializing a String/ID read by ``read`` (``r.column`` or ``r.get('name')``), or None."""
    non_null = isinstance(type_, GraphQLNonNull)
    scalar = type_.of_type if isinstance(type_, GraphQLNonNull) else type_
    if scalar is not GraphQLString and scalar is not GraphQLID:
        return None
    if non_null:
        return f"(v if (v := {read}).__class__ is str else _string_or_miss(v, {scalar.name}))"
    return f"(v if (v := {read}) is None or v.__class__ is str else {scalar.name}.serialize(v))"


_FALLBACK = "{fallback}"
"""In an inline expression: the call of the field's own getter, for the values the expression does not cover."""

_DATETIME_SAMPLES = (
    dt.datetime(1, 1, 1, tzinfo=dt.UTC),
    dt.datetime(999, 12, 31, 23, 59, 59, 1, tzinfo=dt.UTC),
    dt.datetime(2026, 3, 1, 10, 30, 15, tzinfo=dt.UTC),
    dt.datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=dt.UTC),
)


def _utc_text(value: dt.datetime) -> str:
    """An aware UTC instant as ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` (``isoformat`` writes a 4-digit year, and the
    microseconds unless they are 0; without ``timespec``, whose keyword parsing was half its cost)."""
    return value.isoformat()[:-6] + ("Z" if value.microsecond else ".000000Z")


def _inline_datetime(type_: GraphQLOutputType, read: str) -> str | None:
    """Python source serializing a DateTime column read by ``read``, or None.

    The store gives back aware UTC datetimes; for those, ``isoformat`` is the scalar's canonical text at about
    half the cost (a page of 100 serializes 200). Anything else (null, another offset) goes to the field's own
    getter. Used only while the schema's scalar writes exactly that text.
    """
    scalar = type_.of_type if isinstance(type_, GraphQLNonNull) else type_
    if not isinstance(scalar, GraphQLScalarType) or scalar.name != "DateTime":
        return None
    if any(scalar.serialize(sample) != _utc_text(sample) for sample in _DATETIME_SAMPLES):
        return None
    return (
        f"(v.isoformat()[:-6] + ('Z' if v.microsecond else '.000000Z') "
        f"if (v := {read}).__class__ is _datetime and v.tzinfo is _UTC else {_FALLBACK})"
    )


_INT_MIN, _INT_MAX = -(2**31), 2**31 - 1
_BIGINT_SAMPLES = (0, 1, -1, 1999, 2**63 - 1, -(2**63), 2**64)


def _inline_object(type_: GraphQLOutputType, read: str, slot: str) -> str:
    """Python source building a JSON object (a dict) read by ``read`` with the builder ``slot``; anything else
    (null, not a dict) goes to the field's own getter."""
    if isinstance(type_, GraphQLNonNull):
        return f"({slot}(v) if (v := {read}).__class__ is dict else {_FALLBACK})"
    return f"(None if (v := {read}) is None else {slot}(v) if v.__class__ is dict else {_FALLBACK})"


def _inline_leaf(type_: GraphQLOutputType, read: str, slot: str, extra: dict[str, Any]) -> str | None:
    """Python source serializing an Int, Boolean, BigInt or enum read by ``read`` (``r.column``, ``r.get('name')``),
    or None.

    Each covers the values whose serialization is plain (an ``int`` in Int's range, a ``bool``, an ``int`` as
    BigInt's decimal text, a ``str`` that is an enum value: its name); anything else (null, bool as Int, out of
    range, not a value) goes to the field's own getter, which serializes it or raises :class:`Miss` as before.
    BigInt is inlined only while the schema's scalar writes ``str(value)``.
    """
    non_null = isinstance(type_, GraphQLNonNull)
    scalar = type_.of_type if isinstance(type_, GraphQLNonNull) else type_
    if (
        isinstance(scalar, GraphQLScalarType)
        and scalar.name == "BigInt"
        and all(scalar.serialize(sample) == str(sample) for sample in _BIGINT_SAMPLES)
    ):
        return f"(str(v) if (v := {read}).__class__ is int else {_FALLBACK})"
    if scalar is GraphQLInt:
        test = f"(v := {read}).__class__ is int and {_INT_MIN} <= v <= {_INT_MAX}"
    elif scalar is GraphQLBoolean:
        test = f"(v := {read}).__class__ is bool"
    elif isinstance(scalar, GraphQLEnumType):
        extra[slot] = {value.value: name for name, value in scalar.values.items()}
        return f"(n if (v := {read}).__class__ is str and (n := {slot}.get(v)) is not None else {_FALLBACK})"
    else:
        return None
    if non_null:
        return f"(v if {test} else {_FALLBACK})"
    return f"(v if {test} or v is None else {_FALLBACK})"


def _generate(fields: list[tuple[str, Getter]], inline: dict[int, str], extra: dict[str, Any] | None = None) -> Getter:
    """One Python function building the object in a single dict display (no loop, no call per plain column).

    The source holds only response keys and schema field names (as ``repr`` literals), column names of
    ``EventRecord`` and calls to the getters compiled above; never a value from the request.
    """
    namespace: dict[str, Any] = {
        "_string_or_miss": _string_or_miss,
        "String": GraphQLString,
        "ID": GraphQLID,
        "_datetime": dt.datetime,
        "_UTC": dt.UTC,
        **(extra or {}),
    }
    parts = []
    for index, (key, get) in enumerate(fields):
        expression = inline.get(index)
        if expression is None or _FALLBACK in expression:
            namespace[f"g{index}"] = get
        expression = f"g{index}(r)" if expression is None else expression.replace(_FALLBACK, f"g{index}(r)")
        parts.append(f"{key!r}: {expression}")
    source = "def build(r):\n    return {" + ", ".join(parts) + "}\n"
    exec(compile(source, "<plan>", "exec"), namespace)  # see the docstring
    build: Getter = namespace["build"]
    return build


def _integrity_getter(name: str) -> Getter:
    if name in _INTEGRITY:
        return _INTEGRITY[name]
    column = to_snake(name)
    if column not in ("hash", "previous_hash"):
        raise Unsupported(f"integrity field {name}")
    return _attribute(column)


def _serializer(type_: GraphQLOutputType, *, from_json: bool = False) -> Getter:
    """The schema's own output coercion for a leaf type."""
    if isinstance(type_, GraphQLEnumType):
        names: dict[Any, str] = {value.value: name for name, value in type_.values.items()}

        def enum_name(value: Any) -> str:
            try:
                return names[value]
            except (KeyError, TypeError):
                raise Miss(f"{value!r} is not a value of {type_.name}") from None

        return enum_name
    assert isinstance(type_, GraphQLScalarType), type_
    serialize = type_.serialize
    if type_ is GraphQLString or type_ is GraphQLID:
        return lambda value: value if value.__class__ is str else serialize(value)
    if from_json and type_.name == "DateTime":
        # JSON keeps an instant as its canonical text; the scalar serializes a datetime.
        return lambda value: serialize(dt.datetime.fromisoformat(value))
    return serialize


def _leaf(type_: GraphQLOutputType, get: Getter) -> Getter:
    if isinstance(type_, GraphQLNonNull):
        if isinstance(type_.of_type, GraphQLList):
            convert = _output(type_)
            return lambda source: convert(get(source))
        if type_.of_type is GraphQLString or type_.of_type is GraphQLID:
            return _non_null_string(get, type_.of_type.serialize)
        serialize = _serializer(type_.of_type)

        def non_null(source: Any) -> Any:
            value = get(source)
            if value is None:
                raise Miss("null for a non-null field")
            return serialize(value)

        return non_null
    if isinstance(type_, GraphQLList):
        convert = _output(type_)
        return lambda source: convert(get(source))
    serialize = _serializer(type_)
    if type_ is GraphQLString or type_ is GraphQLID:
        string = type_.serialize

        def nullable_string(source: Any) -> Any:
            value = get(source)
            return value if value is None or value.__class__ is str else string(value)

        return nullable_string

    def nullable(source: Any) -> Any:
        value = get(source)
        return None if value is None else serialize(value)

    return nullable


def _output(type_: GraphQLOutputType) -> Getter:
    """Any output value (lists included) of a Python value the record or summary holds."""
    if isinstance(type_, GraphQLNonNull):
        inner = _output(type_.of_type)

        def non_null(value: Any) -> Any:
            if value is None:
                raise Miss("null for a non-null field")
            return inner(value)

        return non_null
    if isinstance(type_, GraphQLList):
        item = _output(type_.of_type)
        return lambda value: None if value is None else [item(each) for each in value]
    serialize = _serializer(type_)
    return lambda value: None if value is None else serialize(value)
