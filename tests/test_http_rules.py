"""Transport rules of ``/graphql``: exact media type, UTF-8 only, GraphiQL headers, a failing key lookup."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from app.config import Settings
from app.http_rules import GRAPHIQL_HEADERS
from app.server import create_app
from app.store.engine import create_engine
from tests.helpers import Api, Keys, healthy, literal_order, stored

SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture
async def api(engine: AsyncEngine, settings: Settings, keys: Keys) -> AsyncIterator[Api]:
    transport = httpx.ASGITransport(app=create_app(settings, engine=engine), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
        yield Api(client, keys)


async def _post(api: Api, content: bytes, content_type: str) -> httpx.Response:
    headers = {"Content-Type": content_type, "Authorization": f"Bearer {api.keys.rw}"}
    return await api.client.post("/graphql", content=content, headers=headers)


ACCEPTED = [
    "application/json",
    "APPLICATION/JSON",
    "Application/Json; charset=UTF-8",
    "application/json;charset=utf8",
    'application/json; charset="utf-8"',
    "application/json; profile=x",
]
REFUSED = [
    "application/jsonx",
    "application/json-patch+json",
    "application/graphql+json; x=application/json",
    "text/json",
    "application/json; charset=utf-16",
    "application/json; charset=latin-1",
    "",
]


@SQLITE_ONLY
@pytest.mark.parametrize("content_type", ACCEPTED)
async def test_application_json_in_any_case_with_parameters_is_run(api: Api, content_type: str) -> None:
    event_id = f"mt_{uuid.uuid4().hex[:8]}"
    response = await _post(api, json.dumps({"query": literal_order(event_id)}).encode(), content_type)
    assert response.json() == {"data": {"recordEvents": {"acceptedCount": 1}}}, response.text
    assert await stored(api, event_id)


@SQLITE_ONLY
@pytest.mark.parametrize("content_type", REFUSED)
async def test_other_media_types_are_415_and_not_run(api: Api, content_type: str) -> None:
    event_id = f"mt_{uuid.uuid4().hex[:8]}"
    response = await _post(api, json.dumps({"query": literal_order(event_id)}).encode(), content_type)
    assert response.status_code == 415, response.text
    (error,) = response.json()["errors"]
    assert error["extensions"]["code"] == "UNSUPPORTED_MEDIA_TYPE" and "application/json" in error["message"]
    assert not await stored(api, event_id)
    await healthy(api)


@SQLITE_ONLY
@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-32", "utf-8-sig"])
async def test_bodies_that_are_not_utf8_are_refused(api: Api, encoding: str) -> None:
    event_id = f"enc_{uuid.uuid4().hex[:8]}"
    body = json.dumps({"query": literal_order(event_id)}).encode(encoding)
    response = await _post(api, body, "application/json")
    assert response.status_code == 400 and '"data"' not in response.text, response.text
    assert not await stored(api, event_id)


@SQLITE_ONLY
async def test_the_graphiql_page_forbids_framing_and_foreign_content(api: Api) -> None:
    response = await api.client.get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 200 and "graphiql" in response.text.lower()
    for name, value in GRAPHIQL_HEADERS.items():
        assert response.headers[name] == value
    policy = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in policy and "default-src 'none'" in policy
    assert "unsafe-eval" not in policy and "script-src 'self';" in policy


async def test_a_database_failure_during_the_key_lookup_is_a_masked_internal_error(
    database_url: str, backend: str, tmp_path: Path, keys: Keys
) -> None:
    """The real failure: a gateway pointed at a database without the keys table (SQLite) or none (PostgreSQL)."""
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
    else:
        url = database_url.rsplit("/", 1)[0] + "/audit_hard_missing_database"
    engine = create_engine(url)
    try:
        app = create_app(Settings(database_url=url), engine=engine)
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            query = "{ a: events(first: 1) { totalCount } b: events(first: 2) { totalCount } }"
            response = await client.post(
                "/graphql", json={"query": query}, headers={"Authorization": f"Bearer {keys.reader}"}
            )
    finally:
        await engine.dispose()
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/json")
    (error,) = response.json()["errors"]
    assert error["extensions"]["code"] == "INTERNAL" and error["extensions"]["errorId"] in error["message"]
    for leak in ("api_keys", "SELECT", "does not exist", "no such table"):
        assert leak not in response.text
