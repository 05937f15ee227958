"""Floors: what the same work costs without the gateway, to divide the gateway's figures by.

- ingestion: a bare SQLAlchemy Core ``insert()`` (executemany) of the same rows, and the driver alone
  (stdlib ``sqlite3`` ``executemany`` / asyncpg ``executemany``), same batches, same clients, one transaction per
  batch, same durability (SQLite WAL + ``synchronous=FULL``, PostgreSQL ``synchronous_commit=on``);
- reads: the page's SQL (same WHERE / ORDER BY / LIMIT) through SQLAlchemy Core, rows serialized by stdlib json.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Sequence
from typing import Any

import asyncpg
from sqlalchemy import Select, select, union_all
from sqlalchemy.ext.asyncio import AsyncEngine

from app.store.engine import WRITE
from app.store.tables import events

from .measure import Timing, concurrent

COLUMNS = [column.name for column in events.columns]


def _chunks(rows: Sequence[Any], batch: int) -> list[Sequence[Any]]:
    return [rows[i : i + batch] for i in range(0, len(rows), batch)]


async def core_insert(
    engine: AsyncEngine, rows: list[dict[str, Any]], batch: int, clients: int, seconds: float
) -> tuple[int, Timing]:
    """SQLAlchemy Core ``insert()`` (executemany), ``clients`` concurrent tasks, one transaction per batch."""
    queue = iter(_chunks(rows, batch))
    inserted = [0]

    async def one() -> None:
        chunk = next(queue)
        async with engine.connect() as connection:
            connection = await connection.execution_options(**WRITE)
            async with connection.begin():
                await connection.execute(events.insert(), list(chunk))
        inserted[0] += len(chunk)

    timing = await concurrent(one, clients, seconds, -(-len(rows) // batch))
    return inserted[0], timing


def stored_rows_sqlite(path: str, tenant: str, after: int, upto: int) -> list[tuple[Any, ...]]:
    """Rows as SQLite stores them (for the driver floor: no type conversion on the way back in)."""
    with sqlite3.connect(path) as connection:
        return connection.execute(
            f"SELECT {', '.join(COLUMNS)} FROM events WHERE tenant = ? AND sequence > ? AND sequence <= ? "
            "ORDER BY sequence",
            (tenant, after, upto),
        ).fetchall()


async def stored_rows_postgres(dsn: str, tenant: str, after: int, upto: int) -> list[tuple[Any, ...]]:
    connection = await asyncpg.connect(dsn, timeout=10)
    try:
        records = await connection.fetch(
            f"SELECT {', '.join(COLUMNS)} FROM events WHERE tenant = $1 AND sequence > $2 AND sequence <= $3 "
            "ORDER BY sequence",
            tenant,
            after,
            upto,
        )
        return [tuple(record) for record in records]
    finally:
        await connection.close()


async def sqlite_executemany(
    path: str, rows: list[tuple[Any, ...]], batch: int, clients: int, seconds: float
) -> tuple[int, Timing]:
    """Stdlib ``sqlite3`` ``executemany``, WAL + ``synchronous=FULL``, one connection and thread per client."""
    statement = f"INSERT INTO events ({', '.join(COLUMNS)}) VALUES ({', '.join('?' for _ in COLUMNS)})"
    connections: list[sqlite3.Connection] = []
    for _ in range(clients):
        connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=FULL")
        connection.execute("PRAGMA busy_timeout=30000")
        connections.append(connection)
    idle = list(connections)
    queue = iter(_chunks(rows, batch))
    inserted = [0]

    def write(connection: sqlite3.Connection, chunk: Sequence[tuple[Any, ...]]) -> None:
        connection.execute("BEGIN IMMEDIATE")
        connection.executemany(statement, chunk)
        connection.execute("COMMIT")

    async def one() -> None:
        chunk = next(queue)
        connection = idle.pop()
        try:
            await asyncio.to_thread(write, connection, chunk)
        finally:
            idle.append(connection)
        inserted[0] += len(chunk)

    try:
        timing = await concurrent(one, clients, seconds, -(-len(rows) // batch))
    finally:
        for connection in connections:
            connection.close()
    return inserted[0], timing


async def postgres_executemany(
    dsn: str, rows: list[tuple[Any, ...]], batch: int, clients: int, seconds: float
) -> tuple[int, Timing]:
    """asyncpg ``executemany`` in one transaction per batch, ``clients`` connections."""
    statement = (
        f"INSERT INTO events ({', '.join(COLUMNS)}) VALUES ({', '.join(f'${i}' for i in range(1, len(COLUMNS) + 1))})"
    )
    queue = iter(_chunks(rows, batch))
    inserted = [0]
    async with asyncpg.create_pool(
        dsn, min_size=clients, max_size=clients, server_settings={"synchronous_commit": "on"}
    ) as pool:

        async def one() -> None:
            chunk = next(queue)
            async with pool.acquire() as connection, connection.transaction():
                await connection.executemany(statement, chunk)
            inserted[0] += len(chunk)

        timing = await concurrent(one, clients, seconds, -(-len(rows) // batch))
    return inserted[0], timing


# --- reads ----------------------------------------------------------------------------------------


def _row(row: Any) -> dict[str, Any]:
    return dict(row._mapping)


async def raw_page(engine: AsyncEngine, tenant: str, size: int, before_sequence: int | None) -> bytes:
    """The SQL of a page (same WHERE, ORDER BY, LIMIT size + 1), serialized with the stdlib json."""
    conditions = [events.c.tenant == tenant]
    if before_sequence is not None:
        conditions.append(events.c.sequence < before_sequence)
    statement = select(events).where(*conditions).order_by(events.c.sequence.desc()).limit(size + 1)
    async with engine.connect() as connection:
        rows = [_row(row) for row in await connection.execute(statement)][:size]
    return json.dumps(rows, default=str).encode()


def _first_per_key(tenant: str, column: Any, values: Sequence[str], limit: int) -> Any:
    """The first ``limit`` events per key value, oldest first: one ``UNION ALL`` of keyset branches."""
    branches: list[Select[Any]] = [
        select(events)
        .where(events.c.tenant == tenant, column == value)
        .order_by(events.c.sequence)
        .limit(limit)
        .subquery()
        .select()
        for value in values
    ]
    return branches[0] if len(branches) == 1 else union_all(*branches)


async def raw_relations(engine: AsyncEngine, tenant: str) -> bytes:
    """A page of 20 with causedBy, effects and correlated: the page, then one statement per relation."""
    page_statement = select(events).where(events.c.tenant == tenant).order_by(events.c.sequence.desc()).limit(21)
    async with engine.connect() as connection:
        page = [_row(row) for row in await connection.execute(page_statement)][:20]
        causes = sorted({row["causation_id"] for row in page if row["causation_id"]})
        by_id: dict[str, dict[str, Any]] = {}
        if causes:
            statement = select(events).where(events.c.tenant == tenant, events.c.event_id.in_(causes))
            by_id = {row.event_id: _row(row) for row in await connection.execute(statement)}
        effects: dict[str, list[dict[str, Any]]] = {row["event_id"]: [] for row in page}
        for row in await connection.execute(_first_per_key(tenant, events.c.causation_id, sorted(effects), 50)):
            effects[row.causation_id].append(_row(row))
        correlations = sorted({row["correlation_id"] for row in page if row["correlation_id"]})
        correlated: dict[str, list[dict[str, Any]]] = {cid: [] for cid in correlations}
        if correlations:
            for row in await connection.execute(_first_per_key(tenant, events.c.correlation_id, correlations, 51)):
                correlated[row.correlation_id].append(_row(row))
    document = [
        {
            **row,
            "causedBy": by_id.get(row["causation_id"]),
            "effects": effects[row["event_id"]],
            "correlated": [r for r in correlated.get(row["correlation_id"], []) if r["sequence"] != row["sequence"]],
        }
        for row in page
    ]
    return json.dumps(document, default=str).encode()
