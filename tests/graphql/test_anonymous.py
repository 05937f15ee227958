"""Without a key, only the schema answers: introspection and ``__typename``; every field of Query and Mutation
needs a key.

The schema is public (it is schema.graphql, and possible-types.json); what a key protects is a tenant's
events and the catalog served to its callers. GraphiQL needs this: it fetches the schema before anyone has
typed a key. Production turns introspection off altogether (``AUDIT_INTROSPECTION=false``).
"""

from __future__ import annotations

import pytest
from graphql import build_schema, get_introspection_query

from app.graphql.schema import export_sdl
from tests.helpers import Api

NO_KEY: list[dict[str, str]] = [{}, {"Authorization": "Bearer not-a-key"}, {"Authorization": "Bearer agw_0_unknown"}]


async def post(api: Api, query: str, headers: dict[str, str]) -> dict:
    response = await api.client.post("/graphql", json={"query": query}, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize("headers", NO_KEY, ids=["none", "invalid", "unknown"])
@pytest.mark.parametrize(
    ("query", "data"),
    [
        ("{ __typename }", {"__typename": "Query"}),
        ("mutation { __typename }", {"__typename": "Mutation"}),
        ('{ __type(name: "AuditEvent") { kind } }', {"__type": {"kind": "INTERFACE"}}),
        (
            "{ __schema { queryType { name } mutationType { name } } }",
            {"__schema": {"queryType": {"name": "Query"}, "mutationType": {"name": "Mutation"}}},
        ),
    ],
)
async def test_the_schema_answers_without_a_key(api: Api, headers: dict[str, str], query: str, data: dict) -> None:
    assert await post(api, query, headers) == {"data": data}


async def test_graphiqls_full_introspection_answers_without_a_key(api: Api) -> None:
    body = await post(api, get_introspection_query(one_of=True), {})
    assert "errors" not in body and body["data"]["__schema"]["types"]


FIELDS = {
    "events": "{ __typename events(first: 1) { totalCount } }",
    "event": '{ event(eventId: "demo00001-1") { __typename } }',
    "node": '{ node(id: "x") { id } }',
    "nodes": '{ nodes(ids: ["x"]) { id } }',
    "correlation": '{ correlation(id: "c") { id } }',
    "eventTypes": "{ eventTypes { type } }",
    "verifyIntegrity": "{ verifyIntegrity { ok } }",
    "recordEvents": "mutation { __typename recordEvents(events: []) { acceptedCount } }",
}


@pytest.mark.parametrize("headers", NO_KEY, ids=["none", "invalid", "unknown"])
@pytest.mark.parametrize("field", FIELDS)
async def test_every_root_field_needs_a_key(api: Api, headers: dict[str, str], field: str) -> None:
    body = await post(api, FIELDS[field], headers)
    assert [e["extensions"]["code"] for e in body["errors"]] == ["UNAUTHENTICATED"], body
    assert not (body.get("data") or {}).get(field), body


def test_every_root_field_is_covered() -> None:
    schema = build_schema(export_sdl())
    assert schema.query_type is not None and schema.mutation_type is not None
    assert set(FIELDS) == set(schema.query_type.fields) | set(schema.mutation_type.fields)


async def test_the_possible_types_answer_without_a_key(api: Api) -> None:
    response = await api.client.get("/graphql/possible-types.json")
    assert response.status_code == 200 and "AuditEvent" in response.json()
