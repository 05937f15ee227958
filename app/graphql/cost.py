"""The cost limit: what an operation may cost, computed from the document and variables before it runs.

In the style of graphql-armor's cost limit, but counted in what hurts here: the
events an operation may return. Every field that returns events costs its page
size times the number of times it runs, so sizes multiply along nested lists —
``events(first: 100) { … effects(first: 50) }`` costs 100 + 100 × 50. ``nodes``
costs its id count, ``verifyIntegrity`` its range (``AUDIT_MAX_VERIFY_RANGE`` when
open-ended). Sizes above the page-size maximum are counted at the maximum: asking
for more is refused by the field itself, with its own message.

Both executors call :func:`operation_cost` (the reference one through
:class:`CostLimit`), so a budget is enforced identically whichever serves. The
compiled executor keeps each prepared document's costs by :func:`cost_key`: the
cost reads only the arguments in ``COST_ARGUMENTS`` and ``@skip``/``@include``,
and of a variable only what :func:`_shape` keeps (``tests/graphql/test_cost_cache.py``
compares cached and computed costs over the corpus of the executors' differential tests).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Final

from graphql import (
    BooleanValueNode,
    DirectiveNode,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    IntValueNode,
    ListValueNode,
    NullValueNode,
    ObjectValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValueNode,
    VariableNode,
    Visitor,
    visit,
)
from graphql.execution import ExecutionResult
from graphql.utilities import get_operation_ast
from strawberry.extensions import SchemaExtension

from app.config import Settings
from app.errors import LimitExceeded

MAX_NODE_IDS = 500  # app.graphql.query.MAX_NODE_IDS (not imported: query imports the schema's types)

_EVENT_LISTS = {"effects", "correlated"}
_ONE_EVENT_AT_ROOT = {"node", "event", "correlation"}
_PAGES = {"events"}

COST_ARGUMENTS: Final = frozenset({"first", "last", "ids", "events", "fromSequence", "toSequence"})
"""The only field arguments the cost reads (``_Walk.argument`` refuses any other name)."""


class _Walk:
    def __init__(
        self,
        document: DocumentNode,
        operation: OperationDefinitionNode,
        variables: Mapping[str, Any],
        settings: Settings,
    ) -> None:
        self.settings = settings
        self.fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
        self.variables = dict(variables)
        for definition in operation.variable_definitions or ():
            name = definition.variable.name.value
            if name not in self.variables and definition.default_value is not None:
                self.variables[name] = _literal(definition.default_value, {})

    def fields(self, selection_set: SelectionSetNode, seen: frozenset[str] = frozenset()) -> Iterator[FieldNode]:
        """The fields of a selection set through fragments, skipping those @skip/@include rule out."""
        for selection in selection_set.selections:
            if not self.included(selection):
                continue
            if isinstance(selection, FieldNode):
                yield selection
            elif isinstance(selection, InlineFragmentNode):
                yield from self.fields(selection.selection_set, seen)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self.fragments.get(name)
                if fragment is not None and name not in seen:
                    yield from self.fields(fragment.selection_set, seen | {name})

    def included(self, selection: FieldNode | InlineFragmentNode | FragmentSpreadNode | Any) -> bool:
        for directive in selection.directives or ():
            if directive.name.value not in ("skip", "include") or not directive.arguments:
                continue
            condition = _literal(directive.arguments[0].value, self.variables)
            if isinstance(condition, bool) and condition == (directive.name.value == "skip"):
                return False
        return True

    def argument(self, field: FieldNode, name: str) -> Any:
        assert name in COST_ARGUMENTS, name  # cost_key depends on it
        for argument in field.arguments or ():
            if argument.name.value == name:
                return _literal(argument.value, self.variables)
        return None

    def size(self, value: Any, default: int, maximum: int) -> int:
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int | float):
            return 0  # not a number: coercion refuses it before anything runs
        return int(min(max(value, 0), maximum))

    def cost(self, selection_set: SelectionSetNode, times: int, root: bool = False) -> int:
        total = 0
        maximum = self.settings.max_page_size
        for field in self.fields(selection_set):
            name = field.name.value
            if name in _PAGES:
                last = self.argument(field, "last")
                given = last if last is not None else self.argument(field, "first")
                count = self.size(given, self.settings.default_page_size, maximum)
            elif name in _EVENT_LISTS:
                count = self.size(self.argument(field, "first"), 50, maximum)
            elif name == "nodes" and root:  # (a connection's ``nodes`` is its page, counted already)
                ids = self.argument(field, "ids")
                count = min(len(ids), MAX_NODE_IDS) if isinstance(ids, list) else 1
            elif name == "causedBy" or (root and name in _ONE_EVENT_AT_ROOT):
                count = 1
            elif name == "recordEvents":
                submitted = self.argument(field, "events")
                count = min(len(submitted), self.settings.max_batch_size) if isinstance(submitted, list) else 1
            elif name == "verifyIntegrity":
                total += times * self.verify_range(field)
                continue
            else:
                count = 1
                if field.selection_set is not None:
                    total += self.cost(field.selection_set, times)
                continue
            total += times * count
            if field.selection_set is not None:
                total += self.cost(field.selection_set, times * count)
        return total

    def verify_range(self, field: FieldNode) -> int:
        maximum = self.settings.max_verify_range
        start, end = self.argument(field, "fromSequence"), self.argument(field, "toSequence")
        try:
            first, last = int(start), int(end)
        except (TypeError, ValueError):
            return maximum  # open-ended (or not a number, which coercion refuses)
        return min(max(last - first + 1, 0), maximum)


def _literal(node: ValueNode, variables: Mapping[str, Any]) -> Any:
    """A value as far as the cost needs it: numbers, booleans, lists (for their length), variables."""
    if isinstance(node, VariableNode):
        return variables.get(node.name.value)
    if isinstance(node, IntValueNode):
        return int(node.value)
    if isinstance(node, BooleanValueNode):
        return node.value
    if isinstance(node, ListValueNode):
        return list(node.values)
    if isinstance(node, NullValueNode):
        return None
    return getattr(node, "value", None)


def operation_cost(
    document: DocumentNode, operation_name: str | None, variables: Mapping[str, Any] | None, settings: Settings
) -> int:
    """The cost of the operation ``operation_name`` selects in a validated ``document``."""
    operation = get_operation_ast(document, operation_name)
    if operation is None:
        return 0
    walk = _Walk(document, operation, variables if isinstance(variables, Mapping) else {}, settings)
    return walk.cost(operation.selection_set, 1, root=True)


class _CostVariables(Visitor):
    """Names of the variables inside the arguments the cost reads, anywhere in a document."""

    def __init__(self) -> None:
        super().__init__()
        self.names: set[str] = set()

    def enter_field(self, node: FieldNode, *_: Any) -> None:
        for argument in node.arguments or ():
            if argument.name.value in COST_ARGUMENTS:
                self.names.update(_variables_in(argument.value))

    def enter_directive(self, node: DirectiveNode, *_: Any) -> None:
        if node.name.value in ("skip", "include"):
            for argument in node.arguments or ():
                self.names.update(_variables_in(argument.value))


def _variables_in(value: ValueNode) -> Iterator[str]:
    if isinstance(value, VariableNode):
        yield value.name.value
    elif isinstance(value, ListValueNode):
        for item in value.values:
            yield from _variables_in(item)
    elif isinstance(value, ObjectValueNode):
        for field in value.fields:
            yield from _variables_in(field.value)


def cost_variables(document: DocumentNode) -> tuple[str, ...]:
    """The variables the cost of any operation of ``document`` can depend on (a superset), sorted."""
    found = _CostVariables()
    visit(document, found)
    return tuple(sorted(found.names))


_MISSING: Final = ("missing",)
_LONGEST_KEY_TEXT = 64


class Uncachable(Exception):
    """A variable value :func:`cost_key` does not reduce (too long a string, a type JSON does not make)."""


def _shape(value: Any) -> Any:
    """What the cost walk can tell of a variable's value: all of a scalar, only the type and length of a list,
    only the type of an object (``_literal``, ``_Walk.size``, ``argument``, ``included`` and ``verify_range``
    use nothing else). The type is part of the key: ``True == 1`` in Python, but not for the walk."""
    if value is None:
        return None
    kind = type(value)
    if kind is bool or kind is int or kind is float:
        return (kind.__name__, value)
    if kind is str and len(value) <= _LONGEST_KEY_TEXT:
        return ("str", value)
    if kind is list:
        return ("list", len(value))
    if kind is dict:
        return ("dict",)
    raise Uncachable


def cost_key(names: tuple[str, ...], variables: Mapping[str, Any] | None) -> tuple[Any, ...]:
    """The key of a cost: the shapes of the variables ``names`` (from :func:`cost_variables`), given or not.

    Raises ``Uncachable`` for a value it does not reduce: the cost is then computed, not cached.
    """
    given = variables if isinstance(variables, Mapping) else {}
    return tuple(_shape(given[name]) if name in given else _MISSING for name in names)


def check_cost(
    document: DocumentNode, operation_name: str | None, variables: Mapping[str, Any] | None, settings: Settings
) -> None:
    """Raises ``LimitExceeded`` naming the cost and the budget when the operation costs too much."""
    cost = operation_cost(document, operation_name, variables, settings)
    if cost > settings.max_cost:
        raise LimitExceeded(
            f"the operation costs {cost}, over the budget of {settings.max_cost} (AUDIT_MAX_COST): "
            "each field that returns events counts its page size times the lists it is nested in; "
            "ask for smaller pages or fewer nested lists"
        )


class CostLimit(SchemaExtension):
    """Refuses an operation over the budget after validation, before any resolver runs."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        if context.graphql_document is not None and context.result is None:
            try:
                check_cost(context.graphql_document, context.operation_name, context.variables, self.settings)
            except LimitExceeded as error:
                # Setting the result skips execution; the error policy turns this into LIMIT_EXCEEDED.
                context.result = ExecutionResult(data=None, errors=[GraphQLError(str(error), original_error=error)])
        yield
