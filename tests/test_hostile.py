"""Attacks on the public API.

Each attack gets a clear 4xx or a GraphQL error with the right code, never a
500, never a stack trace, SQL or a path in the body; and the gateway still
answers a normal query afterwards. Attacks on the transport (body, content
type, method, batching) do not depend on the database and run on SQLite only;
everything that reaches the store runs on both backends.

Some of these attacks found real bugs: 500s on JSON bodies that are not an
object, and INTERNAL errors on out-of-range instants and forged cursors (one of
them first found by tests/test_fuzz.py). They are kept here as regression tests.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from app.auth.keys import create_key
from app.config import Settings
from app.graphql.query import MAX_NODE_IDS
from app.server import create_app
from app.store.read import TenantReader
from tests.conftest import SOURCES, Api, Keys
from tests.events import order_placed, payment_captured, refund_issued, uid

LEAKS = ("Traceback", "sqlalchemy", "SELECT ", "/work/", ".py")
LIMIT_CODES = {"GRAPHQL_VALIDATION_FAILED", "LIMIT_EXCEEDED"}
COERCION_CODES = {"BAD_USER_INPUT", "GRAPHQL_VALIDATION_FAILED"}
MB = 1024 * 1024
CHUNK = b"x" * (64 * 1024)

SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

@pytest.fixture
async def api(engine: AsyncEngine, settings: Settings, keys: Keys) -> AsyncIterator[Api]:
    """As conftest's, except that an unhandled exception comes back as the 500 a server would send."""
    async with _client(create_app(settings, engine=engine)) as client:
        yield Api(client, keys)


def _client(app: Any) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://gateway")


def clean(response: httpx.Response) -> httpx.Response:
    assert response.status_code < 500, f"{response.status_code}: {response.text[:500]}"
    for leak in LEAKS:
        assert leak not in response.text, f"{leak!r} leaked: {response.text[:500]}"
    return response


def _headers(api: Api, key: str | None, content_type: str | None = "application/json") -> dict[str, str]:
    headers = {"Content-Type": content_type} if content_type else {}
    if key:
        headers["Authorization"] = f"Bearer {getattr(api.keys, key)}"
    return headers


async def send(api: Api, body: bytes | object, *, key: str | None = "rw",
               content_type: str | None = "application/json") -> httpx.Response:
    """POST a body as is; JSON is ASCII-escaped, so lone surrogates travel as ``\\ud800`` like any client's."""
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return clean(await api.client.post("/graphql", content=content, headers=_headers(api, key, content_type)))


async def graphql(api: Api, query: str, variables: dict[str, Any] | None = None, key: str = "rw") -> dict[str, Any]:
    response = await send(api, {"query": query, "variables": variables or {}}, key=key)
    assert response.status_code == 200, response.text
    return response.json()


async def refused(api: Api, query: str, variables: dict[str, Any] | None = None, key: str = "rw") -> list[dict]:
    """The whole operation is refused: errors and no data."""
    body = await graphql(api, query, variables, key)
    assert body.get("errors") and body.get("data") is None, body
    return body["errors"]


def codes(errors: list[dict]) -> set[str]:
    return {error["extensions"]["code"] for error in errors}


async def healthy(api: Api) -> None:
    assert (await api.client.get("/healthz")).text == "ok"
    body = await graphql(api, "{ eventTypes { type } events(first: 1) { totalCount } }", key="reader")
    assert not body.get("errors") and body["data"]["eventTypes"], body


async def record(api: Api, *events: dict[str, Any]) -> list[dict[str, Any]]:
    body = await graphql(api, RECORD, {"events": list(events)})
    assert not body.get("errors"), body
    return body["data"]["recordEvents"]["results"]


async def stored(api: Api, event_id: str) -> bool:
    body = await graphql(api, "query($id: String!) { event(eventId: $id) { __typename } }", {"id": event_id},
                         key="reader")
    assert not body.get("errors"), body
    return body["data"]["event"] is not None


RECORD = """
mutation($events: [RecordEventInput!]!) {
  recordEvents(events: $events) {
    results {
      __typename
      ... on EventAccepted { event { ...Back } }
      ... on EventRejected { index eventId errors { path code message } }
    }
  }
}
fragment Back on AuditEvent {
  id eventId tenant source correlationId causationId traceparent
  actor { id displayName ip userAgent } target { type id displayName }
  ... on OrderPlaced { data { orderId total { currency } } }
}
"""


def literal_order(event_id: str) -> str:
    """A recordEvents mutation with its input inline, as a form field or query string would carry it."""
    return (
        'mutation { recordEvents(events: [{eventId: "EVENT_ID", source: "checkout", '
        'occurredAt: "2026-01-01T00:00:00Z", actor: {type: USER, id: "u_1"}, data: {orderPlaced: '
        '{orderId: "o_1", total: {amountMinor: "1", currency: "EUR"}, itemCount: 1, channel: WEB}}}]) '
        "{ acceptedCount } }"
    ).replace("EVENT_ID", event_id
    )


# Query shape ---------------------------------------------------------------------------------------------------


def nested(levels: int) -> str:
    return (
        "{ events(first: 1) { nodes { ... on AuditEvent { "
        + "causedBy { ... on AuditEvent { " * levels
        + "eventId"
        + " } }" * levels
        + " } } } }"
    )


@SQLITE_ONLY
async def test_deep_nesting_is_refused(api: Api, settings: Settings) -> None:
    errors = await refused(api, nested(50))
    assert codes(errors) <= LIMIT_CODES
    assert any("depth" in e["message"] and str(settings.max_query_depth) in e["message"] for e in errors), errors
    await healthy(api)


@SQLITE_ONLY
async def test_nesting_up_to_the_limit_still_runs(api: Api, settings: Settings) -> None:
    # events → nodes → causedBy × n → eventId is n + 3 levels deep.
    body = await graphql(api, nested(settings.max_query_depth - 3))
    assert not body.get("errors"), body


def aliases(count: int, prefix: str = "a") -> str:
    return " ".join(f"{prefix}{i}: type" for i in range(count))


ALIAS_ATTACKS = {
    "root": "{ " + " ".join(f"a{i}: __typename" for i in range(1000)) + " }",
    "direct": "{ eventTypes { " + aliases(1000) + " } }",
    "one-fragment": "{ eventTypes { ...Many } } fragment Many on EventTypeInfo { " + aliases(1000) + " }",
    "chained-fragments": "{ eventTypes { ...F0 } } "
    + " ".join(
        f"fragment F{j} on EventTypeInfo {{ {aliases(20, f'f{j}_')}{f' ...F{j + 1}' if j < 49 else ''} }}"
        for j in range(50)
    ),
    "inline-fragments": "{ eventTypes { "
    + " ".join(f"... on EventTypeInfo {{ {aliases(10, f'i{j}_')} }}" for j in range(100))
    + " } }",
}


@SQLITE_ONLY
@pytest.mark.parametrize("query", ALIAS_ATTACKS.values(), ids=ALIAS_ATTACKS.keys())
async def test_a_thousand_aliases_are_refused_wherever_they_hide(api: Api, query: str) -> None:
    errors = await refused(api, query)
    assert codes(errors) <= LIMIT_CODES
    assert any("aliases" in e["message"] for e in errors), errors
    await healthy(api)


@SQLITE_ONLY
async def test_ten_thousand_tokens_are_refused(api: Api) -> None:
    errors = await refused(api, "{ " + "__typename " * 10_000 + "}")
    assert codes(errors) <= LIMIT_CODES
    assert any("tokens" in e["message"] for e in errors), errors
    await healthy(api)


ROOT_FIELD_ATTACKS = {
    "11-aliased": "{ " + " ".join(f"r{i}: eventTypes {{ type }}" for i in range(11)) + " }",
    "50-aliased": "{ " + " ".join(f"r{i}: eventTypes {{ type }}" for i in range(50)) + " }",
    "50-repeated": "{ " + "eventTypes { type } " * 50 + "}",
    "via-fragments": "query { ...A ...B } fragment A on Query { "
    + " ".join(f"a{i}: eventTypes {{ type }}" for i in range(6))
    + " } fragment B on Query { "
    + " ".join(f"b{i}: eventTypes {{ type }}" for i in range(6))
    + " }",
}


@SQLITE_ONLY
@pytest.mark.parametrize("query", ROOT_FIELD_ATTACKS.values(), ids=ROOT_FIELD_ATTACKS.keys())
async def test_too_many_root_fields_are_refused(api: Api, query: str) -> None:
    errors = await refused(api, query)
    assert codes(errors) <= LIMIT_CODES
    assert any("root fields" in e["message"] for e in errors), errors
    await healthy(api)


@SQLITE_ONLY
async def test_root_fields_up_to_the_limit_still_run(api: Api, settings: Settings) -> None:
    query = "{ " + " ".join(f"r{i}: eventTypes {{ type }}" for i in range(settings.max_root_fields)) + " }"
    body = await graphql(api, query, key="reader")
    assert not body.get("errors") and len(body["data"]) == settings.max_root_fields


PAGE_ATTACKS = [
    ("{ events(first: 1000000000) { totalCount } }", {}, "LIMIT_EXCEEDED"),
    ("query($n: Int) { events(first: $n) { totalCount } }", {"n": 1e9}, "LIMIT_EXCEEDED"),
    ("{ events(first: -1) { totalCount } }", {}, "BAD_USER_INPUT"),
    ("{ events(last: 1000000000) { totalCount } }", {}, "LIMIT_EXCEEDED"),
    ("{ events(last: -1) { totalCount } }", {}, "BAD_USER_INPUT"),
    ("{ events(first: 1) { nodes { ... on AuditEvent { effects(first: 1000000000) { __typename } } } } }", {},
     "LIMIT_EXCEEDED"),
    ("{ events(first: 1) { nodes { ... on AuditEvent { correlated(first: -1) { __typename } } } } }", {},
     "BAD_USER_INPUT"),
    ('query($c: String!) { correlation(id: $c) { events(first: 1000000000) { totalCount } } }', None,
     "LIMIT_EXCEEDED"),
]


@SQLITE_ONLY
@pytest.mark.parametrize(("query", "variables", "code"), PAGE_ATTACKS)
async def test_page_sizes_outside_the_bounds_name_the_maximum(
    api: Api, settings: Settings, query: str, variables: dict | None, code: str
) -> None:
    corr = f"c_{uid()}"
    await record(api, order_placed(corr=corr), order_placed(corr=corr))
    body = await graphql(api, query, {"c": corr} if variables is None else variables)
    (error,) = body["errors"]
    assert error["extensions"]["code"] == code and error["path"], error
    assert str(settings.max_page_size) in error["message"], error
    await healthy(api)


@SQLITE_ONLY
async def test_page_sizes_beyond_32_bits_are_refused_before_running(api: Api) -> None:
    for query, variables in [
        ("{ events(first: 99999999999999999999) { totalCount } }", {}),
        ("{ events(first: 1e9) { totalCount } }", {}),
        ("query($n: Int) { events(first: $n) { totalCount } }", {"n": 1e30}),
        ("query($n: Int) { events(first: $n) { totalCount } }", {"n": 2**31}),
    ]:
        assert codes(await refused(api, query, variables)) <= COERCION_CODES
    await healthy(api)


@SQLITE_ONLY
async def test_list_arguments_are_bounded(engine: AsyncEngine, settings: Settings, keys: Keys) -> None:
    small = settings.model_copy(update={"max_batch_size": 3})
    async with _client(create_app(small, engine=engine)) as client:
        api = Api(client, keys)
        (error,) = await refused(api, RECORD, {"events": [order_placed() for _ in range(4)]})
        assert error["extensions"]["code"] == "LIMIT_EXCEEDED" and "3" in error["message"]
        ids = ["QXVkaXRFdmVudDp4OjE="] * (MAX_NODE_IDS + 1)
        (error,) = await refused(api, "query($ids: [ID!]!) { nodes(ids: $ids) { id } }", {"ids": ids})
        assert error["extensions"]["code"] == "LIMIT_EXCEEDED" and str(MAX_NODE_IDS) in error["message"]
        filters = {"f": {"types": ["order.placed"] * 51}}
        (error,) = await refused(api, "query($f: AuditEventFilter) { events(filter: $f) { totalCount } }", filters)
        assert error["extensions"]["code"] == "BAD_USER_INPUT"
        search = {"s": " ".join(["type:order.*"] * 31)}
        (error,) = await refused(api, "query($s: String) { events(search: $s) { totalCount } }", search)
        assert error["extensions"]["code"] == "BAD_USER_INPUT"
        await healthy(api)


# Transport -----------------------------------------------------------------------------------------------------


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

    headers = _headers(api, "rw")
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
    pytest.param(b'{"query": "{ __typename }", "variables": {"v": ' + b"[" * 100_000 + b"]" * 100_000 + b"}}",
                 id="nested-100k-deep"),
    pytest.param(b'{"query": "{ __typename }", "variables": {"n": 1' + b"0" * 5000 + b"}}",
                 id="5000-digit-number"),
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
async def test_a_mutation_in_a_non_json_body_is_refused_and_not_run(api: Api, content_type: str | None,
                                                                   encode: Any) -> None:
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
    headers = {**_headers(api, "rw", None), "Accept": accept}
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
    [b"Bearer " + b"a" * 10_000, b"Bearer agw_\xff\xfe", b"Basic Zm9vOmJhcg==", b"Bearer", b"Bearer  ",
     b"Bearer agw_0_" + b"\xe2\x80\xae" * 10],
    ids=["10k", "latin-1", "basic", "empty", "blank", "rtl"],
)
async def test_hostile_authorization_headers_are_unauthenticated(api: Api, authorization: bytes) -> None:
    headers = [(b"content-type", b"application/json"), (b"authorization", authorization)]
    response = clean(await api.client.post("/graphql", content=b'{"query": "{ eventTypes { type } }"}',
                                           headers=headers))
    assert response.status_code == 200
    assert codes(response.json()["errors"]) == {"UNAUTHENTICATED"}
    await healthy(api)


# Hostile strings -----------------------------------------------------------------------------------------------

HOSTILE = {
    "nul": "a\x00b",
    "lone-surrogate": "a\ud800b",
    "escape": "a\x1b[2Jb",
    "c1-control": "a\x85b",
    "rtl-override": "inv\u202egpj.exe",
    "emoji": "caf\u00e9\U0001f600",
    "10k": "x" * 10_000,
}
CONTROL = {"nul", "escape", "c1-control"}

# Every string input of recordEvents, with the rule it follows and (for a fixed format) its code.
STRING_INPUTS = {
    "eventId": ("id", None),
    "source": ("format", "INVALID_NAME"),
    "tenant": ("format", "INVALID_NAME"),
    "actor.id": ("id", None),
    "actor.displayName": ("text", None),
    "actor.ip": ("format", "INVALID_IP"),
    "actor.userAgent": ("text", None),
    "target.type": ("id", None),
    "target.id": ("id", None),
    "target.displayName": ("text", None),
    "correlationId": ("id", None),
    "causationId": ("id", None),
    "traceparent": ("format", "INVALID_TRACEPARENT"),
    "data.orderPlaced.orderId": ("id", None),
    "data.orderPlaced.total.currency": ("format", "INVALID_CURRENCY"),
}


def expected_codes(rule: str, format_code: str | None, name: str) -> set[str] | None:
    """The codes an input may be rejected with, or None when the value is valid there."""
    if rule == "format":
        return {format_code, "INVALID_UNICODE", "TOO_LONG"}
    if name in CONTROL:
        return {"CONTROL_CHARACTER"}
    if name == "rtl-override" and rule == "id":
        return {"INVALID_ID"}  # an id that renders reversed; free text may carry it
    return {"lone-surrogate": {"INVALID_UNICODE"}, "10k": {"TOO_LONG"}}.get(name)


def _set(event: dict[str, Any], dotted: str, value: str) -> None:
    *parents, last = dotted.split(".")
    for part in parents:
        event = event[part]
    event[last] = value


def _get(event: dict[str, Any], dotted: str) -> Any:
    # Inputs and outputs share names, except that data's member name is not part of the output.
    for part in dotted.replace("data.orderPlaced.", "data.").split("."):
        event = event[part]
    return event


@pytest.mark.parametrize("field", STRING_INPUTS)
async def test_hostile_strings_in_every_record_input_are_rejected_per_input_or_kept_exactly(
    api: Api, tenant: str, field: str
) -> None:
    rule, format_code = STRING_INPUTS[field]
    events = []
    for value in HOSTILE.values():
        event = order_placed(target={"type": "order", "id": f"o_{uid()}", "displayName": "Order"})
        _set(event, field, value)
        events.append(event)
    results = await record(api, *events)
    accepted_ids = []
    for (name, value), result in zip(HOSTILE.items(), results, strict=True):
        wanted = expected_codes(rule, format_code, name)
        if wanted is None:
            assert result["__typename"] == "EventAccepted", (name, result)
            assert _get(result["event"], field) == value, name
            accepted_ids.append((name, value, result["event"]["id"]))
        else:
            assert result["__typename"] == "EventRejected", (name, result)
            assert {tuple(e["path"]) for e in result["errors"]} == {tuple(field.split("."))}, (name, result)
            assert codes_of(result) <= wanted, (name, result)
    # What was accepted is stored exactly as sent: read it back through the store.
    if accepted_ids:
        query = "query($ids: [ID!]!) { nodes(ids: $ids) { ...Back } }" + RECORD[RECORD.index("fragment"):]
        body = await graphql(api, query, {"ids": [node_id for _, _, node_id in accepted_ids]}, key="reader")
        assert not body.get("errors"), body
        for (name, value, _), node in zip(accepted_ids, body["data"]["nodes"], strict=True):
            assert node["tenant"] == tenant and _get(node, field) == value, name
    await healthy(api)


def codes_of(rejected: dict[str, Any]) -> set[str]:
    return {error["code"] for error in rejected["errors"]}


@SQLITE_ONLY
async def test_invisible_and_bidi_characters_are_refused_in_identifiers(api: Api) -> None:
    characters = ["\u202e", "\u200b", "\ufeff", "\u2066"]  # RLO, zero-width space, BOM, LRI
    events = [order_placed(actor={"type": "USER", "id": f"u_42{c}"}) for c in characters]
    for result in await record(api, *events):
        assert result["__typename"] == "EventRejected" and codes_of(result) == {"INVALID_ID"}, result


READ_ARGUMENTS = {
    "event": ("query($v: String!) { r: event(eventId: $v) { __typename } }", "String"),
    "correlation": ("query($v: String!) { r: correlation(id: $v) { eventCount } }", "String"),
    "search": ("query($v: String!) { r: events(search: $v) { totalCount } }", "String"),
    "filter.actorId": ("query($v: String!) { r: events(filter: {actorId: $v}) { totalCount } }", "String"),
    "filter.types": ("query($v: String!) { r: events(filter: {types: [$v]}) { totalCount } }", "String"),
    "node": ("query($v: ID!) { r: node(id: $v) { id } }", "ID"),
    "nodes": ("query($v: ID!) { r: nodes(ids: [$v]) { id } }", "ID"),
}


@pytest.mark.parametrize("argument", READ_ARGUMENTS)
async def test_hostile_strings_in_read_arguments_are_clean_errors_or_nothing(api: Api, argument: str) -> None:
    query, _ = READ_ARGUMENTS[argument]
    await record(api, order_placed())
    for name, value in HOSTILE.items():
        body = await graphql(api, query, {"v": value}, key="reader")
        if body.get("errors"):
            assert codes(body["errors"]) == {"BAD_USER_INPUT"}, (name, body)
            assert body["data"] is None or body["data"]["r"] is None, (name, body)
        else:
            assert body["data"]["r"] in (None, [None], {"totalCount": 0}), (name, body)
        if name in CONTROL | {"lone-surrogate"} and not argument.startswith("node"):
            # Caught before any SQL: PostgreSQL would fail on NUL in text.
            assert body.get("errors"), (name, body)
    await healthy(api)


# Numbers and dates ---------------------------------------------------------------------------------------------

HUGE_BIGINTS = ["99999999999999999999", 1e30, "-9223372036854775809", 2**63, -(2**63) - 1, "1e30", 1.5]


@SQLITE_ONLY
@pytest.mark.parametrize("value", HUGE_BIGINTS, ids=[repr(v) for v in HUGE_BIGINTS])
async def test_out_of_range_bigints_refuse_the_whole_request(api: Api, value: object) -> None:
    errors = await refused(api, "query($f: BigInt) { verifyIntegrity(fromSequence: $f) { ok } }", {"f": value})
    assert codes(errors) == {"BAD_USER_INPUT"}, errors
    event = order_placed()
    event["data"]["orderPlaced"]["total"]["amountMinor"] = value
    assert codes(await refused(api, RECORD, {"events": [event]})) == {"BAD_USER_INPUT"}
    assert not await stored(api, event["eventId"])
    await healthy(api)


@SQLITE_ONLY
async def test_out_of_range_literals_refuse_the_whole_request(api: Api) -> None:
    for query in [
        "{ verifyIntegrity(fromSequence: 99999999999999999999) { ok } }",
        '{ verifyIntegrity(toSequence: "-9223372036854775809") { ok } }',
        "{ verifyIntegrity(fromSequence: 1e30) { ok } }",
    ]:
        assert codes(await refused(api, query)) <= COERCION_CODES, query
    event = order_placed()
    event["data"]["orderPlaced"]["itemCount"] = 2**31
    assert codes(await refused(api, RECORD, {"events": [event]})) <= COERCION_CODES
    await healthy(api)


async def test_bigints_at_the_64_bit_bounds_are_fine(api: Api) -> None:
    body = await graphql(api, "{ verifyIntegrity(fromSequence: -9223372036854775808, toSequence: "
                         '"9223372036854775807") { ok checkedCount } }')
    assert body == {"data": {"verifyIntegrity": {"ok": True, "checkedCount": 0}}}


FILTER = "query($f: AuditEventFilter) { events(filter: $f) { totalCount } }"
BAD_DATES = [
    "2026-13-01T00:00:00Z",
    "2026-01-01T00:00:00",
    "yesterday",
    "x" * 10_000,
    "2026-02-30T00:00:00Z",
    "",
    pytest.param("9999-12-31T23:59:59-23:59", id="after-9999-in-utc"),
    pytest.param("0001-01-01T00:00:00+23:59", id="before-year-1-in-utc"),
]


@SQLITE_ONLY
@pytest.mark.parametrize("value", BAD_DATES, ids=lambda v: v[:24] or "empty")
async def test_invalid_dates_refuse_the_whole_request(api: Api, value: str) -> None:
    assert codes(await refused(api, FILTER, {"f": {"occurredFrom": value}})) == {"BAD_USER_INPUT"}
    literal = "{ events(filter: {recordedTo: VALUE}) { totalCount } }".replace("VALUE", json.dumps(value))
    assert codes(await refused(api, literal)) == {"BAD_USER_INPUT"}
    event = order_placed(occurredAt=value)
    assert codes(await refused(api, RECORD, {"events": [event]})) == {"BAD_USER_INPUT"}
    assert not await stored(api, event["eventId"])
    await healthy(api)


async def test_fuzzer_regression_an_out_of_range_instant_inline_in_record_events(api: Api) -> None:
    """Found by tests/test_fuzz.py: a literal occurredAt whose offset pushes it past year 9999 in UTC."""
    errors = await refused(api, literal_order("fz_1").replace("2026-01-01T00:00:00Z", "9999-12-31T23:00:00-10:00"))
    assert codes(errors) == {"BAD_USER_INPUT"}, errors


async def test_extreme_but_valid_instants_work(api: Api) -> None:
    bounds = {"occurredFrom": "0001-01-01T00:00:00Z", "occurredTo": "9999-12-31T23:59:59.999999Z"}
    body = await graphql(api, FILTER, {"f": bounds})
    assert not body.get("errors"), body
    (result,) = await record(api, order_placed(occurredAt="0001-01-01T00:00:00Z"))
    assert result["__typename"] == "EventRejected" and codes_of(result) == {"TOO_EARLY"}, result  # see #13.6
    (result,) = await record(api, order_placed(occurredAt="1970-01-01T00:00:00Z"))
    assert result["__typename"] == "EventAccepted", result


@SQLITE_ONLY
@pytest.mark.parametrize("term", ["occurred:2026-13-01", "recorded:>=yesterday", "occurred:>=" + "9" * 5000])
async def test_invalid_dates_in_search_are_bad_input(api: Api, term: str) -> None:
    body = await graphql(api, "query($s: String) { events(search: $s) { totalCount } }", {"s": term})
    assert codes(body["errors"]) == {"BAD_USER_INPUT"}, body
    await healthy(api)


@SQLITE_ONLY
@pytest.mark.parametrize("term", [
    "recorded:<=9999-12-31", "occurred:>9999-12-31T23:59:59.999999Z",
    "occurred:>=0001-01-01T00:00:00+23:59",
])
async def test_search_dates_at_the_end_of_time_are_bad_input(api: Api, term: str) -> None:
    body = await graphql(api, "query($s: String) { events(search: $s) { totalCount } }", {"s": term})
    assert codes(body["errors"]) == {"BAD_USER_INPUT"}, body


# Tenancy and cursors -------------------------------------------------------------------------------------------


@pytest.fixture
async def intruder(engine: AsyncEngine) -> Keys:
    """Keys of another tenant, on the same gateway and database."""
    other = f"t{uid()}"

    async def make(name: str, scopes: list[str], sources: list[str]) -> str:
        return (await create_key(engine, name=name, tenants=[other], scopes=scopes, sources=sources))[1]

    return Keys(writer=await make("w", ["events:write"], SOURCES), reader=await make("r", ["events:read"], []),
                rw=await make("rw", ["events:read", "events:write"], SOURCES))


async def test_another_tenants_key_learns_nothing(api: Api, intruder: Keys, tenant: str) -> None:
    corr = f"c_{uid()}"
    order = order_placed(corr=corr)
    (accepted,) = await record(api, order)
    node_id = accepted["event"]["id"]
    them = Api(api.client, intruder)
    event_id = order["eventId"]
    reads = [
        ("{ events { totalCount nodes { __typename } } }", None, {"events": {"totalCount": 0, "nodes": []}}),
        ("query($v: String!) { event(eventId: $v) { __typename } }", event_id, {"event": None}),
        ("query($v: ID!) { node(id: $v) { id } }", node_id, {"node": None}),
        ("query($v: ID!) { nodes(ids: [$v]) { id } }", node_id, {"nodes": [None]}),
        ("query($v: String!) { correlation(id: $v) { eventCount } }", corr, {"correlation": None}),
        ("query($v: String!) { events(filter: {correlationId: $v}) { totalCount } }", corr,
         {"events": {"totalCount": 0}}),
        ("query($v: String!) { events(search: $v) { totalCount } }", f"correlation:{corr}",
         {"events": {"totalCount": 0}}),
    ]
    for query, value, wanted in reads:
        body = await graphql(them, query, {"v": value} if value else None, key="reader")
        assert body == {"data": wanted}, (query, body)
        assert event_id not in json.dumps(body) and tenant not in json.dumps(body)
    report = await graphql(them, "{ verifyIntegrity { tenant checkedCount } }", key="reader")
    assert report["data"]["verifyIntegrity"]["checkedCount"] == 0
    assert report["data"]["verifyIntegrity"]["tenant"] != tenant
    await healthy(api)


async def test_another_tenant_reuses_ids_without_learning_they_exist(api: Api, intruder: Keys) -> None:
    corr = f"c_{uid()}"
    order = order_placed(corr=corr)
    payment = payment_captured(corr=corr, cause=order["eventId"])
    await record(api, order, payment, refund_issued(corr=corr, cause=payment["eventId"]))
    them = Api(api.client, intruder)
    # Our payment's eventId, cause and correlation: new to them (neither duplicate nor conflict), linked to nothing.
    theirs = payment_captured(event_id=payment["eventId"], corr=corr, cause=order["eventId"])
    (result,) = await record(them, theirs)
    assert result["__typename"] == "EventAccepted", result
    body = await graphql(them, """query($id: String!) { event(eventId: $id) { ... on AuditEvent {
        causedBy { __typename } correlated { __typename } effects { __typename } } } }""",
                         {"id": payment["eventId"]}, key="reader")
    assert body == {"data": {"event": {"causedBy": None, "correlated": [], "effects": []}}}, body


async def test_a_writer_cannot_name_another_tenant(api: Api, intruder: Keys, tenant: str) -> None:
    them = Api(api.client, intruder)
    event = order_placed(tenant=tenant)
    (result,) = await record(them, event)
    assert result["__typename"] == "EventRejected" and codes_of(result) == {"FORBIDDEN"}, result
    assert not await stored(api, event["eventId"])


@pytest.mark.parametrize("order_by", [None, {"field": "OCCURRED_AT", "direction": "ASC"}], ids=["seq", "occurred"])
async def test_a_cursor_from_another_tenant_is_invalid(api: Api, intruder: Keys, order_by: dict | None) -> None:
    page = "query($o: AuditEventOrder, $a: String, $b: String) { events(first: 1, orderBy: $o, after: $a, " \
           "before: $b) { edges { cursor } } }"
    await record(api, order_placed(), order_placed())
    ours = await graphql(api, page, {"o": order_by}, key="reader")
    cursor = ours["data"]["events"]["edges"][0]["cursor"]
    them = Api(api.client, intruder)
    await record(them, order_placed(), order_placed())
    for argument in ("a", "b"):
        body = await graphql(them, page, {"o": order_by, argument: cursor}, key="reader")
        assert codes(body["errors"]) == {"INVALID_CURSOR"}, body
    await healthy(api)


def forge(cursor: str, position: list[Any]) -> str:
    """The same cursor with other keyset values: cursors are unsigned, so a caller can do this."""
    document = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    return base64.urlsafe_b64encode(json.dumps({**document, "k": position}).encode()).decode().rstrip("=")


PAGE = "query($o: AuditEventOrder, $a: String) { events(first: 1, orderBy: $o, after: $a) { edges { cursor } } }"


async def _forged_cursor_errors(api: Api, field: str | None, position: list[Any]) -> list[dict]:
    order_by = {"field": field, "direction": "ASC"} if field else None
    await record(api, order_placed())
    cursor = (await graphql(api, PAGE, {"o": order_by}, key="reader"))["data"]["events"]["edges"][0]["cursor"]
    return (await graphql(api, PAGE, {"o": order_by, "a": forge(cursor, position)}, key="reader")).get("errors") or []


async def test_a_forged_cursor_is_invalid(api: Api) -> None:
    for field, position in [
        (None, [1.5]),
        (None, ["1"]),
        (None, [True]),
        (None, []),
        (None, [1, 2]),
        ("OCCURRED_AT", ["2026-01-01T00:00:00", 1]),
        ("OCCURRED_AT", ["yesterday", 1]),
        ("OCCURRED_AT", [5, 1]),
    ]:
        errors = await _forged_cursor_errors(api, field, position)
        assert codes(errors) == {"INVALID_CURSOR"}, (position, errors)
    await healthy(api)


@pytest.mark.parametrize(
    ("field", "position"),
    [
        (None, [2**63]),
        (None, [-(10**30)]),
        ("OCCURRED_AT", ["2026-01-01T00:00:00Z", 10**30]),
        ("OCCURRED_AT", ["9999-12-31T23:59:59-23:59", 1]),
    ],
    ids=["sequence-beyond-64-bits", "sequence-below-64-bits", "occurred-sequence-beyond-64-bits",
         "instant-beyond-9999"],
)
async def test_a_forged_cursor_out_of_range_is_invalid(api: Api, field: str | None, position: list[Any]) -> None:
    errors = await _forged_cursor_errors(api, field, position)
    assert codes(errors) == {"INVALID_CURSOR"}, errors


# Masking -------------------------------------------------------------------------------------------------------


@SQLITE_ONLY
async def test_an_unexpected_failure_is_masked_logged_with_its_id_and_survived(
    api: Api, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def explode(*_: Any, **__: Any) -> None:
        raise RuntimeError("boom in /work/main/app/store/verify.py running SELECT secret_hash FROM api_keys")

    monkeypatch.setattr("app.graphql.query.verify_chain", explode)
    with caplog.at_level(logging.ERROR, logger="app.errors"):
        (error,) = (await graphql(api, "{ verifyIntegrity { ok } }"))["errors"]
    assert error["extensions"]["code"] == "INTERNAL", error
    error_id = error["extensions"]["errorId"]
    assert error["message"] == f"Internal error (id {error_id})." and "boom" not in error["message"]
    (logged,) = [r for r in caplog.records if error_id in r.getMessage()]
    assert logged.exc_info is not None and "boom" in str(logged.exc_info[1])
    await healthy(api)


@SQLITE_ONLY
async def test_a_database_error_is_masked_without_its_sql(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    async def fail(*_: Any, **__: Any) -> None:
        raise OperationalError("SELECT * FROM events WHERE tenant = ?", {"tenant": "x"}, Exception("disk I/O error"))

    monkeypatch.setattr(TenantReader, "page", fail)
    body = await graphql(api, "{ events(first: 1) { totalCount } }", key="reader")
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "INTERNAL" and "disk" not in json.dumps(body), body
    monkeypatch.undo()
    await healthy(api)
