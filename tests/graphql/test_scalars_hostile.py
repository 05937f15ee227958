"""Out-of-range and malformed BigInt and DateTime values (app/graphql/scalars.py): the whole request is refused."""

from __future__ import annotations

import json

import pytest

from tests.helpers import (
    RECORD_READ_BACK,
    SQLITE_ONLY,
    Api,
    codes,
    codes_of,
    graphql,
    healthy,
    literal_order,
    order_placed,
    record,
    refused,
    stored,
)

# The api fixture answers an unhandled exception with the 500 a server sends, which these tests refuse.
pytestmark = pytest.mark.hostile


HUGE_BIGINTS = ["99999999999999999999", 1e30, "-9223372036854775809", 2**63, -(2**63) - 1, "1e30", 1.5]


@SQLITE_ONLY
@pytest.mark.parametrize("value", HUGE_BIGINTS, ids=[repr(v) for v in HUGE_BIGINTS])
async def test_out_of_range_bigints_refuse_the_whole_request(api: Api, value: object) -> None:
    errors = await refused(api, "query($f: BigInt) { verifyIntegrity(fromSequence: $f) { ok } }", {"f": value})
    assert codes(errors) == {"BAD_USER_INPUT"}, errors
    event = order_placed()
    event["data"]["orderPlaced"]["total"]["amountMinor"] = value
    assert codes(await refused(api, RECORD_READ_BACK, {"events": [event]})) == {"BAD_USER_INPUT"}
    assert not await stored(api, event["eventId"])
    await healthy(api)


@SQLITE_ONLY
async def test_out_of_range_literals_refuse_the_whole_request(api: Api) -> None:
    for query in [
        "{ verifyIntegrity(fromSequence: 99999999999999999999) { ok } }",
        '{ verifyIntegrity(toSequence: "-9223372036854775809") { ok } }',
        "{ verifyIntegrity(fromSequence: 1e30) { ok } }",
    ]:
        # BigInt is the gateway's scalar: its parser's ValueError is reported as the caller's input.
        assert codes(await refused(api, query)) == {"BAD_USER_INPUT"}, query
    event = order_placed()
    event["data"]["orderPlaced"]["itemCount"] = 2**31
    # An Int input field out of range: graphql-core's own coercion, reported as validation.
    assert codes(await refused(api, RECORD_READ_BACK, {"events": [event]})) == {"GRAPHQL_VALIDATION_FAILED"}
    await healthy(api)


async def test_bigints_at_the_64_bit_bounds_are_fine(api: Api) -> None:
    body = await graphql(
        api,
        "{ verifyIntegrity(fromSequence: -9223372036854775808, toSequence: "
        '"9223372036854775807") { ok checkedCount } }',
    )
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
    assert codes(await refused(api, RECORD_READ_BACK, {"events": [event]})) == {"BAD_USER_INPUT"}
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
