"""GET /graphql/possible-types.json is Apollo Client's possibleTypes for the served schema (and schema.graphql)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from graphql import build_schema, get_introspection_query, introspection_from_schema

from app.config import Settings
from app.server import create_app
from tests.helpers import Api

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "schema.graphql"


def apollo_possible_types(introspection: dict[str, Any]) -> dict[str, list[str]]:
    """Apollo's documented recipe, applied to an introspection result: every type that has possibleTypes."""
    return {
        t["name"]: sorted(p["name"] for p in t["possibleTypes"])
        for t in introspection["__schema"]["types"]
        if t["possibleTypes"]
    }


async def test_possible_types_match_the_served_schema_and_schema_graphql(api: Api) -> None:
    response = await api.client.get("/graphql/possible-types.json")  # no key, like introspection
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/json")
    served = response.json()

    assert served == apollo_possible_types(await api.ok(get_introspection_query(), key=None))
    assert served == apollo_possible_types(introspection_from_schema(build_schema(SCHEMA_FILE.read_text())))

    assert set(served) == {"AuditEvent", "AuditEventUnion", "Node", "RecordEventResult"}
    assert served["AuditEventUnion"] == served["AuditEvent"], "every member of the union is an AuditEvent"
    assert "OrderPlaced" in served["AuditEvent"] and "EventRejected" in served["RecordEventResult"]


async def test_with_introspection_off_there_are_no_possible_types(sqlite_url: str) -> None:
    app = create_app(Settings(database_url=sqlite_url, introspection=False))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway") as client:
        assert (await client.get("/graphql/possible-types.json")).status_code == 404
