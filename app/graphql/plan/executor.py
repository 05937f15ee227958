"""The compiled executor: serves the read operations it covers, hands every other one to the reference.

Per (document text, operationName) it parses once (with the token limit) and
validates once with exactly the rules of the Strawberry schema; per outcome of
the document's ``@skip``/``@include`` variables it compiles a plan once. A request
then costs variable coercion (graphql-core's own), the cost check, the store
calls and building the response from rows.

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
from app.errors import LimitExceeded, UserFacingError
from app.graphql.context import Context
from app.graphql.cost import check_cost
from app.graphql.plan.compile import Compiler, Miss, Plan, Unsupported
from app.graphql.plan.run import Run
from app.graphql.schema import validation_rules

log = logging.getLogger("app.graphql.plan")

MAX_PLANS_PER_DOCUMENT = 16
"""Plans kept per document, one per outcome of its @skip/@include variables."""


@dataclass(eq=False)
class Prepared:
    """A parsed, validated document and the plans compiled from it; or why the reference serves it."""

    document: DocumentNode | None = None
    operation: OperationDefinitionNode | None = None
    fragments: dict[str, FragmentDetails] = field(default_factory=dict)
    directive_variables: tuple[str, ...] = ()
    refused: str | None = None
    plans: dict[tuple[Any, ...], Plan | str] = field(default_factory=dict)


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
        return Prepared(document, operation, fragments, tuple(names.names))

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
        try:
            check_cost(prepared.document, operation_name, variables, self.settings)
        except LimitExceeded:
            return "cost"
        plan = self.plan(prepared, coerced)
        if isinstance(plan, str):
            return plan
        try:
            return await Run(context, coerced, self.schema).execute(plan)
        except (UserFacingError, Miss):
            return "error"  # the reference answers with the exact error, its path and any partial data
        except Exception as error:
            # E.g. a database failure: the reference meets it too, masks it and logs it once, with its id.
            return f"failed: {type(error).__name__}"
