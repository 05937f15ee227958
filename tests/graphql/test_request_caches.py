"""The compiled executor's per-request caches answer exactly what they replace, over the differential corpus.

* the cost kept per prepared document and shape of the variables it reads (``CompiledExecutor.cost``,
  ``app.graphql.cost.cost_key``) equals ``operation_cost`` computed afresh, for every document the
  differential tests use (found in the project and generated) under many variable values, hostile ones
  included, all through one executor so that an entry made for some values would show under others;
* the arguments converted once per field node without variables (``app.graphql.plan.arguments``) equal
  ``Run.arguments`` for every field of every such document.

The responses themselves are compared with the reference executor by test_compiled_differential.py and
tests/test_direct_lane.py, which run through both caches.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import pytest
from graphql import (
    FieldNode,
    GraphQLError,
    OperationDefinitionNode,
    TypeInfo,
    TypeInfoVisitor,
    parse,
    visit,
)
from graphql.execution.values import get_variable_values
from graphql.language import Visitor

from app.config import Settings
from app.graphql.cost import cost_variables, operation_cost
from app.graphql.plan.arguments import ArgumentCache, CachedRun
from app.graphql.plan.executor import MAX_COSTS_PER_DOCUMENT, CompiledExecutor
from app.graphql.plan.run import Run
from app.graphql.schema import build_schema
from tests.graphql.test_compiled_differential import Generator, World, found_documents

MISSING = object()
HOSTILE: list[Any] = [
    MISSING, None, True, False, 0, 1, 2, 7, 100, 500, 501, 10**9, -1, 2.5, 1.0, float("inf"),
    "3", "12", "x" * 10, "y" * 100, [], ["a"] * 3, ["a"] * 700, [None], {}, {"a": 1},
]  # fmt: skip


def _stand_in() -> World:
    """The generator's and ``variables_for``'s values, without a database (no request is sent here)."""
    return World(
        tenant="t",
        keys={},
        event_ids=[f"e-{n}" for n in range(8)],
        correlations=[f"c-{n}" for n in range(4)],
        node_ids=[f"QXVkaXRFdmVudDp0OjE{n}" for n in range(8)],
        cursor="Y3Vyc29y",
        compiled=None,  # type: ignore[arg-type]
        reference=None,  # type: ignore[arg-type]
        compiled_app=None,
    )


def corpus() -> Iterator[tuple[str, str | None, list[dict[str, Any]]]]:
    """(document, operationName, variable sets): found and generated documents, meaningful and hostile values."""
    rng = random.Random(9)
    world = _stand_in()
    documents = [(document, world.variables_for(document, rng)) for _, document in found_documents()]
    generator = Generator(rng, world)
    documents += [generator.document()[:2] for _ in range(200)]
    for document, meaningful in documents:
        parsed = parse(document)
        operations = [d for d in parsed.definitions if isinstance(d, OperationDefinitionNode)]
        names = [d.variable.name.value for o in operations for d in o.variable_definitions or ()]
        sets = [meaningful, {}]
        for _ in range(14):
            values = {name: rng.choice(HOSTILE) for name in names}
            sets.append({**meaningful, **{k: v for k, v in values.items() if v is not MISSING}})
        for operation in operations if len(operations) > 1 else operations[:1]:
            yield document, operation.name.value if len(operations) > 1 and operation.name else None, sets


def _outcome(call: Any, *arguments: Any) -> Any:
    try:
        return ("value", call(*arguments))
    except Exception as error:
        return ("raised", type(error), str(error))


def test_cached_costs_equal_computed_costs() -> None:
    settings = Settings(max_page_size=500, max_cost=10**12)
    executor = CompiledExecutor(build_schema(settings), settings)
    checked = 0
    for document, operation_name, sets in corpus():
        prepared = executor.prepare(document, operation_name)
        if prepared.refused is not None:
            continue
        assert prepared.document is not None
        parsed = parse(document)  # not the prepared one: the reference parses its own
        for variables in sets * 2:  # the second pass meets every key cached
            expected = _outcome(operation_cost, parsed, operation_name, variables, settings)
            assert _outcome(executor.cost, prepared, operation_name, variables) == expected, (
                document,
                variables,
            )
            checked += 1
    assert checked > 5_000, checked
    assert executor.costs["cached"] > 2_500 and executor.costs["computed"] > 500, executor.costs
    assert executor.costs["uncachable"] > 0, executor.costs  # the long strings


def test_cost_keys_leave_out_the_variables_the_cost_does_not_read() -> None:
    document = parse(
        "query($n: Int, $after: String, $s: String, $skip: Boolean!, $ids: [ID!]!) { "
        "events(first: $n, after: $after, search: $s) { nodes { ... on AuditEvent @skip(if: $skip) { eventId } } } "
        "nodes(ids: $ids) { id } }"
    )
    assert cost_variables(document) == ("ids", "n", "skip")  # a cursor or a search term never splits the cache


def test_costs_per_document_stay_bounded() -> None:
    settings = Settings()
    executor = CompiledExecutor(build_schema(settings), settings)
    prepared = executor.prepare("query($n: Int) { events(first: $n) { totalCount } }", None)
    for n in range(MAX_COSTS_PER_DOCUMENT * 3):
        assert executor.cost(prepared, None, {"n": n}) == min(n, settings.max_page_size)
        assert len(prepared.costs) <= MAX_COSTS_PER_DOCUMENT


class _Fields(Visitor):
    def __init__(self, info: TypeInfo) -> None:
        super().__init__()
        self.info = info
        self.found: list[tuple[Any, FieldNode]] = []

    def enter_field(self, node: FieldNode, *_: Any) -> None:
        definition = self.info.get_field_def()
        if definition is not None and "strawberry-definition" in definition.extensions:
            self.found.append((definition, node))


@pytest.mark.parametrize("repeat", [1, 2])
def test_cached_arguments_equal_converted_arguments(repeat: int) -> None:
    settings = Settings()
    executor = CompiledExecutor(build_schema(settings), settings)
    cache = ArgumentCache(max_entries=100_000 if repeat == 1 else 50)  # 50: entries dropped and made again
    run_class: type[CachedRun] = type("Run", (CachedRun,), {"cache": cache})
    checked = 0
    for document, operation_name, sets in corpus():
        prepared = executor.prepare(document, operation_name)
        if prepared.refused is not None or prepared.operation is None:
            continue
        info = TypeInfo(executor.graphql)
        fields = _Fields(info)
        visit(prepared.document, TypeInfoVisitor(info, fields))  # type: ignore[arg-type]
        for variables in sets:
            coerced = get_variable_values(executor.graphql, prepared.operation.variable_definitions or (), variables)
            if isinstance(coerced, list):
                continue  # the reference refuses them before any argument is read
            reference = Run(None, coerced, executor.schema)  # type: ignore[arg-type]
            cached = run_class(None, coerced, executor.schema)  # type: ignore[arg-type]
            for definition, node in fields.found:
                expected = _outcome(reference.arguments, definition, node)
                if expected[0] == "raised":
                    assert issubclass(expected[1], GraphQLError | ValueError | TypeError), expected
                for _ in range(2):
                    got = _outcome(cached.arguments, definition, node)
                    assert got == expected, (document, variables, node.name.value)
                    checked += 1
    assert checked > 10_000, checked
    assert cache.counts["cached"] > 5_000 and cache.counts["variables"] > 1_000, cache.counts
