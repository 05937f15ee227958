"""The indexes on optional columns hold only events with a value (migration 0006): every read that filters on
such a column still uses its index, on PostgreSQL and SQLite.

Each read runs through ``TenantReader`` (its SQLAlchemy path, so that its statements can be seen); each statement
it sent is explained by the database with its own parameters, and the plan must name the index.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy import event as sa_event
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.store.append import append
from app.store.event_query import EventFilter, EventQuery
from app.store.read import TenantReader
from tests.helpers import stored_event

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


async def _fill(engine: AsyncEngine, tenant: str) -> None:
    """600 events: a third with a correlation, a third with a target (one in ten of them a document), a sixth
    caused by an earlier one."""
    batch = []
    for n in range(600):
        event = stored_event(
            tenant=tenant,
            event_id=f"e{n}",
            type="user.signed_in",
            schema_version=1,
            occurred_at=T0 + dt.timedelta(seconds=n),
            correlation_id=f"c{n % 40}" if n % 3 == 0 else None,
            data={"method": "SSO", "mfa": True, "sessionId": None},
        )
        kind = "document" if n % 30 == 1 else "page"  # one target in ten a document: a selective filter
        target = {"target_type": kind, "target_id": f"d{n % 50}"} if n % 3 == 1 else {}
        cause = {"causation_id": f"e{n - 1}"} if n % 6 == 5 else {}
        batch.append(dataclasses.replace(event, **target, **cause))
    await append(engine, batch)
    async with engine.begin() as connection:
        await connection.execute(text("ANALYZE events" if engine.dialect.name == "postgresql" else "ANALYZE"))


async def _plans(engine: AsyncEngine, read: Callable[[], Awaitable[Any]]) -> list[str]:
    """The plan of every statement ``read`` sent, as the database explains it."""
    sent: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        sent.append((statement, parameters))

    sa_event.listen(engine.sync_engine, "before_cursor_execute", capture)
    try:
        await read()
    finally:
        sa_event.remove(engine.sync_engine, "before_cursor_execute", capture)
    plans = []
    async with engine.connect() as connection:
        if engine.dialect.name == "postgresql":
            await connection.exec_driver_sql("SET enable_seqscan = off")  # a small table: no scan of it all
        for statement, parameters in sent:
            prefix = "EXPLAIN " if engine.dialect.name == "postgresql" else "EXPLAIN QUERY PLAN "
            rows = (await connection.exec_driver_sql(prefix + statement, parameters)).all()
            plans.append("\n".join(" ".join(str(value) for value in row) for row in rows))
    assert plans, "the read sent no statement"
    return plans


@pytest.mark.parametrize(
    ("index", "read"),
    [
        (
            "ix_events_correlation",
            lambda reader: reader.page(EventQuery((EventFilter(correlation_id="c3"),)), size=20),
        ),
        (
            "ix_events_target",
            lambda reader: reader.page(EventQuery((EventFilter(target_type="document", target_id="d7"),)), size=20),
        ),
        ("ix_events_correlation", lambda reader: reader.by_correlation(["c1", "c2", "c3"], 10)),
        ("ix_events_correlation", lambda reader: reader.correlation_summaries(["c1", "c2"])),
        ("ix_events_causation", lambda reader: reader.effects_of([("e4", "checkout", 5), ("e10", "checkout", 11)], 5)),
    ],
    # (A target type alone is not ordered by sequence in that index: a planner may rather walk the primary key,
    # whether the index is partial or not.)
    ids=["filter-correlation", "filter-target", "by-correlation", "summaries", "effects"],
)
async def test_reads_on_optional_columns_use_their_partial_index(
    engine: AsyncEngine, tenant: str, index: str, read: Callable[[TenantReader], Awaitable[Any]]
) -> None:
    await _fill(engine, tenant)
    reader = TenantReader(engine, tenant, direct=False)
    plans = await _plans(engine, lambda: read(reader))
    assert all(index in plan for plan in plans), plans


async def test_the_indexes_hold_only_events_with_a_value(engine: AsyncEngine, tenant: str) -> None:
    """What the partial indexes are for: an event without a cause, correlation or target adds no entry."""
    await _fill(engine, tenant)
    for index, column in (
        ("ix_events_correlation", "correlation_id"),
        ("ix_events_target", "target_type"),
        ("ix_events_causation", "causation_id"),
    ):
        async with engine.connect() as connection:
            if engine.dialect.name == "postgresql":
                query = "SELECT pg_get_indexdef(CAST(:index AS regclass))"
            else:
                query = "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = :index"
            definition = (await connection.execute(text(query), {"index": index})).scalar_one()
        assert f"{column} IS NOT NULL" in definition, definition
