"""Hostile strings in the read arguments of app/graphql/query.py: a clean BAD_USER_INPUT or nothing found."""

from __future__ import annotations

import pytest

from tests.helpers import CONTROL, HOSTILE, Api, codes, graphql, healthy, order_placed, record

# The api fixture answers an unhandled exception with the 500 a server sends, which these tests refuse.
pytestmark = pytest.mark.hostile


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
