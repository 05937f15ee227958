"""Every refusal from /graphql is a JSON error body with a code, as any GraphQL client expects.

These are transport errors (before any store call), so they run on SQLite only;
the last test makes the store itself fail, with a database that cannot be opened.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.config import Settings
from app.server import create_app
from app.store.engine import create_engine

QUERY = b'{"query": "{ __typename }"}'
EXPECTED_CODES = {400: "BAD_REQUEST", 404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED", 415: "UNSUPPORTED_MEDIA_TYPE"}


@pytest.fixture
async def client(sqlite_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with _client(Settings(database_url=sqlite_url)) as client:
        yield client


def _client(settings: Settings) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=create_app(settings), raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://gateway")


def json_error(response: httpx.Response, status: int | None = None) -> dict[str, Any]:
    """The one error of a refused request: JSON, a message, and the code that belongs to its status."""
    assert 400 <= response.status_code < 600, response.text
    if status is not None:
        assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json"), response.headers
    body = response.json()
    assert set(body) == {"errors"}, body
    (error,) = body["errors"]
    assert isinstance(error["message"], str) and error["message"], error
    assert error["extensions"]["code"] == EXPECTED_CODES.get(response.status_code, "INTERNAL"), error
    return error


REFUSED_POSTS = {
    "no-body": (b"", "application/json"),
    "empty-object": (b"{}", "application/json"),
    "no-query": (b'{"variables": {}}', "application/json"),
    "null-query": (b'{"query": null}', "application/json"),
    "bad-json": (b'{"query": ', "application/json"),
    "not-an-object": (b"[1, 2]", "application/json"),
    "text-plain": (QUERY, "text/plain"),
    "form": (b"query=%7B__typename%7D", "application/x-www-form-urlencoded"),
    "application-graphql": (b"{ __typename }", "application/graphql"),
    "no-content-type": (QUERY, None),
}


@pytest.mark.parametrize(("body", "content_type"), REFUSED_POSTS.values(), ids=REFUSED_POSTS.keys())
async def test_a_post_that_cannot_run_is_a_json_error(
    client: httpx.AsyncClient, body: bytes, content_type: str | None
) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    response = await client.post("/graphql", content=body, headers=headers)
    assert response.status_code in (400, 415), response.text
    json_error(response)


async def test_no_query_names_what_is_missing(client: httpx.AsyncClient) -> None:
    error = json_error(await client.post("/graphql", json={}), 400)
    assert "query" in error["message"].lower()


@pytest.mark.parametrize("operation", ["{ __typename }", "mutation { __typename }"])
@pytest.mark.parametrize("accept", ["application/json", "text/html", "*/*"])
async def test_an_operation_over_get_is_a_json_error(client: httpx.AsyncClient, operation: str, accept: str) -> None:
    response = await client.get("/graphql", params={"query": operation}, headers={"Accept": accept})
    json_error(response, 400)


async def test_get_without_a_query_for_a_json_client_is_a_json_error(client: httpx.AsyncClient) -> None:
    json_error(await client.get("/graphql", headers={"Accept": "application/json"}), 400)


async def test_get_without_a_query_for_a_browser_is_graphiql(client: httpx.AsyncClient) -> None:
    response = await client.get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    assert "graphiql" in response.text.lower()


async def test_graphiql_switched_off_is_a_json_404(sqlite_url: str) -> None:
    async with _client(Settings(database_url=sqlite_url, graphiql=False)) as client:
        json_error(await client.get("/graphql", headers={"Accept": "text/html"}), 404)


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE", "OPTIONS"])
async def test_an_unsupported_method_is_a_json_405_that_names_the_allowed_ones(
    client: httpx.AsyncClient, method: str
) -> None:
    response = await client.request(method, "/graphql", content=QUERY, headers={"Content-Type": "application/json"})
    json_error(response, 405)
    assert response.headers["allow"] == "GET, POST"


async def test_head_is_a_405_without_a_body(client: httpx.AsyncClient) -> None:
    response = await client.head("/graphql")
    assert response.status_code == 405 and response.headers["allow"] == "GET, POST"
    assert response.headers["content-type"].startswith("application/json") and response.content == b""


async def test_a_body_over_the_limit_is_a_json_413(sqlite_url: str) -> None:
    async with _client(Settings(database_url=sqlite_url, max_body_bytes=100)) as client:
        response = await client.post("/graphql", json={"query": "{ __typename }", "variables": {"x": "y" * 200}})
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "LIMIT_EXCEEDED"


async def test_a_store_failure_during_authentication_is_a_masked_logged_error(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Authentication runs before execution; here its database cannot be opened (a directory that is missing).

    Every field that needs the caller reports the failure as a masked INTERNAL error (see app/server.py
    ``get_context``); the answer is still JSON, and the error is logged with its id.
    """
    url = f"sqlite+aiosqlite:///{tmp_path}/missing/audit.db"
    engine = create_engine(url)
    try:
        transport = httpx.ASGITransport(
            app=create_app(Settings(database_url=url), engine=engine), raise_app_exceptions=False
        )
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            response = await client.post(
                "/graphql",
                content=b'{"query": "{ events(first: 1) { totalCount } }"}',
                headers={"Content-Type": "application/json", "Authorization": "Bearer agw_0123456789abcdef_secret"},
            )
    finally:
        await engine.dispose()
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/json")
    (error,) = response.json()["errors"]
    error_id = error["extensions"]["errorId"]
    assert error["extensions"]["code"] == "INTERNAL"
    assert error_id in error["message"] and "missing" not in response.text and "sqlite" not in response.text.lower()
    assert any(error_id in record.getMessage() and record.exc_info for record in caplog.records), "logged with its id"
