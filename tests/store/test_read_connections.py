"""Reads run without a transaction: each statement alone, no BEGIN/ROLLBACK round trips (see read_options)."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from app.store.append import append
from app.store.event_query import EventQuery
from app.store.read import TenantReader
from tests.helpers import stored_event, uid


class Everything:
    """Every statement and every transaction event of an engine, BEGIN included."""

    def __init__(self) -> None:
        self.statements: list[str] = []
        self.begins = 0
        self.rollbacks = 0

    def statement(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        self.statements.append(statement)

    def begin(self, conn: Any) -> None:
        self.begins += 1

    def rollback(self, conn: Any) -> None:
        self.rollbacks += 1


@pytest.fixture
def seen(engine: AsyncEngine) -> Iterator[Everything]:
    found = Everything()
    listeners = (
        ("before_cursor_execute", found.statement),
        ("begin", found.begin),
        ("rollback", found.rollback),
    )
    for name, listener in listeners:
        event.listen(engine.sync_engine, name, listener)
    yield found
    for name, listener in listeners:
        event.remove(engine.sync_engine, name, listener)


async def test_a_read_sends_its_statements_and_no_begin(engine: AsyncEngine, tenant: str, seen: Everything) -> None:
    moment = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    ids = [f"e_{uid()}" for _ in range(3)]
    await append(
        engine,
        [
            stored_event(
                tenant=tenant, event_id=event_id, type="order.placed", schema_version=1, data={}, occurred_at=moment
            )
            for event_id in ids
        ],
    )
    seen.statements.clear()
    reader = TenantReader(engine, tenant)
    page = await reader.page(EventQuery(), size=2)
    found = await reader.by_event_ids(ids)
    count = await reader.count(EventQuery())
    assert [record.event_id for record in page.records] == ids[::-1][:2] and page.has_next
    assert set(found) == set(ids) and count == 3
    assert len(seen.statements) == 3
    assert not any(statement.upper().startswith("BEGIN") for statement in seen.statements)
    async with engine.connect() as connection:  # an ordinary connection still reads in a transaction
        await connection.exec_driver_sql("SELECT 1")
    if engine.dialect.name == "sqlite":
        assert seen.statements[-2:] == ["BEGIN", "SELECT 1"]


async def test_a_write_after_reads_still_runs_in_its_own_transaction(engine: AsyncEngine, tenant: str) -> None:
    """The pool hands the same connections to reads and writes: a read's options do not stay on a connection."""
    moment = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    reader = TenantReader(engine, tenant)
    for round_ in range(3):
        await reader.page(EventQuery(), size=5)
        event_id = f"e_{uid()}"
        await append(
            engine,
            [
                stored_event(
                    tenant=tenant, event_id=event_id, type="order.placed", schema_version=1, data={}, occurred_at=moment
                )
            ],
        )
        assert len((await reader.page(EventQuery(), size=10)).records) == round_ + 1
    async with engine.connect() as connection:
        assert await connection.get_isolation_level() != "AUTOCOMMIT"
        assert not connection.sync_connection.get_execution_options().get("audit_read")


async def test_a_shared_reader_checks_out_one_connection_for_all_its_statements(
    engine: AsyncEngine, tenant: str, seen: Everything
) -> None:
    moment = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    ids = [f"e_{uid()}" for _ in range(3)]
    await append(
        engine,
        [
            stored_event(
                tenant=tenant, event_id=event_id, type="order.placed", schema_version=1, data={}, occurred_at=moment
            )
            for event_id in ids
        ],
    )
    checkouts: list[object] = []

    def checkout(*args: Any) -> None:
        checkouts.append(args[0])

    event.listen(engine.sync_engine.pool, "checkout", checkout)
    try:
        reader = TenantReader(engine, tenant)
        alone = [await reader.page(EventQuery(), size=2), await reader.count(EventQuery())]
        assert len(checkouts) == 2
        checkouts.clear()
        seen.statements.clear()
        async with reader.sharing():
            page, count, found = await asyncio.gather(
                reader.page(EventQuery(), size=2), reader.count(EventQuery()), reader.by_event_ids(ids)
            )
            assert len(checkouts) == 1
        assert [page, count] == alone and set(found) == set(ids)
        assert len(seen.statements) == 3 and not any(s.startswith("BEGIN") for s in seen.statements)
        await reader.count(EventQuery())  # after the block, a statement has its own connection again
        assert len(checkouts) == 2
    finally:
        event.remove(engine.sync_engine.pool, "checkout", checkout)


async def test_a_failed_statement_in_a_shared_reader_leaves_the_others_working(
    engine: AsyncEngine, tenant: str
) -> None:
    reader = TenantReader(engine, tenant)
    with pytest.raises(RuntimeError):
        async with reader.sharing():
            await reader.count(EventQuery())
            raise RuntimeError("the request failed")
    assert await reader.count(EventQuery()) == 0
    async with engine.connect() as connection:  # the shared connection went back to the pool in a clean state
        assert (await connection.exec_driver_sql("SELECT 1")).scalar() == 1


async def test_a_statement_after_the_shared_block_takes_its_own_connection(engine: AsyncEngine, tenant: str) -> None:
    """E.g. a sibling root field still running when another failed and the compiled attempt ended."""
    reader = TenantReader(engine, tenant)
    started = asyncio.Event()
    release = asyncio.Event()

    async def late_count() -> int:
        started.set()
        await release.wait()
        return await reader.count(EventQuery())

    async with reader.sharing():
        await reader.count(EventQuery())
        late = asyncio.create_task(late_count())
        await started.wait()
    release.set()
    assert await late == 0
    async with reader.sharing():
        waiting = asyncio.create_task(reader.count(EventQuery()))  # runs once the block has ended
    assert await waiting == 0
