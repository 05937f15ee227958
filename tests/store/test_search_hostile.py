"""Hostile dates in search strings (app/store/search.py): BAD_USER_INPUT, never an internal error."""

from __future__ import annotations

import pytest

from tests.helpers import SQLITE_ONLY, Api, codes, graphql, healthy

# The api fixture answers an unhandled exception with the 500 a server sends, which these tests refuse.
pytestmark = pytest.mark.hostile


@SQLITE_ONLY
@pytest.mark.parametrize("term", ["occurred:2026-13-01", "recorded:>=yesterday", "occurred:>=" + "9" * 5000])
async def test_invalid_dates_in_search_are_bad_input(api: Api, term: str) -> None:
    body = await graphql(api, "query($s: String) { events(search: $s) { totalCount } }", {"s": term})
    assert codes(body["errors"]) == {"BAD_USER_INPUT"}, body
    await healthy(api)


@SQLITE_ONLY
@pytest.mark.parametrize(
    "term",
    [
        "recorded:<=9999-12-31",
        "occurred:>9999-12-31T23:59:59.999999Z",
        "occurred:>=0001-01-01T00:00:00+23:59",
    ],
)
async def test_search_dates_at_the_end_of_time_are_bad_input(api: Api, term: str) -> None:
    body = await graphql(api, "query($s: String) { events(search: $s) { totalCount } }", {"s": term})
    assert codes(body["errors"]) == {"BAD_USER_INPUT"}, body
