"""The ingestion fast path: ``recordEvents`` without building Strawberry input objects.

A client's usual write is one document sent again and again with a large
``$events`` variable. Strawberry spends most of such a request converting that
variable (graphql-core's coercion, then Strawberry's input objects) and
completing the answer field by field. This module takes the same request when
it can prove the answer is the same, and otherwise hands it to the reference
path untouched:

1. The document is parsed and validated once (the schema's own rules and
   limits) and compiled into a plan: one ``recordEvents`` root field whose
   ``events`` argument is the operation's only variable, no directives, and a
   selection made only of the fields this module knows how to answer.
2. The variable is coerced by closures derived from the schema's input types
   (``app.graphql.input_coercion``); any doubt means the reference path runs
   and reports GraphQL's own errors.
3. The coerced dicts go through the one write path (``app.ingest.record_events``),
   exactly as the resolver's input objects would.
4. The answer is built from the plan with the same values and key order
   graphql-core would produce.

Every ``recordEvents`` request says which path answered it in the
``x-audit-executor`` response header (``fast-ingest``, or ``reference`` plus
``x-audit-fallback: <reason>``); ``COUNTS`` counts them per process.
"""

from __future__ import annotations

import collections
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from operator import attrgetter
from typing import Any, Protocol

import strawberry
from graphql import (
    DirectiveNode,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLNamedType,
    GraphQLObjectType,
    InlineFragmentNode,
    ListTypeNode,
    NamedTypeNode,
    NonNullTypeNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    VariableNode,
    Visitor,
    is_abstract_type,
    located_error,
    parse,
    specified_rules,
    visit,
)
from graphql.validation import ASTValidationRule
from strawberry.extensions import AddValidationRules, MaxTokensLimiter, ValidationCache
from strawberry.http import GraphQLRequestData
from strawberry.schema.schema import validate_document
from strawberry.types import ExecutionResult

from app.auth.principal import Scope
from app.contracts.envelope import trace_id
from app.contracts.registry import BY_NAME
from app.contracts.values import canonical_timestamp
from app.graphql.context import Context
from app.graphql.cost import CostLimit, operation_cost
from app.graphql.errors import ErrorPolicy, policy
from app.graphql.events import node_id
from app.graphql.input_coercion import Coercer, Unsupported, compile_coercer
from app.ingest import Accepted, Duplicate, Rejected, Result, Submission, record_events
from app.store.chain import record_canonical
from app.store.records import EventRecord

log = logging.getLogger("app.fast_ingest")

HEADER = "x-audit-executor"
FALLBACK_HEADER = "x-audit-fallback"
COUNTS: collections.Counter[str] = collections.Counter()
"""Requests answered per path in this process: ``fast`` and ``fallback:<reason>``."""

MAX_PLANS = 256
_KNOWN_EXTENSIONS = (ErrorPolicy, MaxTokensLimiter, AddValidationRules, ValidationCache, CostLimit)
_EVENTS_TYPE = "[RecordEventInput!]!"

Build = Callable[[Any], Any]
"""Turns one source value (a payload, a result, a record…) into its JSON answer."""


class Headers(Protocol):
    """The response headers of the view (a dict or Starlette's headers)."""

    def __setitem__(self, key: str, value: str) -> None: ...


class _NotCovered(Exception):
    """The document asks for something this module does not answer: the reference path does."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Plan:
    key: str
    """Response key of the ``recordEvents`` field (its alias, if any)."""
    node: FieldNode
    variable: str
    build: Build
    """Payload → the JSON object answering the field's selection."""
    document: DocumentNode
    operation_name: str | None


@dataclass(frozen=True, slots=True)
class _Payload:
    results: list[tuple[int, Result]]
    accepted: int
    duplicate: int
    rejected: int


class FastIngest:
    """Answers the ``recordEvents`` requests it can prove it answers exactly as the reference path."""

    def __init__(self, schema: strawberry.Schema) -> None:
        self.schema = schema._schema
        self.disabled: str | None = None
        self.max_tokens: int | None = None
        self.rules: list[type[ASTValidationRule]] = list(specified_rules)
        for factory in schema.extensions:
            extension = factory() if callable(factory) else factory
            if not isinstance(extension, _KNOWN_EXTENSIONS):
                # An extension may refuse or change what this path would skip: only known ones are mirrored.
                self.disabled = f"extension-{type(extension).__name__}"
            elif isinstance(extension, MaxTokensLimiter):
                self.max_tokens = extension.max_token_count
            elif isinstance(extension, AddValidationRules):
                self.rules += extension.validation_rules
        mutation = self.schema.mutation_type
        field = mutation.fields.get("recordEvents") if mutation else None
        if field is None:
            self.disabled = "schema"
            self.coerce: Coercer = _refuse
        else:
            self.coerce = compile_coercer(field.args["events"].type)
        self._plans: dict[tuple[str, str | None], Plan | str | None] = {}

    def plan(self, query: str, operation_name: str | None) -> Plan | str | None:
        """The plan for a document; a fallback reason for a ``recordEvents`` it does not cover; None otherwise."""
        cache_key = (query, operation_name)
        if cache_key in self._plans:
            return self._plans[cache_key]
        try:
            found: Plan | str | None = self._compile(query, operation_name)
        except _NotCovered as not_covered:
            found = not_covered.reason
        if len(self._plans) >= MAX_PLANS:
            self._plans.clear()
        self._plans[cache_key] = found
        return found

    async def execute(
        self, request_data: GraphQLRequestData, context: Context, headers: Headers
    ) -> ExecutionResult | None:
        """The answer, or None when the reference path must run (the reason is in the response headers)."""
        query = request_data.query
        if not isinstance(query, str):
            return None
        plan = self.plan(query, request_data.operation_name)
        if plan is None:
            return None
        reason = plan if isinstance(plan, str) else self.disabled or self._refusal(plan, request_data, context)
        if reason is not None:
            COUNTS[f"fallback:{reason}"] += 1
            log.debug("recordEvents on the reference path: %s", reason)
            headers[HEADER] = "reference"
            headers[FALLBACK_HEADER] = reason
            return None
        assert isinstance(plan, Plan)
        variables = request_data.variables or {}
        try:
            coerced = self.coerce(variables.get(plan.variable))
        except Unsupported:
            COUNTS["fallback:variables"] += 1
            headers[HEADER] = "reference"
            headers[FALLBACK_HEADER] = "variables"
            return None
        COUNTS["fast"] += 1
        headers[HEADER] = "fast-ingest"
        principal = context.require(Scope.WRITE)
        try:
            outcomes = await record_events(
                context.engine,
                principal,
                [_submission(event) for event in coerced],
                max_batch=context.settings.max_batch_size,
            )
        except Exception as error:  # the reference path's error policy decides what the caller sees
            located = located_error(error, [plan.node], [plan.key])
            return ExecutionResult(data=None, errors=[policy(located)])
        return ExecutionResult(data={plan.key: plan.build(_payload(outcomes))}, errors=None)

    def _refusal(self, plan: Plan, request_data: GraphQLRequestData, context: Context) -> str | None:
        """Requests the reference path answers with an error of its own (auth, batch size, a missing variable)."""
        principal = context.principal
        if principal is None or Scope.WRITE not in principal.scopes:
            return "auth"
        events = (request_data.variables or {}).get(plan.variable)
        if not isinstance(events, list):
            return "variables"
        if len(events) > context.settings.max_batch_size:
            return "batch-size"
        if operation_cost(plan.document, plan.operation_name, request_data.variables, context.settings) > (
            context.settings.max_cost
        ):
            return "cost"
        return None

    # --- compiling a document ---------------------------------------------------------------

    def _compile(self, query: str, operation_name: str | None) -> Plan | None:
        try:
            document = parse(query, max_tokens=self.max_tokens)
        except GraphQLError:
            return None
        operation = _operation(document, operation_name)
        if operation is None or operation.operation is not OperationType.MUTATION:
            return None
        selections = operation.selection_set.selections
        if not any(isinstance(s, FieldNode) and s.name.value == "recordEvents" for s in selections):
            return None
        if validate_document(self.schema, document, tuple(self.rules)):
            return None  # the reference path reports the document's errors
        if _has_directives(document):
            raise _NotCovered("directives")
        if len(selections) != 1 or not isinstance(selections[0], FieldNode):
            raise _NotCovered("root-fields")
        (node,) = selections
        assert isinstance(node, FieldNode)
        (argument,) = node.arguments or ()  # validation: recordEvents has one required argument
        definitions = operation.variable_definitions or ()
        if not isinstance(argument.value, VariableNode) or len(definitions) != 1:
            raise _NotCovered("events-not-a-variable")
        (definition,) = definitions
        if _type_text(definition.type) != _EVENTS_TYPE or definition.default_value is not None:
            raise _NotCovered("variable-type")
        fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
        compiler = _Compiler(self.schema, fragments)
        payload_type = self.schema.get_type("RecordEventsPayload")
        assert isinstance(payload_type, GraphQLObjectType)
        build = compiler.object(payload_type, [node])
        key = node.alias.value if node.alias else node.name.value
        return Plan(
            key=key,
            node=node,
            variable=definition.variable.name.value,
            build=build,
            document=document,
            operation_name=operation_name,
        )


def _refuse(_: Any) -> Any:
    raise Unsupported


def _operation(document: DocumentNode, name: str | None) -> OperationDefinitionNode | None:
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if name is None:
        return operations[0] if len(operations) == 1 else None
    return next((o for o in operations if o.name and o.name.value == name), None)


def _has_directives(document: DocumentNode) -> bool:
    found: list[DirectiveNode] = []

    class Finder(Visitor):
        def enter_directive(self, node: DirectiveNode, *_: Any) -> None:
            found.append(node)

    visit(document, Finder())
    return bool(found)


def _type_text(node: Any) -> str:
    if isinstance(node, NonNullTypeNode):
        return _type_text(node.type) + "!"
    if isinstance(node, ListTypeNode):
        return f"[{_type_text(node.type)}]"
    assert isinstance(node, NamedTypeNode)
    return node.name.value


def _submission(event: dict[str, Any]) -> Submission:
    """A coerced ``RecordEventInput`` as the write path takes it: envelope fields, member name, member data.

    The coerced dict is this request's own (built by the coercion), so its ``data`` is popped in place.
    """
    ((member, data),) = event.pop("data").items()
    return Submission(envelope=event, member=member, data=data)


def _payload(outcomes: Sequence[Result]) -> _Payload:
    accepted = duplicate = 0
    for outcome in outcomes:
        if isinstance(outcome, Accepted):
            accepted += 1
        elif isinstance(outcome, Duplicate):
            duplicate += 1
    return _Payload(list(enumerate(outcomes)), accepted, duplicate, len(outcomes) - accepted - duplicate)


# --- compiling a selection --------------------------------------------------------------------


def _index(item: tuple[int, Result]) -> int:
    return item[0]


def _record(item: tuple[int, Result]) -> EventRecord:
    outcome = item[1]
    assert isinstance(outcome, Accepted | Duplicate)
    return outcome.record


def _rejected(item: tuple[int, Result]) -> Rejected:
    outcome = item[1]
    assert isinstance(outcome, Rejected)
    return outcome


def _timestamp(name: str) -> Build:
    get = attrgetter(name)
    return lambda record: canonical_timestamp(get(record))


_LEAVES: dict[str, dict[str, Build]] = {
    "RecordEventsPayload": {
        "acceptedCount": attrgetter("accepted"),
        "duplicateCount": attrgetter("duplicate"),
        "rejectedCount": attrgetter("rejected"),
    },
    "EventAccepted": {"index": _index},
    "EventDuplicate": {"index": _index},
    "EventRejected": {"index": _index, "eventId": lambda item: _rejected(item).event_id},
    "InputError": {
        "path": lambda problem: list(problem.path),
        "code": attrgetter("code"),
        "message": attrgetter("message"),
    },
    "AuditEvent": {
        "id": lambda record: node_id(record.tenant, record.sequence),
        "eventId": attrgetter("event_id"),
        "tenant": attrgetter("tenant"),
        "source": attrgetter("source"),
        "type": attrgetter("type"),
        "schemaVersion": lambda record: BY_NAME[record.type].version,
        "sequence": lambda record: str(record.sequence),
        "occurredAt": _timestamp("occurred_at"),
        "recordedAt": _timestamp("recorded_at"),
        "outcome": attrgetter("outcome"),
        "correlationId": attrgetter("correlation_id"),
        "causationId": attrgetter("causation_id"),
        "traceparent": attrgetter("traceparent"),
        "traceId": lambda record: trace_id(record.traceparent),
    },
    "Actor": {
        "type": attrgetter("actor_type"),
        "id": attrgetter("actor_id"),
        "displayName": attrgetter("actor_display_name"),
        "ip": attrgetter("actor_ip"),
        "userAgent": attrgetter("actor_user_agent"),
    },
    "Target": {
        "type": attrgetter("target_type"),
        "id": attrgetter("target_id"),
        "displayName": attrgetter("target_display_name"),
    },
    "Integrity": {
        "hash": attrgetter("hash"),
        "previousHash": attrgetter("previous_hash"),
        "canonical": lambda record: record_canonical(record).decode("utf-8"),
    },
}

_RESULT_TYPES = {Accepted: "EventAccepted", Duplicate: "EventDuplicate", Rejected: "EventRejected"}


class _Compiler:
    """Builds answer functions from selections, merging fields the way graphql-core's CollectFields does."""

    def __init__(self, schema: Any, fragments: dict[str, FragmentDefinitionNode]) -> None:
        self.schema = schema
        self.fragments = fragments

    def object(self, type_: GraphQLObjectType, nodes: Sequence[FieldNode]) -> Build:
        fields = self._collect(type_, [n.selection_set for n in nodes if n.selection_set])
        leaves = _LEAVES.get("AuditEvent" if self._is_event(type_) else type_.name, {})
        parts: list[tuple[str, Build]] = []
        for key, field_nodes in fields.items():
            name = field_nodes[0].name.value
            if name == "__typename":
                parts.append((key, _constant(type_.name)))
            elif name in leaves:
                parts.append((key, leaves[name]))
            else:
                parts.append((key, self._child(type_, name, field_nodes)))
        return _object_builder(parts)

    def _child(self, type_: GraphQLObjectType, name: str, nodes: Sequence[FieldNode]) -> Build:
        def named(type_name: str) -> GraphQLObjectType:
            found = self.schema.get_type(type_name)
            assert isinstance(found, GraphQLObjectType)
            return found

        where = "AuditEvent" if self._is_event(type_) else type_.name
        if (where, name) == ("RecordEventsPayload", "results"):
            by_kind = {kind: self.object(named(type_name), nodes) for kind, type_name in _RESULT_TYPES.items()}
            return lambda payload: [by_kind[type(item[1])](item) for item in payload.results]
        if where in ("EventAccepted", "EventDuplicate") and name == "event":
            by_type = {contract.name: self.object(named(contract.graphql_type), nodes) for contract in BY_NAME.values()}
            return lambda item: (lambda record: by_type[record.type](record))(_record(item))
        if (where, name) == ("EventRejected", "errors"):
            error = self.object(named("InputError"), nodes)
            return lambda item: [error(problem) for problem in _rejected(item).problems]
        if where == "AuditEvent" and name in ("actor", "integrity"):
            return self.object(named(name.title()), nodes)
        if where == "AuditEvent" and name == "target":
            target = self.object(named("Target"), nodes)
            return lambda record: None if record.target_type is None else target(record)
        raise _NotCovered("selection")

    def _is_event(self, type_: GraphQLObjectType) -> bool:
        return any(interface.name == "AuditEvent" for interface in type_.interfaces)

    def _collect(self, runtime: GraphQLObjectType, sets: Iterable[SelectionSetNode]) -> dict[str, list[FieldNode]]:
        """CollectFields of the GraphQL spec (no directives reach here): fields grouped by response key, in order."""
        fields: dict[str, list[FieldNode]] = {}
        visited: set[str] = set()

        def walk(selection_set: SelectionSetNode) -> None:
            for selection in selection_set.selections:
                if isinstance(selection, FieldNode):
                    key = selection.alias.value if selection.alias else selection.name.value
                    fields.setdefault(key, []).append(selection)
                elif isinstance(selection, InlineFragmentNode):
                    condition = selection.type_condition
                    if condition is None or self._matches(condition.name.value, runtime):
                        walk(selection.selection_set)
                elif isinstance(selection, FragmentSpreadNode):
                    name = selection.name.value
                    if name in visited:
                        continue
                    fragment = self.fragments.get(name)
                    if fragment is None or not self._matches(fragment.type_condition.name.value, runtime):
                        continue
                    visited.add(name)
                    walk(fragment.selection_set)

        for selection_set in sets:
            walk(selection_set)
        return fields

    def _matches(self, condition: str, runtime: GraphQLObjectType) -> bool:
        type_: GraphQLNamedType | None = self.schema.get_type(condition)
        if type_ is runtime:
            return True
        return type_ is not None and is_abstract_type(type_) and bool(self.schema.is_sub_type(type_, runtime))


def _constant(value: str) -> Build:
    return lambda _: value


def _object_builder(parts: list[tuple[str, Build]]) -> Build:
    def build(source: Any) -> dict[str, Any]:
        return {key: part(source) for key, part in parts}

    return build
