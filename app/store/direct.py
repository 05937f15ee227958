"""PostgreSQL reads straight through asyncpg: SQLAlchemy compiles the statement, asyncpg runs it.

A read through ``AsyncConnection.execute`` pays SQLAlchemy's execution context, its greenlet hop, the DBAPI
adapter's cursor and a ``Row`` per result row: ~1 ms of CPU for a page of 100 events, a quarter of the store
call. Here the statement is still built and compiled by SQLAlchemy (its own compiled cache: the text is the
text SQLAlchemy would send, its bound values processed by the same bind processors, expanding ``IN`` lists
rendered the same way), and then sent with ``asyncpg.Connection.fetch`` on the very connection the
``AsyncConnection`` holds, whose codecs (the engine's JSON deserializer for JSONB) decode the values in C.

It applies only where the result would be the same: PostgreSQL through asyncpg, a connection in autocommit
(reads, see ``engine.read_options``) with no transaction open, and without the execution option :data:`OFF`
(``TenantReader(direct=False)``, the reference of ``tests/store/test_direct_reads.py``). Elsewhere ``fetch``
answers None and the caller runs the statement through SQLAlchemy; :data:`PATHS` counts which way each
statement went. The statement is announced to the engine's ``before_cursor_execute`` listeners as SQLAlchemy
would (statement counters see it).
A failure that closed the connection invalidates it in the pool, as SQLAlchemy does for a disconnect.
"""

from __future__ import annotations

import weakref
from collections import Counter
from collections.abc import Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.util import LRUCache

PATHS: Counter[str] = Counter()
"""Statements run per path: ``direct`` (asyncpg) or ``sqlalchemy`` (not PostgreSQL, or a transaction is open)."""

OFF = "audit_not_direct"
"""An execution option: statements on a connection that has it go through SQLAlchemy (a reference reader)."""

_CACHES: weakref.WeakKeyDictionary[Dialect, LRUCache[Any, Any]] = weakref.WeakKeyDictionary()
_CACHE_SIZE = 500


def applies(dialect: Dialect) -> bool:
    return dialect.name == "postgresql" and dialect.driver == "asyncpg"


def compile_statement(statement: ClauseElement, dialect: Dialect) -> tuple[str, list[Any], SQLCompiler]:
    """The SQL text and positional values SQLAlchemy would send for ``statement`` (as in ``_init_compiled``)."""
    cache = _CACHES.get(dialect)
    if cache is None:
        cache = _CACHES[dialect] = LRUCache(_CACHE_SIZE)
    compiled, extracted, collected, _ = statement._compile_w_cache(
        dialect, compiled_cache=cache, column_keys=[], for_executemany=False, schema_translate_map=None
    )
    assert isinstance(compiled, SQLCompiler) and compiled.positional
    values: MutableMapping[str, Any] = compiled.construct_params(
        extracted_parameters=extracted, escape_names=False, _collected_params=collected
    )
    processors: dict[str, Any] = dict(compiled._bind_processors)
    text = compiled.string
    order: Sequence[str] | None = compiled.positiontup
    if compiled.literal_execute_params or compiled.post_compile_params:
        expanded = compiled._process_parameters_for_postcompile(values)
        text = expanded.statement
        processors.update(expanded.processors)
        order = expanded.positiontup
        values = dict(expanded.parameters)
    assert order is not None
    arguments = [processors[key](values[key]) if key in processors else values[key] for key in order]
    return text, arguments, compiled


@dataclass(frozen=True, slots=True)
class Bound:
    """A statement of fixed shape (named parameters, built once) and the values of its parameters.

    What a hot read sends on PostgreSQL: no statement to build per call, no cache key to compute, no ``IN``
    list to expand (its keys travel as one array); the text is compiled once per dialect.
    """

    statement: ClauseElement
    values: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class _Shape:
    text: str
    order: tuple[str, ...]
    processors: Mapping[str, Any]


_SHAPES: weakref.WeakKeyDictionary[Dialect, LRUCache[int, tuple[ClauseElement, _Shape]]] = weakref.WeakKeyDictionary()
"""Per dialect, per statement (by identity; the statement is held too), its compiled shape; the most recent
``_CACHE_SIZE`` (page statements carry their size in the text: one shape per size asked for)."""


def compile_bound(bound: Bound, dialect: Dialect) -> tuple[str, list[Any]]:
    """The SQL text and positional values of a :class:`Bound` statement (its shape compiled once)."""
    shapes = _SHAPES.get(dialect)
    if shapes is None:
        shapes = _SHAPES[dialect] = LRUCache(_CACHE_SIZE)
    found = shapes.get(id(bound.statement))
    if found is not None and found[0] is bound.statement:
        shape = found[1]
    else:
        compiled = bound.statement.compile(dialect=dialect)
        assert isinstance(compiled, SQLCompiler) and compiled.positional and compiled.positiontup is not None
        assert not (compiled.literal_execute_params or compiled.post_compile_params), "a shape has fixed text"
        shape = _Shape(compiled.string, tuple(compiled.positiontup), dict(compiled._bind_processors))
        shapes[id(bound.statement)] = (bound.statement, shape)
    values, processors = bound.values, shape.processors
    return shape.text, [processors[key](values[key]) if key in processors else values[key] for key in shape.order]


async def fetch(
    connection: AsyncConnection, statement: ClauseElement | Bound
) -> tuple[list[Any], SQLCompiler | None] | None:
    """The rows (``asyncpg.Record``) of ``statement`` and its compiled form (None for a :class:`Bound`), or None
    where this does not apply."""
    dialect = connection.dialect
    sync = connection.sync_connection
    raw = _asyncpg_connection(connection) if applies(dialect) else None
    if sync is None or raw is None or raw.is_in_transaction() or not _autocommit(sync.get_execution_options()):
        PATHS["sqlalchemy"] += 1
        return None
    compiled: SQLCompiler | None = None
    if isinstance(statement, Bound):
        text, arguments = compile_bound(statement, dialect)
    else:
        text, arguments, compiled = compile_statement(statement, dialect)
    if sync.dispatch.before_cursor_execute:
        sync.dispatch.before_cursor_execute(sync, None, text, tuple(arguments), None, False)
    PATHS["direct"] += 1
    try:
        rows: list[Any] = await raw.fetch(text, *arguments)
    except Exception as error:
        if raw.is_closed():
            await connection.invalidate(error)
        raise
    return rows, compiled


def _asyncpg_connection(connection: AsyncConnection) -> Any:
    """The asyncpg connection under ``connection``, if it is checked out and valid (no I/O to get it)."""
    sync = connection.sync_connection
    if sync is None or sync.closed or sync.invalidated:
        return None
    return sync.connection.driver_connection


def _autocommit(options: Mapping[str, Any]) -> bool:
    return options.get("isolation_level") == "AUTOCOMMIT" and not options.get(OFF, False)
