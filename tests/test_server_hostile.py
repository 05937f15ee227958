"""Hostile transport (app/server.py): body size, malformed JSON, content type and CSRF, GET, batching, Authorization."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlencode

import pytest

from app.config import Settings
from tests.helpers import (
    SQLITE_ONLY,
    Api,
    clean,
    codes,
    graphql,
    headers_for,
    healthy,
    literal_order,
    send,
    stored,
    uid,
)

# The api fixture answers an unhandled exception with the 500 a server sends, which these tests refuse.
pytestmark = pytest.mark.hostile


MB = 1024 * 1024
CHUNK = b"x" * (64 * 1024)


@SQLITE_ONLY
@pytest.mark.parametrize("declared", [None, 50 * MB, 100], ids=["chunked", "content-length", "understated-length"])
async def test_a_50_mb_body_is_refused_without_being_read(api: Api, settings: Settings, declared: int | None) -> None:
    read = 0

    async def body() -> AsyncIterator[bytes]:
        nonlocal read
        prefix = b'{"query": "{ __typename }", "padding": "'
        read += len(prefix)
        yield prefix
        while read < 50 * MB:
            read += len(CHUNK)
            yield CHUNK

    headers = headers_for(api, "rw")
    if declared is not None:
        headers["Content-Length"] = str(declared)
    response = clean(await api.client.post("/graphql", content=body(), headers=headers))
    assert response.status_code == 413, response.text
    assert response.json()["errors"][0]["extensions"]["code"] == "LIMIT_EXCEEDED"
    if declared == 50 * MB:
        assert read == 0  # refused on the header alone
    else:
        assert read <= settings.max_body_bytes + 2 * len(CHUNK)
    await healthy(api)


MALFORMED = [
    pytest.param(b'{"query": "{ __typename }"', id="truncated"),
    pytest.param(b"query { __typename }", id="not-json"),
    pytest.param(b"", id="empty"),
    pytest.param(b'{"query": "{ __typename }",}', id="trailing-comma"),
    pytest.param(b'{"query": 5}', id="query-not-a-string"),
    pytest.param(b'{"query": "{ __typename }", "variables": [1]}', id="variables-not-an-object"),
    pytest.param(b'{"query": "{ __typename }", "extensions": "x"}', id="extensions-not-an-object"),
    pytest.param(b'"{ __typename }"', id="a-json-string"),
    pytest.param(b"null", id="json-null"),
    pytest.param(b"42", id="json-number"),
    pytest.param(b'{"query": "{ __typename \xff\xfe }"}', id="invalid-utf8"),
    pytest.param(
        b'{"query": "{ __typename }", "variables": {"v": ' + b"[" * 100_000 + b"]" * 100_000 + b"}}",
        id="nested-100k-deep",
    ),
    pytest.param(b'{"query": "{ __typename }", "variables": {"n": 1' + b"0" * 5000 + b"}}", id="5000-digit-number"),
]


@SQLITE_ONLY
@pytest.mark.parametrize("body", MALFORMED)
async def test_a_malformed_json_body_is_a_400(api: Api, body: bytes) -> None:
    response = await send(api, body)
    assert response.status_code == 400, response.text
    await healthy(api)


def _multipart(query: str) -> bytes:
    operations = json.dumps({"query": query, "variables": {}})
    return (
        f'--b\r\nContent-Disposition: form-data; name="operations"\r\n\r\n{operations}\r\n'
        f'--b\r\nContent-Disposition: form-data; name="map"\r\n\r\n{{}}\r\n--b--\r\n'
    ).encode()


WRONG_CONTENT_TYPES = {
    "form-urlencoded": ("application/x-www-form-urlencoded", lambda q: urlencode({"query": q}).encode()),
    "multipart": ("multipart/form-data; boundary=b", _multipart),
    "text-plain": ("text/plain", lambda q: json.dumps({"query": q}).encode()),
    "application-graphql": ("application/graphql", lambda q: q.encode()),
    "none": (None, lambda q: json.dumps({"query": q}).encode()),
}


@SQLITE_ONLY
@pytest.mark.parametrize(("content_type", "encode"), WRONG_CONTENT_TYPES.values(), ids=WRONG_CONTENT_TYPES.keys())
async def test_a_mutation_in_a_non_json_body_is_refused_and_not_run(
    api: Api, content_type: str | None, encode: Any
) -> None:
    event_id = f"csrf_{uid()}"
    response = await send(api, encode(literal_order(event_id)), content_type=content_type)
    assert 400 <= response.status_code < 500 and '"data"' not in response.text, response.text
    assert not await stored(api, event_id)
    await healthy(api)


@SQLITE_ONLY
async def test_the_same_mutation_as_json_is_run(api: Api) -> None:
    """The control for the CSRF tests: their mutation is valid, so it is the transport that stops it."""
    event_id = f"csrf_{uid()}"
    body = await graphql(api, literal_order(event_id))
    assert body == {"data": {"recordEvents": {"acceptedCount": 1}}}
    assert await stored(api, event_id)


@SQLITE_ONLY
@pytest.mark.parametrize("accept", ["application/json", "*/*"])
async def test_no_operation_runs_over_get(api: Api, accept: str) -> None:
    event_id = f"get_{uid()}"
    headers = {**headers_for(api, "rw", None), "Accept": accept}
    for query in ("{__typename}", literal_order(event_id)):
        response = clean(await api.client.get("/graphql", params={"query": query}, headers=headers))
        assert 400 <= response.status_code < 500, response.text
    assert not await stored(api, event_id)
    await healthy(api)


@SQLITE_ONLY
@pytest.mark.parametrize("operations", [2, 1, 0])
async def test_query_batching_is_refused(api: Api, operations: int) -> None:
    event_id = f"batch_{uid()}"
    response = await send(api, [{"query": literal_order(event_id)}] * operations)
    assert response.status_code == 400, response.text
    assert not await stored(api, event_id)
    await healthy(api)


@SQLITE_ONLY
@pytest.mark.parametrize(
    "authorization",
    [
        b"Bearer " + b"a" * 10_000,
        b"Bearer agw_\xff\xfe",
        b"Basic Zm9vOmJhcg==",
        b"Bearer",
        b"Bearer  ",
        b"Bearer agw_0_" + b"\xe2\x80\xae" * 10,
    ],
    ids=["10k", "latin-1", "basic", "empty", "blank", "rtl"],
)
async def test_hostile_authorization_headers_are_unauthenticated(api: Api, authorization: bytes) -> None:
    headers = [(b"content-type", b"application/json"), (b"authorization", authorization)]
    response = clean(
        await api.client.post("/graphql", content=b'{"query": "{ eventTypes { type } }"}', headers=headers)
    )
    assert response.status_code == 200
    assert codes(response.json()["errors"]) == {"UNAUTHENTICATED"}
    await healthy(api)
