"""Hostile query shapes and sizes: depth, aliases, tokens, root fields, page sizes, list arguments (the limits of
app/graphql/limits.py, app/graphql/schema.py and the page-size bound of app/graphql/context.py)."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from app.config import Settings
from app.graphql.query import MAX_NODE_IDS
from app.server import create_app
from tests.helpers import (
    RECORD_READ_BACK,
    SQLITE_ONLY,
    Api,
    Keys,
    codes,
    graphql,
    healthy,
    order_placed,
    record,
    refused,
    served_client,
    uid,
)

# The api fixture answers an unhandled exception with the 500 a server sends, which these tests refuse.
pytestmark = pytest.mark.hostile


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
    assert codes(errors) == {"LIMIT_EXCEEDED"}, errors
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
    assert codes(errors) == {"LIMIT_EXCEEDED"}, errors
    assert any("aliases" in e["message"] for e in errors), errors
    await healthy(api)


@SQLITE_ONLY
async def test_ten_thousand_tokens_are_refused(api: Api) -> None:
    errors = await refused(api, "{ " + "__typename " * 10_000 + "}")
    assert codes(errors) == {"LIMIT_EXCEEDED"}, errors
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
    assert codes(errors) == {"LIMIT_EXCEEDED"}, errors
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
    (
        "{ events(first: 1) { nodes { ... on AuditEvent { effects(first: 1000000000) { __typename } } } } }",
        {},
        "LIMIT_EXCEEDED",
    ),
    (
        "{ events(first: 1) { nodes { ... on AuditEvent { correlated(first: -1) { __typename } } } } }",
        {},
        "BAD_USER_INPUT",
    ),
    ("query($c: String!) { correlation(id: $c) { events(first: 1000000000) { totalCount } } }", None, "LIMIT_EXCEEDED"),
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
    # Int is graphql-core's own scalar: its literal and variable errors are both reported as validation.
    for query, variables, code in [
        ("{ events(first: 99999999999999999999) { totalCount } }", {}, "GRAPHQL_VALIDATION_FAILED"),
        ("{ events(first: 1e9) { totalCount } }", {}, "GRAPHQL_VALIDATION_FAILED"),
        ("query($n: Int) { events(first: $n) { totalCount } }", {"n": 1e30}, "GRAPHQL_VALIDATION_FAILED"),
        ("query($n: Int) { events(first: $n) { totalCount } }", {"n": 2**31}, "GRAPHQL_VALIDATION_FAILED"),
    ]:
        assert codes(await refused(api, query, variables)) == {code}, query
    await healthy(api)


@SQLITE_ONLY
async def test_list_arguments_are_bounded(engine: AsyncEngine, settings: Settings, keys: Keys) -> None:
    small = settings.model_copy(update={"max_batch_size": 3})
    async with served_client(create_app(small, engine=engine)) as client:
        api = Api(client, keys)
        (error,) = await refused(api, RECORD_READ_BACK, {"events": [order_placed() for _ in range(4)]})
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
