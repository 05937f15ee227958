"""Engine settings that protect the service: durability pragmas and a per-statement timeout."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, OperationalError

from app.store.engine import create_engine


async def test_sqlite_is_durable_by_default(sqlite_url: str) -> None:
    engine = create_engine(sqlite_url)
    try:
        async with engine.connect() as connection:
            assert (await connection.execute(text("PRAGMA journal_mode"))).scalar() == "wal"
            assert (await connection.execute(text("PRAGMA synchronous"))).scalar() == 2  # FULL
    finally:
        await engine.dispose()


SLOW = {
    "sqlite": "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c",
    "postgresql": "SELECT pg_sleep(30)",
}


async def test_a_slow_statement_is_stopped_and_frees_its_connection(database_url: str, backend: str) -> None:
    engine = create_engine(database_url, statement_timeout_ms=300, pool_size=1)
    try:
        with pytest.raises((OperationalError, DBAPIError)):
            async with engine.connect() as connection:
                await connection.execute(text(SLOW[backend]))
        async with engine.connect() as connection:  # the one pooled connection is usable again
            assert (await connection.execute(text("SELECT 1"))).scalar() == 1
    finally:
        await engine.dispose()


def test_a_failed_sqlite_connect_leaves_no_worker_behind(tmp_path: Path) -> None:
    """aiosqlite's worker must be gone when the failure reaches the caller: a worker that outlives the event
    loop dies with a traceback on stderr (``audit-gateway db upgrade`` on a path that does not exist)."""

    def workers() -> list[threading.Thread]:  # threads are named after their target: "Thread-7 (_connection_…)"
        return [t for t in threading.enumerate() if "_connection_worker_thread" in t.name and t.is_alive()]

    async def connect() -> None:
        engine = create_engine(f"sqlite+aiosqlite:///{tmp_path}/no/such/dir/audit.db")
        try:
            with pytest.raises(OperationalError):
                async with engine.connect():
                    pass
            assert workers() == []
        finally:
            await engine.dispose()

    for _ in range(20):  # without the wait, the worker is still alive here most of the time
        asyncio.run(connect())
