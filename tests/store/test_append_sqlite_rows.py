"""SQLite's append (rows through the driver, ``app.store.driver_insert``) against the reference (Core's insert).

The same batches, with the same clock, go into two fresh SQLite databases, one through ``append_reference`` and
one through ``append_in_python``: every result must be equal, and every stored row byte-identical (each column's
storage class and bytes as SQLite holds them), chain heads included. The corpus: test_append_paths' handmade and
seeded batches (tenants' first batches, in-batch repeats, duplicates and conflicts against stored rows, unicode,
escapes, wide integers, offsets other than UTC), the benchmark generator's events of every contract over
several tenants, validated as the gateway does, re-sent in part (duplicates) and altered (conflicts), and data
too big and odd for the generator. What the driver insert does not build falls back to Core, visibly.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
import sqlite3
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event as sa_event
from sqlalchemy.exc import StatementError
from sqlalchemy.ext.asyncio import AsyncEngine

from app.auth.principal import Principal, Scope
from app.demo import SOURCES
from app.ingest import validate
from app.store import driver_insert, driver_lookup
from app.store.append import AppendResult, append, append_in_python, append_reference
from app.store.engine import create_engine
from app.store.migrate import upgrade
from app.store.records import EventRecord, NewEvent
from app.store.tables import chain_heads, events
from app.store.verify import verify_chain
from scripts import generate
from tests.helpers import StatementCounter
from tests.store.test_append_paths import T0, TRICKY_STRINGS, event, handmade, seeded

TENANTS = ["t3", "t1", "t2", "t5", "t4"]


@pytest.fixture
async def engines(tmp_path: Path) -> AsyncIterator[tuple[AsyncEngine, AsyncEngine]]:
    made = [create_engine(f"sqlite+aiosqlite:///{tmp_path}/{side}.db") for side in ("reference", "driver")]
    for engine in made:
        await upgrade(engine)
    yield made[0], made[1]
    for engine in made:
        await engine.dispose()


def _raw(path: str, table: str, columns: list[str], order: str) -> list[tuple[str, ...]]:
    """Every row as SQLite holds it: per column its storage class and its bytes (hex)."""
    select = ", ".join(f"typeof({c}) || ':' || hex({c})" for c in columns)
    with sqlite3.connect(path) as connection:
        return connection.execute(f"SELECT {select} FROM {table} ORDER BY {order}").fetchall()


def _stored(engine: AsyncEngine) -> tuple[list[tuple[str, ...]], list[tuple[str, ...]]]:
    path = engine.url.database
    assert path is not None
    return (
        _raw(path, "events", [c.name for c in events.c], "tenant, sequence"),
        _raw(path, "chain_heads", [c.name for c in chain_heads.c], "tenant"),
    )


async def _run_both(engines: tuple[AsyncEngine, AsyncEngine], batches: list[list[NewEvent]]) -> list[AppendResult]:
    reference, driver = engines
    before = driver_insert.INSERTS["driver"]
    written = 0
    everything: list[AppendResult] = []
    for number, batch in enumerate(batches):
        stamp = T0 + dt.timedelta(seconds=number, microseconds=number * 7)
        clock: Callable[[], dt.datetime] = lambda stamp=stamp: stamp  # noqa: E731
        expected = await append_reference(reference, batch, clock=clock)
        answered = await append_in_python(driver, batch, clock=clock)
        assert answered == expected, f"batch {number}: the results differ"
        assert repr(answered) == repr(expected), f"batch {number}: the results' values differ (types, time zones)"
        written += any(type(result).__name__ == "Accepted" for result in expected)
        everything += expected
    ours, theirs = _stored(driver), _stored(reference)
    assert ours[1] == theirs[1], "the chain heads differ"
    assert len(ours[0]) == len(theirs[0])
    for mine, reference_row in zip(ours[0], theirs[0], strict=True):
        assert mine == reference_row
    assert driver_insert.INSERTS["driver"] - before == written, "every batch with new rows went through the driver"
    for tenant in {item.tenant for batch in batches for item in batch}:
        assert (await verify_chain(driver, tenant)).ok
    return everything


async def test_handmade_corpus(engines: tuple[AsyncEngine, AsyncEngine]) -> None:
    results = await _run_both(engines, handmade(TENANTS))
    assert {"Accepted", "Duplicate", "Conflict"} <= {type(r).__name__ for r in results}


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_seeded_corpus(engines: tuple[AsyncEngine, AsyncEngine], seed: int) -> None:
    await _run_both(engines, list(seeded(TENANTS[:3], seed, 25)))


def _generated(count: int, tenants: list[str], seed: int) -> list[NewEvent]:
    """The benchmark generator's events, validated as the gateway validates them."""
    principal = Principal("k", "k", frozenset(tenants), frozenset({Scope.WRITE}), frozenset(SOURCES))
    found = [validate(submission, principal) for submission in generate.submissions(count, tenants, seed=seed)]
    valid = [item for item in found if isinstance(item, NewEvent)]
    assert len(valid) == len(found)
    return valid


async def test_generated_corpus_with_duplicates_and_conflicts(engines: tuple[AsyncEngine, AsyncEngine]) -> None:
    rng = random.Random(5)
    valid = _generated(3000, ["gen-a", "gen-b", "gen-c", "gen-e"], seed=9)
    batches = [valid[start : start + 500] for start in range(0, len(valid), 500)]
    again = rng.sample(valid, 300)  # duplicates of stored rows, and conflicts: same key, other content
    altered = [dataclasses.replace(e, outcome="FAILURE" if e.outcome != "FAILURE" else "SUCCESS") for e in again[:100]]
    batches.append(again + altered + _generated(200, ["gen-d"], seed=10))
    results = await _run_both(engines, batches)
    kinds = {type(r).__name__ for r in results}
    assert {"Accepted", "Duplicate", "Conflict"} <= kinds


async def test_big_and_odd_data(engines: tuple[AsyncEngine, AsyncEngine]) -> None:
    odd: dict[str, Any] = {
        "big": "x" * 200_000,
        "unicode": "".join(chr(c) for c in range(0x20, 0x3000, 7)),
        "astral": "\U0001f600\U0010fffd\U0001d11e",
        "numbers": [0, -1, 2**63, -(2**63) - 1, 2**200, 1.5, -0.0, 1e300],
        "deep": {"a": {"b": {"c": [[[{"d": None}]]]}}},
        "keys": {s: s for s in TRICKY_STRINGS},
        "many": {f"k{i}": i for i in range(2000)},
    }
    batches = [
        [event(t, f"odd{i}", data=odd, full=True) for i in range(3) for t in TENANTS[:2]],
        [event("t1", "odd0", data=odd, full=True), event("t1", "odd1", data={**odd, "big": "y"}, full=True)],
        [event("t\U0001f600", "e", occurred_at=dt.datetime(1, 1, 1, tzinfo=dt.UTC), data={"\x00": "\x00"})],
        [event("t9", "late", occurred_at=dt.datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=dt.UTC))],
    ]
    await _run_both(engines, batches)


async def test_same_statements_as_the_reference(engines: tuple[AsyncEngine, AsyncEngine]) -> None:
    """BEGIN IMMEDIATE, heads, look-up, one executemany, heads moved, COMMIT: as many statements as Core's."""
    counts = []
    for engine, path in zip(engines, (append_reference, append_in_python), strict=True):
        counter = StatementCounter()
        sa_event.listen(engine.sync_engine, "before_cursor_execute", counter)
        try:
            await path(engine, [event("t1", f"e{i}") for i in range(50)])
            await path(engine, [event("t1", f"e{i}") for i in range(60)])
        finally:
            sa_event.remove(engine.sync_engine, "before_cursor_execute", counter)
        counts.append(counter.count)
    assert counts[0] == counts[1]


async def test_a_batch_it_cannot_build_goes_through_core(engines: tuple[AsyncEngine, AsyncEngine]) -> None:
    """A naive datetime: Core refuses it as it always did, nothing is written, and the fallback is counted."""
    reference, driver = engines
    naive = [event("t1", "ok"), event("t1", "naive", occurred_at=dt.datetime(2026, 1, 1))]
    before = driver_insert.INSERTS["core:batch"]
    for engine in (reference, driver):
        with pytest.raises(StatementError, match="naive datetime"):
            await (append_reference if engine is reference else append_in_python)(engine, naive)
    assert driver_insert.INSERTS["core:batch"] == before + 1
    assert _stored(driver) == _stored(reference) == ([], [])


async def test_sqlite_appends_use_the_driver_insert(engines: tuple[AsyncEngine, AsyncEngine]) -> None:
    _, driver = engines
    assert driver_insert.driver_insert(driver.dialect) is not None
    before = driver_insert.INSERTS["driver"], driver_lookup.LOOKUPS["driver"]
    await append(driver, [event("t1", "a"), event("t2", "b")])
    assert (driver_insert.INSERTS["driver"], driver_lookup.LOOKUPS["driver"]) == (before[0] + 1, before[1] + 1)


def test_core_decides_what_is_covered() -> None:
    """Only SQLite; there, the dialect's own JSON serializer writes ``data``, as Core's binding does."""
    from sqlalchemy.dialects import postgresql
    from sqlalchemy.dialects.sqlite.aiosqlite import SQLiteDialect_aiosqlite

    assert driver_insert.driver_insert(postgresql.asyncpg.dialect()) is None
    assert driver_lookup.driver_lookup(postgresql.asyncpg.dialect()) is None
    custom = SQLiteDialect_aiosqlite(json_serializer=lambda value: "odd")
    plan = driver_insert.driver_insert(custom)
    assert plan is not None
    record = EventRecord.chained(event("t", "e"), sequence=1, recorded_at=T0, hash="0" * 64, previous_hash="0" * 64)
    (row,) = plan.rows([record])
    assert "odd" in row
