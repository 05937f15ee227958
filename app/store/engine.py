"""Engine setup: durable SQLite (WAL, synchronous=FULL) or PostgreSQL through asyncpg."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import aiosqlite
import orjson
from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from app.request_guard import RequestState
from app.request_guard import current as current_request

WRITE = {"audit_write": True}
"""Execution options of a write transaction: on SQLite it starts with BEGIN IMMEDIATE."""

_READ_OPTIONS: dict[str, dict[str, Any]] = {
    "postgresql": {"isolation_level": "AUTOCOMMIT"},
    "sqlite": {"audit_read": True},
}


_DIGIT_MARKS = bytes(0 if byte in b"0123456789" else 1 for byte in range(256))
"""A ``bytes.translate`` table: each ASCII digit to 0, every other byte to 1 (as in app/json_body.py)."""
_LONG_DIGITS = bytes(19)


def loads_json(text: str | bytes) -> Any:
    """``json.loads``, at orjson's speed where orjson gives the same value (the engines' ``json_deserializer``).

    Stored data comes back as JSON text (JSONB's output, SQLite's JSON column); the stdlib parser was ~3 µs of
    a row's ~10. orjson differs from it only on numbers it cannot hold: integers beyond 64 bits become floats
    (so text with 19 digits in a row goes to ``json.loads``), and what it refuses (``1e400``, lone surrogates)
    goes there too. ``tests/store/test_direct_reads.py`` holds both to the same values over a corpus.
    """
    if isinstance(text, bytes):
        text = text.decode("utf-8")
    # A run of 19 ASCII digits in the text is one in its UTF-8 bytes (other characters encode to bytes ≥ 0x80),
    # found by one ``translate`` and one substring search: a quarter of a regular expression's scan.
    if _LONG_DIGITS not in text.encode("utf-8", "surrogatepass").translate(_DIGIT_MARKS):
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            pass
    return json.loads(text)


def loads_jsonb(value: bytes) -> Any:
    """``loads_json`` of a JSONB value in asyncpg's binary form: a version byte, then the JSON text in UTF-8.

    SQLAlchemy's codec decodes the bytes to text and ``loads_json`` encodes them again for the digit test: here
    the test and orjson read the bytes themselves. orjson parses UTF-8 bytes exactly as their text; anything it
    refuses, and every long-digit text, goes the old way (``loads_json`` of the decoded text: same value, same
    error). ``tests/store/test_direct_reads.py`` holds it to ``json.loads`` over the corpus of ``loads_json``.
    """
    body = value[1:]
    if _LONG_DIGITS not in body.translate(_DIGIT_MARKS):
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError:
            pass
    return loads_json(body.decode("utf-8"))


def _jsonb_encoder(text: str) -> bytes:
    """SQLAlchemy's own JSONB encoder (``setup_asyncpg_jsonb_codec``): the version byte, then the text."""
    return b"\x01" + text.encode()


async def _setup_jsonb_codec(connection: Any) -> None:
    """The asyncpg dialect's JSONB codec setup (its documented override point), with ``loads_jsonb``."""
    await connection._connection.set_type_codec(
        "jsonb", encoder=_jsonb_encoder, decoder=loads_jsonb, schema="pg_catalog", format="binary"
    )


def read_options(engine: AsyncEngine) -> dict[str, Any]:
    """Execution options of a connection that only reads: its statements run without a transaction.

    A read of the store is one statement, or several whose results do not depend on sharing a snapshot (the
    log is append-only, and PostgreSQL's READ COMMITTED gives each statement its own snapshot anyway), so
    BEGIN and ROLLBACK are pure cost: two round trips per statement on PostgreSQL (asyncpg starts no
    transaction in autocommit), four of aiosqlite's thread hops on SQLite (the driver is already in
    autocommit, see ``_configure``; ``audit_read`` tells ``_begin`` not to issue BEGIN).
    """
    return _READ_OPTIONS[engine.dialect.name]


def create_engine(url: str, *, statement_timeout_ms: int = 10_000, pool_size: int = 10) -> AsyncEngine:
    if url.startswith("sqlite"):
        return _sqlite_engine(url, statement_timeout_ms)
    if not url.startswith("postgresql"):
        raise ValueError(f"unsupported database URL {url.split(':', 1)[0]}: use sqlite+aiosqlite or postgresql+asyncpg")
    settings = {"statement_timeout": str(statement_timeout_ms), "synchronous_commit": "on"}
    engine = create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        # No pre-ping: it costs a round trip per checkout. A connection the server dropped fails its one
        # statement; SQLAlchemy then recognises the disconnect and discards the pool's older connections.
        pool_pre_ping=False,
        connect_args={"server_settings": settings},
        json_deserializer=loads_json,
    )
    if engine.dialect.driver == "asyncpg":  # JSONB rows decoded from their bytes (``loads_jsonb``)
        setattr(engine.dialect, "setup_asyncpg_jsonb_codec", _setup_jsonb_codec)  # noqa: B010
    return engine


async def _connect_aiosqlite(*args: Any, **kwargs: Any) -> aiosqlite.Connection:
    """``aiosqlite.connect`` (as SQLAlchemy's dialect calls it), except that a failed connect returns only once
    aiosqlite's worker thread has ended.

    On a failed connect aiosqlite (0.22) queues its worker's stop without awaiting it; the worker then answers on
    the event loop, and if that loop has closed meanwhile (``audit-gateway db upgrade`` exiting on the error) it
    dies with a RuntimeError traceback on stderr. SQLAlchemy's own connect reaches into ``_thread`` the same way.
    """
    connection = aiosqlite.connect(*args, **kwargs)
    connection._thread.daemon = True  # as the dialect does: a stuck worker never holds the process
    try:
        return await connection
    except Exception:
        await asyncio.to_thread(connection._thread.join, 5)
        raise


def _sqlite_engine(url: str, statement_timeout_ms: int) -> AsyncEngine:
    # check_same_thread=False: the progress handler is installed from the event loop's thread.
    connect_args = {"timeout": 30, "check_same_thread": False, "async_creator_fn": _connect_aiosqlite}
    engine = create_async_engine(url, connect_args=connect_args, json_deserializer=loads_json)
    timeout = statement_timeout_ms / 1000

    @event.listens_for(engine.sync_engine, "connect")
    def _configure(dbapi_connection: Any, record: Any) -> None:
        # Take transaction control from the driver so BEGIN IMMEDIATE is ours to issue.
        dbapi_connection.isolation_level = None
        # SQLite has no statement_timeout: a progress handler interrupts a statement past its deadline.
        deadline = record.info.setdefault("deadline", [float("inf")])
        request: list[RequestState | None] = record.info.setdefault("request", [None])

        def interrupt() -> int:
            # Past the statement's deadline, or its request is over (its own deadline, or the client left).
            return 1 if time.monotonic() > deadline[0] or (request[0] is not None and request[0].over) else 0

        raw = dbapi_connection.driver_connection._connection  # the sqlite3 connection inside aiosqlite
        raw.set_progress_handler(interrupt, 10_000)
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def _arm(connection: Connection, *_: Any) -> None:
        state = current_request()  # the HTTP request this statement serves, if any: its deadline counts too
        deadline = time.monotonic() + timeout
        connection.connection.info["deadline"][0] = min(deadline, state.deadline) if state else deadline
        connection.connection.info["request"][0] = state

    @event.listens_for(engine.sync_engine, "begin")
    def _begin(connection: Connection) -> None:
        # One writer at a time: a write transaction takes the lock up front, so it
        # waits its turn instead of failing when it would upgrade a read lock.
        options = connection.get_execution_options()
        if options.get("audit_read", False):
            return  # a read: each statement runs on its own, in the driver's autocommit (see read_options)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if options.get("audit_write", False) else "BEGIN")

    return engine
