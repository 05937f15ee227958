"""Production switches, and the limits leaving GraphiQL's own introspection usable."""

from __future__ import annotations

import httpx
from graphql import get_introspection_query
from sqlalchemy.ext.asyncio import AsyncEngine

from app.config import Settings
from app.server import create_app
from tests.helpers import Api


async def test_graphiqls_introspection_query_passes_the_default_limits(api: Api) -> None:
    query = get_introspection_query(
        descriptions=True,
        specified_by_url=True,
        directive_is_repeatable=True,
        schema_description=True,
        input_value_deprecation=True,
        one_of=True,
    )
    data = await api.ok(query, key=None)  # GraphiQL fetches the schema before a key is typed in
    assert data["__schema"]["queryType"]["name"] == "Query"


async def _client(settings: Settings, engine: AsyncEngine) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(settings, engine=engine)), base_url="http://gateway"
    )


async def test_production_switches_turn_off_introspection_graphiql_and_suggestions(
    engine: AsyncEngine, database_url: str, keys: object
) -> None:
    settings = Settings(database_url=database_url, introspection=False, graphiql=False, field_suggestions=False)
    async with await _client(settings, engine) as client:
        headers = {"Authorization": f"Bearer {keys.reader}"}  # type: ignore[attr-defined]
        introspect = {"query": "{ __schema { types { name } } }"}
        body = (await client.post("/graphql", json=introspect, headers=headers)).json()
        assert body["errors"] and not body.get("data")
        page = await client.get("/graphql", headers={"Accept": "text/html"})
        assert page.status_code >= 400 and "graphiql" not in page.text.lower()
        assert (await client.get("/graphiql/static/graphiql.min.js")).status_code == 404
        body = (await client.post("/graphql", json={"query": "{ evnts { totalCount } }"}, headers=headers)).json()
        assert "Did you mean" not in body["errors"][0]["message"]

    async with await _client(Settings(database_url=database_url), engine) as client:
        body = (await client.post("/graphql", json={"query": "{ evnts { totalCount } }"}, headers=headers)).json()
        assert "Did you mean" in body["errors"][0]["message"], "on by default, for local use"
