"""Hostile cursors (app/store/query.py): another tenant's, forged or out of range, each is INVALID_CURSOR."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from tests.helpers import Api, Keys, codes, graphql, healthy, order_placed, record

# The api fixture answers an unhandled exception with the 500 a server sends, which these tests refuse.
pytestmark = pytest.mark.hostile


@pytest.mark.parametrize("order_by", [None, {"field": "OCCURRED_AT", "direction": "ASC"}], ids=["seq", "occurred"])
async def test_a_cursor_from_another_tenant_is_invalid(api: Api, intruder: Keys, order_by: dict | None) -> None:
    page = (
        "query($o: AuditEventOrder, $a: String, $b: String) { events(first: 1, orderBy: $o, after: $a, "
        "before: $b) { edges { cursor } } }"
    )
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
    ids=[
        "sequence-beyond-64-bits",
        "sequence-below-64-bits",
        "occurred-sequence-beyond-64-bits",
        "instant-beyond-9999",
    ],
)
async def test_a_forged_cursor_out_of_range_is_invalid(api: Api, field: str | None, position: list[Any]) -> None:
    errors = await _forged_cursor_errors(api, field, position)
    assert codes(errors) == {"INVALID_CURSOR"}, errors
