"""Timestamps at the edges: 4-digit years everywhere, a lower bound on occurredAt, hashes anyone can recompute.

The recomputation uses nothing but ``hashlib`` and ``json`` on the raw rows, following DESIGN.md's recipe
to the letter, so it checks the gateway rather than repeating its code.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import random
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.contracts.values import canonical_timestamp
from tests.helpers import RECORD, Api, order_placed

BIG = "9223372036854775807"
EDGES = [
    order_placed(occurredAt="1970-01-01T00:00:00Z"),  # the lowest accepted instant
    order_placed(occurredAt="1970-01-01T00:00:00.999999+00:00"),
    order_placed(occurredAt="2026-01-01T00:59:59.999999+01:00"),  # microseconds 999999, another offset
    order_placed(
        occurredAt="2000-02-29T12:00:00.000000Z",
        actor={
            "type": "USER",
            "id": "u_zoë_中文",
            "displayName": "Zoë \U0001f600 \u00e9\u0301 \u202f",  # non-ASCII
            "userAgent": "Mozilla/5.0 \u2014 \u00fc",
        },
    ),
]
EDGES[3]["data"]["orderPlaced"]["total"]["amountMinor"] = BIG  # the biggest integer a BigInt takes


def _recipe_timestamp(value: Any) -> str:
    """``YYYY-MM-DDTHH:MM:SS.ffffffZ`` from a raw column: SQLite text or a PostgreSQL timestamptz."""
    if isinstance(value, str):  # SQLite stores naive UTC as 'YYYY-MM-DD HH:MM:SS.ffffff'
        day, time = value.split(" ")
        return f"{day}T{time}{'' if '.' in time else '.000000'}Z"
    return value.astimezone(dt.UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


async def test_stored_hashes_follow_the_design_recipe_at_the_edges(api: Api, engine: AsyncEngine, tenant: str) -> None:
    results = (await api.ok(RECORD, {"events": EDGES}))["recordEvents"]["results"]
    assert [r["__typename"] for r in results] == ["EventAccepted"] * len(EDGES), results
    served = {r["event"]["eventId"]: r["event"] for r in results}
    async with engine.connect() as connection:
        rows = (
            (await connection.execute(text("SELECT * FROM events WHERE tenant = :t ORDER BY sequence"), {"t": tenant}))
            .mappings()
            .all()
        )
    previous = "0" * 64
    for row in rows:
        data = json.loads(row["data"]) if isinstance(row["data"], str) else row["data"]
        obj = {
            "tenant": row["tenant"],
            "sequence": row["sequence"],
            "eventId": row["event_id"],
            "source": row["source"],
            "type": row["type"],
            "schemaVersion": row["schema_version"],
            "occurredAt": _recipe_timestamp(row["occurred_at"]),
            "recordedAt": _recipe_timestamp(row["recorded_at"]),
            "actor": {
                "type": row["actor_type"],
                "id": row["actor_id"],
                "displayName": row["actor_display_name"],
                "ip": row["actor_ip"],
                "userAgent": row["actor_user_agent"],
            },
            "target": None
            if row["target_type"] is None
            else {"type": row["target_type"], "id": row["target_id"], "displayName": row["target_display_name"]},
            "outcome": row["outcome"],
            "correlationId": row["correlation_id"],
            "causationId": row["causation_id"],
            "traceparent": row["traceparent"],
            "data": data,
        }
        canonical = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        assert row["previous_hash"] == previous
        assert hashlib.sha256(previous.encode("ascii") + canonical.encode("utf-8")).hexdigest() == row["hash"]
        event = served[row["event_id"]]
        assert event["integrity"]["canonical"] == canonical and event["integrity"]["hash"] == row["hash"]
        assert event["occurredAt"] == obj["occurredAt"] and event["recordedAt"] == obj["recordedAt"]
        previous = row["hash"]
    assert [served[e["eventId"]]["occurredAt"] for e in EDGES] == [
        "1970-01-01T00:00:00.000000Z",
        "1970-01-01T00:00:00.999999Z",
        "2025-12-31T23:59:59.999999Z",
        "2000-02-29T12:00:00.000000Z",
    ]
    assert f'"amountMinor":{BIG}' in served[EDGES[3]["eventId"]]["integrity"]["canonical"]


@pytest.mark.parametrize(
    "instant",
    ["1969-12-31T23:59:59.999999Z", "0999-12-31T23:59:59Z", "0001-01-01T00:00:00Z", "1970-01-01T00:59:59+01:00"],
)
async def test_occurred_at_before_1970_is_too_early(api: Api, instant: str) -> None:
    event = order_placed(occurredAt=instant)
    (result,) = (await api.ok(RECORD, {"events": [event]}))["recordEvents"]["results"]
    assert result["__typename"] == "EventRejected", result
    assert [(e["path"], e["code"]) for e in result["errors"]] == [(["occurredAt"], "TOO_EARLY")]
    assert (
        await api.ok(
            "query($id: String!) { event(eventId: $id) { __typename } }", {"id": event["eventId"]}, key="reader"
        )
    )["event"] is None


FILTER = "query($f: AuditEventFilter, $s: String) { events(first: 1, filter: $f, search: $s) { totalCount } }"


@pytest.mark.parametrize(
    "instant", ["0001-01-01T00:00:00.000000Z", "0999-06-01T00:00:00.000000Z", "9999-12-31T23:59:59.999999Z"]
)
async def test_every_instant_the_gateway_writes_is_read_back_by_filters_and_search(api: Api, instant: str) -> None:
    """What DateTime serializes, DateTime and search parse: 4-digit years from 0001 to 9999."""
    moment = dt.datetime.fromisoformat(instant)
    assert canonical_timestamp(moment) == instant
    for variables in (
        {"f": {"occurredFrom": instant}},
        {"f": {"recordedTo": instant}},
        {"s": f"occurred:<{instant}"},
        {"s": f"recorded:>={instant[:10]}"},
        {"s": f"occurred:>={instant}"},
    ):
        body = await api.post(FILTER, variables, key="reader")
        assert not body.get("errors"), (variables, body)


def _field_by_field(value: dt.datetime) -> str:
    """DESIGN.md's form written field by field (what ``canonical_timestamp`` wrote before it cut ``isoformat``)."""
    u = value.astimezone(dt.UTC)
    return f"{u.year:04d}-{u.month:02d}-{u.day:02d}T{u.hour:02d}:{u.minute:02d}:{u.second:02d}.{u.microsecond:06d}Z"


def test_canonical_timestamp_is_the_field_by_field_form() -> None:
    """Over the edges (years 1, 999, 1000, 9999, microseconds 0, 1, 999999, offsets up to ±23:59 that cross a day
    or a year, ``fold``) and a seeded sample of the whole range: the same text, the hashes' input."""
    offsets = [dt.UTC, *(dt.timezone(dt.timedelta(minutes=m)) for m in (-1439, -570, -1, 1, 330, 1439))]
    moments = [
        dt.datetime(year, month, day, hour, minute, second, micro, tzinfo=zone)
        for year, month, day in ((1, 1, 2), (999, 12, 31), (1000, 1, 1), (1970, 1, 1), (2024, 2, 29), (9999, 12, 30))
        for hour, minute, second in ((0, 0, 0), (23, 59, 59), (12, 30, 0))
        for micro in (0, 1, 10, 999999)
        for zone in offsets
    ]
    moments += [dt.datetime(1, 1, 1, tzinfo=dt.UTC), dt.datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=dt.UTC)]
    moments += [dt.datetime(2026, 11, 1, 1, 30, fold=1, tzinfo=dt.timezone(dt.timedelta(hours=-4)))]
    rng = random.Random(11)
    start, span = (
        dt.datetime(1, 1, 2, tzinfo=dt.UTC),
        (dt.datetime(9999, 12, 30, tzinfo=dt.UTC) - dt.datetime(1, 1, 2, tzinfo=dt.UTC)),
    )
    for _ in range(20_000):
        moment = start + dt.timedelta(microseconds=rng.randrange(span // dt.timedelta(microseconds=1)))
        moments.append(moment.astimezone(rng.choice(offsets)))
    for moment in moments:
        assert canonical_timestamp(moment) == _field_by_field(moment), moment
