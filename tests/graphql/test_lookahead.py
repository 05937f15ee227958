"""``page_selects_cause``: a connection reads its events' causes with its page exactly when they are selected."""

from __future__ import annotations

from typing import Any

import pytest
from graphql import FragmentDefinitionNode, OperationDefinitionNode, parse
from graphql.execution.collect_fields import FragmentDetails, collect_fields, collect_subfields
from graphql.execution.values import get_variable_values

from app.config import Settings
from app.graphql.lookahead import page_selects_cause
from app.graphql.schema import build_schema

SCHEMA = build_schema(Settings(database_url="sqlite+aiosqlite://"))._schema

SKIPPED = "query($s: Boolean!) { events { edges { node { ... on AuditEvent { causedBy @skip(if: $s) { eventId }}}}}}"

CASES = [
    ("{ events { edges { node { ... on AuditEvent { causedBy { __typename } } } } } }", {}, True),
    ("{ events { nodes { ... on AuditEvent { causedBy { __typename } } } } }", {}, True),
    ("{ events { nodes { ... on OrderPlaced { causedBy { __typename } } } } }", {}, True),
    ("{ events { edges { n: node { ... on AuditEvent { c: causedBy { __typename } } } } } }", {}, True),
    ("{ events { edges { node { ...F } } } } fragment F on AuditEvent { causedBy { __typename } }", {}, True),
    (
        "{ events { edges { node { ... on AuditEvent { ... on RefundIssued { causedBy { __typename } } } } } } }",
        {},
        True,
    ),
    (
        SKIPPED,
        {"s": True},
        False,
    ),
    (
        SKIPPED,
        {"s": False},
        True,
    ),
    (
        "query($i: Boolean!) { events { nodes @include(if: $i) { ... on AuditEvent { causedBy { eventId } } } } }",
        {"i": False},
        False,
    ),
    ("{ events { edges { node { ... on AuditEvent { eventId } } } } }", {}, False),
    ("{ events { totalCount pageInfo { endCursor } } }", {}, False),
    (
        "{ events { edges { node { ... on AuditEvent { effects { ... on AuditEvent { causedBy { eventId }}}}}}}}",
        {},
        False,
    ),
    (
        "{ events { edges { node { ... on AuditEvent { correlated { ... on AuditEvent { causedBy { eventId }}}}}}}}",
        {},
        False,
    ),
]


def _decide(document: str, variables: dict[str, Any]) -> bool:
    parsed = parse(document)
    (operation,) = [d for d in parsed.definitions if isinstance(d, OperationDefinitionNode)]
    fragments = {d.name.value: FragmentDetails(d) for d in parsed.definitions if isinstance(d, FragmentDefinitionNode)}
    values = get_variable_values(SCHEMA, operation.variable_definitions or (), variables)
    assert not isinstance(values, list), values
    assert SCHEMA.query_type is not None
    roots = collect_fields(SCHEMA, fragments, values, SCHEMA.query_type, operation).grouped_field_set
    return page_selects_cause(SCHEMA, fragments, values, operation, roots["events"])


@pytest.mark.parametrize(("document", "variables", "expected"), CASES)
def test_page_selects_cause(document: str, variables: dict[str, Any], expected: bool) -> None:
    assert _decide(document, variables) is expected


def test_correlation_pages_decide_the_same_way() -> None:
    document = '{ correlation(id: "c") { events { edges { node { ... on AuditEvent { causedBy { eventId } } } } } } }'
    parsed = parse(document)
    (operation,) = parsed.definitions
    assert isinstance(operation, OperationDefinitionNode)
    values = get_variable_values(SCHEMA, (), {})
    assert not isinstance(values, list) and SCHEMA.query_type is not None
    root = collect_fields(SCHEMA, {}, values, SCHEMA.query_type, operation).grouped_field_set["correlation"]
    correlation = SCHEMA.get_type("Correlation")
    sub = collect_subfields(SCHEMA, {}, values, operation, correlation, root).grouped_field_set  # type: ignore[arg-type]
    assert page_selects_cause(SCHEMA, {}, values, operation, sub["events"])
