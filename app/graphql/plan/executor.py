"""The compiled executor: serves the read operations it covers, hands every other one to the reference.

Per (document text, operationName) it parses once (with the token limit) and
validates once with exactly the rules of the Strawberry schema; per outcome of
the document's ``@skip``/``@include`` variables it compiles a plan once; per
shape of the variables the cost reads it computes the cost once (``cost_key``);
and the arguments of a field that uses no variable are converted once
(``app.graphql.plan.arguments``). A request then costs variable coercion
(graphql-core's own), the store calls and building the response from rows.

It answers only when it can answer exactly as the reference would. It returns
``None`` — and the reference executor serves the request — for a document that
does not validate, an operation the plans do not cover (mutations,
introspection, ``verifyIntegrity``, ``eventTypes``…), variables that do not
coerce, an operation over the cost budget, and any error while running (a bad
cursor, a page size over the maximum, a missing key, a database failure…):
those are error paths, and the reference produces their exact error response.
Reads write nothing, so running one again is harmless.
"""

from __future__ import annotations

import logging
from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from typing import Any

import strawberry
from graphql import (
    DirectiveNode,
    DocumentNode,
    FragmentDefinitionNode,
    GraphQLError,
    OperationDefinitionNode,
    OperationType,
    VariableNode,
    parse,
    validate,
    visit,
)
from graphql.execution.collect_fields import FragmentDetails
from graphql.execution.values import VariableValues, get_variable_values
from graphql.language import Visitor
from graphql.utilities import get_operation_ast

from app.config import Settings
from app.errors import UserFacingError
from app.graphql.context import Context
from app.graphql.cost import Uncachable, cost_key, cost_variables, operation_cost
from app.graphql.plan.arguments import ArgumentCache, CachedRun
from app.graphql.plan.compile import Compiler, Miss, Plan, Unsupported
from app.graphql.schema import validation_rules

log = logging.getLogger("app.graphql.plan")

MAX_PLANS_PER_DOCUMENT = 16
"""Plans kept per document, one per outcome of its @skip/@include variables."""
MAX_COSTS_PER_DOCUMENT = 64
"""Costs kept per document, one per shape of the variables the cost reads (then the oldest half goes)."""


@dataclass(eq=False)
class Prepared:
    """A parsed, validated document and the plans compiled from it; or why the reference serves it."""

    document: DocumentNode | None = None
    operation: OperationDefinitionNode | None = None
    fragments: dict[str, FragmentDetails] = field(default_factory=dict)
    directive_variables: tuple[str, ...] = ()
    refused: str | None = None
    plans: dict[tuple[Any, ...], Plan | str] = field(default_factory=dict)
    cost_variables: tuple[str, ...] = ()
    """The variables the cost can depend on (``app.graphql.cost.cost_variables``)."""
    costs: dict[tuple[Any, ...], int] = field(default_factory=dict)


class _DirectiveVariables(Visitor):
    """Names of the variables ``@skip``/``@include`` read: the plan depends on their values."""

    def __init__(self) -> None:
        super().__init__()
        self.names: list[str] = []

    def enter_directive(self, node: DirectiveNode, *_: Any) -> None:
        if node.name.value in ("skip", "include"):
            for argument in node.arguments or ():
                if isinstance(argument.value, VariableNode) and argument.value.name.value not in self.names:
                    self.names.append(argument.value.name.value)


class CompiledExecutor:
    def __init__(self, schema: strawberry.Schema, settings: Settings, cache_size: int = 256) -> None:
        self.schema = schema
        self.graphql = schema._schema
        self.settings = settings
        self.rules = validation_rules(settings)
        self.cache_size = cache_size
        self._documents: OrderedDict[tuple[str, str | None], Prepared] = OrderedDict()
        self.served: Counter[str] = Counter()
        """Requests per executor: ``compiled`` and ``reference``."""
        self.reasons: Counter[str] = Counter()
        """Why the reference served a request: ``invalid``, ``unsupported: …``, ``variables``, ``cost``, ``error``."""
        self.costs: Counter[str] = Counter()
        """Costs taken from a document's cache (``cached``), computed and kept (``computed``), or computed for
        variables the key does not reduce (``uncachable``)."""
        self.arguments = ArgumentCache()
        self._run: type[CachedRun] = type("Run", (CachedRun,), {"cache": self.arguments})

    def prepare(self, query: str, operation_name: str | None) -> Prepared:
        key = (query, operation_name)
        prepared = self._documents.get(key)
        if prepared is not None:
            self._documents.move_to_end(key)
            return prepared
        prepared = self._prepare(query, operation_name)
        self._documents[key] = prepared
        if len(self._documents) > self.cache_size:
            self._documents.popitem(last=False)
        return prepared

    def _prepare(self, query: str, operation_name: str | None) -> Prepared:
        try:
            document = parse(query, max_tokens=self.settings.max_tokens)
        except GraphQLError:
            return Prepared(refused="invalid")
        try:
            if validate(self.graphql, document, self.rules):
                return Prepared(refused="invalid")
        except Exception:
            return Prepared(refused="invalid")
        operation = get_operation_ast(document, operation_name)
        if operation is None:
            return Prepared(refused="invalid")
        if operation.operation is not OperationType.QUERY:
            return Prepared(refused=f"unsupported: {operation.operation.value}")
        fragments = {
            d.name.value: FragmentDetails(d) for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        names = _DirectiveVariables()
        visit(document, names)
        return Prepared(document, operation, fragments, tuple(names.names), cost_variables=cost_variables(document))

    def cost(self, prepared: Prepared, operation_name: str | None, variables: dict[str, Any] | None) -> int:
        """``operation_cost`` of the prepared document, kept per shape of the variables it reads."""
        assert prepared.document is not None
        try:
            key = cost_key(prepared.cost_variables, variables)
        except Uncachable:
            self.costs["uncachable"] += 1
            return operation_cost(prepared.document, operation_name, variables, self.settings)
        found = prepared.costs.get(key)
        if found is not None:
            self.costs["cached"] += 1
            return found
        cost = operation_cost(prepared.document, operation_name, variables, self.settings)
        if len(prepared.costs) >= MAX_COSTS_PER_DOCUMENT:
            for old in list(prepared.costs)[: MAX_COSTS_PER_DOCUMENT // 2]:
                del prepared.costs[old]
        prepared.costs[key] = cost
        self.costs["computed"] += 1
        return cost

    def plan(self, prepared: Prepared, variables: VariableValues) -> Plan | str:
        assert prepared.operation is not None
        key = tuple(variables.coerced.get(name) for name in prepared.directive_variables)
        found = prepared.plans.get(key)
        if found is None:
            try:
                found = Compiler(self.graphql, prepared.fragments, prepared.operation, variables).compile()
            except Unsupported as error:
                found = f"unsupported: {error}"
            if len(prepared.plans) < MAX_PLANS_PER_DOCUMENT:
                prepared.plans[key] = found
        return found

    async def execute(self, query: Any, variables: Any, operation_name: Any, context: Context) -> dict[str, Any] | None:
        """The response's ``data``, or None when the reference executor must serve this request."""
        reason = await self._try(query, variables, operation_name, context)
        if isinstance(reason, dict):
            self.served["compiled"] += 1
            return reason
        self.served["reference"] += 1
        self.reasons[reason] += 1
        log.debug("served by the reference executor: %s", reason, extra={"executor": "reference", "reason": reason})
        return None

    async def _try(self, query: Any, variables: Any, operation_name: Any, context: Context) -> dict[str, Any] | str:
        if not isinstance(query, str) or not (operation_name is None or isinstance(operation_name, str)):
            return "invalid"
        if variables is not None and not isinstance(variables, dict):
            return "invalid"
        prepared = self.prepare(query, operation_name)
        if prepared.refused is not None:
            return prepared.refused
        assert prepared.operation is not None and prepared.document is not None
        coerced = get_variable_values(self.graphql, prepared.operation.variable_definitions or (), variables or {})
        if isinstance(coerced, list):
            return "variables"
        if self.cost(prepared, operation_name, variables) > self.settings.max_cost:
            return "cost"  # the reference refuses it with the message of check_cost
        plan = self.plan(prepared, coerced)
        if isinstance(plan, str):
            return plan
        try:
            return await self._run(context, coerced, self.schema).execute(plan)
        except (UserFacingError, Miss):
            return "error"  # the reference answers with the exact error, its path and any partial data
        except Exception as error:
            # E.g. a database failure: the reference meets it too, masks it and logs it once, with its id.
            return f"failed: {type(error).__name__}"
