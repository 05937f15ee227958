"""The append's two paths on PostgreSQL: ``audit_append`` (the database) against the Python reference.

The same batches, with the same clock, go into two fresh databases, one through each path; every stored row
(each column's text as PostgreSQL holds it, hash and previous_hash included), every chain head and every
result must be identical. The corpus: multi-tenant batches in unsorted order, tenants' first batches, in-batch
repeats (identical and not), duplicates and conflicts against stored rows (also repeated within a batch), ids
shared across sources, unicode, escapes, wide integers, nested data that imitates the envelope's own keys,
empty optionals, offsets other than UTC, batches of only duplicates, and a seeded random corpus.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import random
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import event as sa_event
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.store import append as append_module
from app.store import direct
from app.store.append import Accepted, AppendResult, append, append_in_database, append_in_python
from app.store.chain import canonical_bytes, canonical_parts
from app.store.engine import create_engine
from app.store.migrate import upgrade
from app.store.records import EventRecord, NewEvent
from app.store.verify import verify_chain
from tests.helpers import POSTGRES_ADMIN_URL, REQUIRE_POSTGRES, StatementCounter, postgres_admin

pytestmark = pytest.mark.postgres

T0 = dt.datetime(2026, 11, 25, 12, 0, 0, 123456, tzinfo=dt.UTC)
TRICKY_STRINGS = [
    "",
    "plain",
    'quote " and backslash \\ and slash /',
    "café \U0001f600 \u4e2d\u6587 \u202e rtl",
    "line\nbreak\ttab\rreturn \x01 \x1f \x7f \x85",
    "\u2028\u2029 separators",
    ',"sequence":0,"source":"forged"',
    '"sequence":1',
    "x" * 2000,
]


def event(
    tenant: str,
    event_id: str,
    *,
    source: str = "checkout",
    data: dict[str, Any] | None = None,
    full: bool = False,
    occurred_at: dt.datetime = T0,
    **over: Any,
) -> NewEvent:
    """A store event; ``full`` fills every optional column, otherwise they are all empty."""
    values: dict[str, Any] = {
        "tenant": tenant,
        "event_id": event_id,
        "source": source,
        "type": "order.placed",
        "schema_version": 1,
        "occurred_at": occurred_at,
        "actor_type": "USER",
        "actor_id": "u_1",
        "actor_display_name": None,
        "actor_ip": None,
        "actor_user_agent": None,
        "target_type": None,
        "target_id": None,
        "target_display_name": None,
        "outcome": "SUCCESS",
        "correlation_id": None,
        "causation_id": None,
        "traceparent": None,
        "data": {} if data is None else data,
    }
    if full:
        values |= {
            "actor_display_name": 'Zoë "the" admin',
            "actor_ip": "2001:db8::1",
            "actor_user_agent": "curl/8.0 \\ \u00e9",
            "target_type": "order",
            "target_id": "ord_\u00e9",
            "target_display_name": "Order #1 \U0001f4e6",
            "correlation_id": "corr_1",
            "causation_id": "cause_1",
            "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        }
    return NewEvent(**(values | over))


def handmade(tenants: list[str]) -> list[list[NewEvent]]:
    a, b, c = tenants[:3]
    wide = {"big": 2**70, "negative": -(2**80), "edge": 2**63, "small": -(2**63), "zero": 0}
    nested = {
        "sequence": 0,
        "source": "data's own",
        "deeper": {"sequence": 7, "source": "x", "list": [1, [2, [3, {"sequence": 0, "source": ""}]]]},
        "flag": True,
        "nothing": None,
        "empty": {},
        "none": [],
    }
    batches = [
        # Tenants' first batches, interleaved in unsorted order.
        [event(c, "e1"), event(a, "e1"), event(b, "e1", full=True), event(a, "e2"), event(c, "e2", full=True)],
        # In-batch repeats: identical (duplicate of this batch's own), different (conflict), across sources.
        [
            event(a, "r1"),
            event(a, "r1"),
            event(a, "r1", data={"changed": 1}),
            event(a, "r1", source="payments"),
            event(b, "r1"),
        ],
        # Against stored rows: duplicates, conflicts, each repeated within the batch, amid new events.
        [
            event(b, "e1", full=True),
            event(a, "new1"),
            event(c, "e2", full=False),
            event(b, "e1", full=True),
            event(c, "e2", full=False),
            event(c, "e2", full=True),
            event(a, "e1", outcome="FAILURE"),
            event(a, "new2"),
        ],
        # Only duplicates: nothing written, the heads stay where they are.
        [event(a, "e1"), event(c, "e1")],
        # Data that strains the encoding: wide integers, nesting, every tricky string as key and as value.
        [
            event(a, "wide", data=wide),
            event(b, "nested", data=nested, full=True),
            event(c, "strings", data={s or "empty": s for s in TRICKY_STRINGS}),
            event(a, "in-columns", full=True, actor_display_name=TRICKY_STRINGS[3], target_display_name='\\"'),
            *[event(b, f"s{i}", actor_id=s[:200] or "-", correlation_id=s[:200]) for i, s in enumerate(TRICKY_STRINGS)],
        ],
        # Offsets other than UTC, microseconds, versions, the other actor and outcome values.
        [
            event(
                a,
                "tz",
                occurred_at=dt.datetime(2026, 1, 1, 5, 30, 0, 1, tzinfo=dt.timezone(dt.timedelta(hours=5, minutes=30))),
                schema_version=3,
                actor_type="SERVICE",
                outcome="DENIED",
            ),
            event(c, "old", occurred_at=dt.datetime(1970, 1, 1, tzinfo=dt.UTC)),
        ],
        # A wide batch over many tenants, some of them new, in descending order.
        [event(t, f"w{i}", data={"i": i}) for i, t in enumerate(sorted(tenants, reverse=True) * 3)],
        # One stored key after many new events of two tenants: the whole insert is refused and rolled back,
        # then the look-up path stores the new ones (the sequences continue as if the first try never was).
        [*[event(t, f"late{i}") for i in range(40) for t in (b, a)], event(a, "e1", outcome="FAILURE")],
    ]
    # Wide integers repeated against the stored row: the value read back from JSONB decides the duplicate.
    batches.append([event(a, "wide", data=wide), event(a, "wide", data={**wide, "big": 2**70 + 1})])
    return batches


def seeded(tenants: list[str], seed: int, batches: int) -> Iterator[list[NewEvent]]:
    """Random batches over a few tenants and a small id space, so repeats, duplicates and conflicts abound."""
    rng = random.Random(seed)
    for _ in range(batches):
        size = rng.choice([1, 2, 5, 20, 100, 300])
        batch = []
        for _ in range(size):
            data: dict[str, Any] = {}
            if rng.random() < 0.5:
                data = {"n": rng.choice([0, 1, 2**64, -5]), "s": rng.choice(TRICKY_STRINGS[:7])}
            batch.append(
                event(
                    rng.choice(tenants),
                    f"id{rng.randrange(60)}",
                    source=rng.choice(["checkout", "payments"]),
                    data=data,
                    full=rng.random() < 0.3,
                    outcome=rng.choice(["SUCCESS", "SUCCESS", "FAILURE"]),
                )
            )
        yield batch


@contextlib.contextmanager
def migrated_postgres_databases(prefix: str, sides: tuple[str, str]) -> Iterator[tuple[str, str]]:
    """Two fresh, migrated PostgreSQL databases (``{prefix}_{random}_{side}``), dropped afterwards.

    As the conftest's postgres_url: CI (AUDIT_REQUIRE_POSTGRES=1) fails where no server answers, a laptop skips.
    """
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0]
    names = [f"{prefix}_{uuid.uuid4().hex[:8]}_{side}" for side in sides]
    try:
        for name in names:
            asyncio.run(postgres_admin(f'CREATE DATABASE "{name}"'))
    except Exception as error:
        if REQUIRE_POSTGRES:
            pytest.fail(f"PostgreSQL is required (AUDIT_REQUIRE_POSTGRES=1) but unreachable: {error}")
        pytest.skip(f"no PostgreSQL at {POSTGRES_ADMIN_URL}: {error}")
    try:
        for name in names:
            asyncio.run(upgrade_url(f"{base}/{name}"))
        yield f"{base}/{names[0]}", f"{base}/{names[1]}"
    finally:
        for name in names:
            asyncio.run(postgres_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def upgrade_url(url: str) -> None:
    engine = create_engine(url)
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()


@pytest.fixture(scope="module")
def two_databases() -> Iterator[tuple[str, str]]:
    """Two fresh, migrated databases: the reference path's and the database path's."""
    with migrated_postgres_databases("audit_paths", ("python", "database")) as urls:
        yield urls


@pytest.fixture(params=["direct", "sqlalchemy"])
async def engines(
    two_databases: tuple[str, str], request: pytest.FixtureRequest
) -> AsyncIterator[tuple[AsyncEngine, AsyncEngine]]:
    """The reference path's engine and the database path's, whose call goes through asyncpg directly
    (``app.store.direct``, as served) or, with ``direct.OFF``, through SQLAlchemy: both must give the same."""
    python, database = create_engine(two_databases[0]), create_engine(two_databases[1])
    before = direct.PATHS["direct"]
    if request.param == "sqlalchemy":
        off = {direct.OFF: True}
        yield python.execution_options(**off), database.execution_options(**off)
        assert direct.PATHS["direct"] == before, "a statement went through asyncpg directly"
    else:
        yield python, database
    await python.dispose()
    await database.dispose()


async def _rows(engine: AsyncEngine, tenants: list[str]) -> tuple[list[str], list[str]]:
    """Every stored row and head of these tenants, each as PostgreSQL's own text of the whole row."""
    async with engine.connect() as connection:
        stored = await connection.execute(
            text("SELECT e::text FROM events e WHERE tenant = ANY(:t) ORDER BY tenant, sequence"), {"t": tenants}
        )
        heads = await connection.execute(
            text("SELECT h::text FROM chain_heads h WHERE tenant = ANY(:t) ORDER BY tenant"), {"t": tenants}
        )
        return [row[0] for row in stored], [row[0] for row in heads]


async def _run_both(
    engines: tuple[AsyncEngine, AsyncEngine], batches: list[list[NewEvent]], tenants: list[str]
) -> tuple[list[list[AppendResult]], list[str]]:
    python, database = engines
    expected: list[list[AppendResult]] = []
    stored: set[tuple[str, str, str]] = set()
    for number, batch in enumerate(batches):
        stamp = T0 + dt.timedelta(seconds=number, microseconds=number * 7)
        clock: Callable[[], dt.datetime] = lambda stamp=stamp: stamp  # noqa: E731
        reference = await append_in_python(python, batch, clock=clock)
        before = append_module.PATHS["database:stored-keys"]
        fast = await append_in_database(database, batch, clock=clock)
        assert fast == reference, f"batch {number}: the results differ"
        keys = [(e.tenant, e.source, e.event_id) for e in batch]
        # The function's look-up path answers exactly the batches that hold a key stored by an earlier batch;
        # every other batch (in-batch repeats included: settled before the call) is inserted as a whole.
        holds_stored = any(key in stored for key in keys)
        assert append_module.PATHS["database:stored-keys"] - before == int(holds_stored), f"batch {number}"
        stored.update(keys)
        expected.append(reference)
    reference_rows, fast_rows = await _rows(python, tenants), await _rows(database, tenants)
    assert fast_rows[1] == reference_rows[1], "the chain heads differ"
    assert len(fast_rows[0]) == len(reference_rows[0])
    for ours, theirs in zip(fast_rows[0], reference_rows[0], strict=True):
        assert ours == theirs
    for tenant in tenants:
        assert (await verify_chain(database, tenant)).ok
    return expected, reference_rows[0]


async def test_one_tenant_batches_store_identical_rows(engines: tuple[AsyncEngine, AsyncEngine]) -> None:
    """A batch of one tenant is chained in one pass (migration 0007): its first batch (the head is created, then
    locked), batches of 1, 100 and 300 new events, a stored key amid new events (the look-up path), repeats."""
    tenant = f"solo_{uuid.uuid4().hex[:6]}"
    batches = [
        [event(tenant, f"first{i}", full=i % 2 == 0) for i in range(50)],
        [event(tenant, "one")],
        [event(tenant, f"n{i}", data={"i": i, "s": TRICKY_STRINGS[i % 7]}) for i in range(100)],
        [event(tenant, f"m{i}", source=("checkout", "payments")[i % 2]) for i in range(300)],
        [event(tenant, "late1"), event(tenant, "first3", full=False), event(tenant, "late2"), event(tenant, "late1")],
        [event(tenant, "late3"), event(tenant, "late3", outcome="FAILURE")],
    ]
    results, rows = await _run_both(engines, batches, [tenant])
    assert [type(r).__name__ for r in results[4]] == ["Accepted", "Duplicate", "Accepted", "Duplicate"]
    assert [type(r).__name__ for r in results[5]] == ["Accepted", "Conflict"]
    assert len(rows) == 50 + 1 + 100 + 300 + 2 + 1


async def test_handmade_corpus_stores_identical_rows(engines: tuple[AsyncEngine, AsyncEngine]) -> None:
    tenants = [f"t{n}_{uuid.uuid4().hex[:6]}" for n in (3, 1, 2, 5, 4)]
    results, rows = await _run_both(engines, handmade(tenants), tenants)
    kinds = [type(r).__name__ for batch in results for r in batch]
    assert {"Accepted", "Duplicate", "Conflict"} <= set(kinds)
    assert [type(r).__name__ for r in results[1]] == ["Accepted", "Duplicate", "Conflict", "Accepted", "Accepted"]
    assert [type(r).__name__ for r in results[2]] == [
        "Duplicate",
        "Accepted",
        "Conflict",
        "Duplicate",
        "Conflict",
        "Duplicate",
        "Conflict",
        "Accepted",
    ]
    assert [type(r).__name__ for r in results[-2]] == ["Accepted"] * 80 + ["Conflict"]
    assert [type(r).__name__ for r in results[-1]] == ["Duplicate", "Conflict"]
    assert any("1180591620717411303424" in row for row in rows), "2**70 stored exactly"


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_seeded_corpus_stores_identical_rows(engines: tuple[AsyncEngine, AsyncEngine], seed: int) -> None:
    tenants = [f"s{seed}{n}_{uuid.uuid4().hex[:6]}" for n in "cab"]
    await _run_both(engines, list(seeded(tenants, seed, 25)), tenants)


def test_canonical_parts_around_every_sequence() -> None:
    samples = [event("t", "e", data={"sequence": 0, "source": "x", "d": {"sequence": 0}}, full=True), event("t", "e")]
    for sample in samples:
        prefix, suffix = canonical_parts(sample, tenant="t", recorded_at=T0)
        for sequence in (1, 9, 10, 12345, 2**62):
            expected = canonical_bytes(sample, tenant="t", sequence=sequence, recorded_at=T0)
            assert prefix + str(sequence).encode() + suffix == expected


async def test_the_database_path_is_one_statement(engines: tuple[AsyncEngine, AsyncEngine]) -> None:
    """Lock, look-up, insert, head move and COMMIT: one round trip (the reference path: BEGIN, lock, look-up,
    insert, head move, COMMIT)."""
    python, database = engines
    tenants = [f"one_{uuid.uuid4().hex[:6]}" for _ in range(2)]
    counts = {}
    for name, engine in (("python", python), ("database", database)):
        counter = StatementCounter()
        sa_event.listen(engine.sync_engine, "before_cursor_execute", counter)
        try:
            batch = [event(t, f"e{i}") for i in range(50) for t in tenants]
            before = dict(append_module.PATHS)
            await append(engine, batch)
            await append(engine, batch)  # all duplicates
            counts[name] = counter.count
            paths = {k: v - before.get(k, 0) for k, v in append_module.PATHS.items() if v != before.get(k, 0)}
        finally:
            sa_event.remove(engine.sync_engine, "before_cursor_execute", counter)
        if name == "database":
            # The second batch is all stored keys: the function's look-up path answered it, and says so.
            assert paths == {"database": 2, "database:stored-keys": 1}
    # One statement per batch, COMMIT included (no BEGIN, no COMMIT statement); a batch holding stored keys then
    # reads those events (the function answers their sequences only).
    assert counts["database"] == 3


async def test_without_the_function_the_reference_path_answers_visibly(
    engines: tuple[AsyncEngine, AsyncEngine], caplog: pytest.LogCaptureFixture
) -> None:
    python, _ = engines
    async with python.begin() as connection:
        (signature,) = (await connection.execute(text("SELECT 'audit_append'::regproc::oid::regprocedure::text"))).one()
        await connection.execute(text(f"DROP FUNCTION {signature}"))
    try:
        tenant = f"nofn_{uuid.uuid4().hex[:6]}"
        before = append_module.PATHS["python:no-function"]
        results = await append(python, [event(tenant, "a"), event(tenant, "b")])
        assert [type(r).__name__ for r in results] == ["Accepted", "Accepted"]
        assert append_module.PATHS["python:no-function"] == before + 1
        assert (await verify_chain(python, tenant)).ok
    finally:
        await _restore_function(python)


async def _restore_function(engine: AsyncEngine) -> None:
    import importlib

    migration = importlib.import_module("app.store.migrations.versions.0004_append_answers_new_events")
    async with engine.begin() as connection:
        await connection.execute(text(migration.CREATE))


async def test_function_migrations_downgrade_and_upgrade(engines: tuple[AsyncEngine, AsyncEngine]) -> None:
    """0004 replaced 0003's function in place; 0005's has a new signature (``p_count``, and shorter columns); 0007
    replaced 0005's body in place (same signature: this code calls either). Each downgrade puts the previous
    function back; this code, which only speaks 0005's signature, then finds none below 0005 and appends through
    Python, visibly; upgraded again, through the database. The chain holds at each step."""
    from alembic import command

    from app.store.engine import WRITE
    from app.store.migrate import _config, current_revision, head_revision

    _, database = engines
    tenant = f"mig_{uuid.uuid4().hex[:6]}"

    async def step(target: str, move: Callable[..., None]) -> None:
        async with database.connect() as connection:
            connection = await connection.execution_options(**WRITE)
            async with connection.begin():
                await connection.run_sync(lambda sync: move(_config(sync), target))

    async def definitions() -> list[str]:
        async with database.connect() as connection:
            query = text(
                "SELECT pg_get_functiondef(p.oid) FROM pg_proc p WHERE p.proname = 'audit_append' ORDER BY p.oid"
            )
            return [str(row[0]) for row in await connection.execute(query)]

    async def appended(batch: list[NewEvent], path: str) -> list[str]:
        before = append_module.PATHS[path]
        results = await append(database, batch)
        assert append_module.PATHS[path] == before + 1, path
        return [type(r).__name__ for r in results]

    (body,) = await definitions()
    assert "p_count integer" in body and "refused" in body and "attempt integer" in body
    try:
        await step("0006", command.downgrade)
        assert await current_revision(database) == "0006"
        (body,) = await definitions()
        assert "p_count integer" in body and "refused" in body and "attempt integer" not in body  # 0005's body
        assert await appended([event(tenant, "x1"), event(tenant, "x2")], "database") == ["Accepted"] * 2
        await step("0004", command.downgrade)
        assert await current_revision(database) == "0004"
        (body,) = await definitions()
        assert "any_stored" in body and "p_count" not in body
        assert await appended([event(tenant, "a"), event(tenant, "b")], "python:no-function") == ["Accepted"] * 2
        await step("0003", command.downgrade)
        assert await current_revision(database) == "0003"
        (body,) = await definitions()
        assert "any_stored" not in body
        again = await appended([event(tenant, "a"), event(tenant, "c")], "python:no-function")
        assert again == ["Duplicate", "Accepted"]
    finally:
        await step("head", command.upgrade)
    assert await current_revision(database) == head_revision() == "0007"
    (body,) = await definitions()
    assert "p_count integer" in body and "attempt integer" in body
    assert await appended([event(tenant, "c"), event(tenant, "d")], "database") == ["Duplicate", "Accepted"]
    assert await appended([event(tenant, "e"), event(tenant, "f")], "database") == ["Accepted"] * 2
    assert (await verify_chain(database, tenant)).ok


def test_columns_go_short_where_they_can() -> None:
    """What the function is sent (``_column``): one element for a column the same for every event, NULL for an
    optional column no event has, never fewer ids or canonical halves than events."""
    same = append_module.arrays([event("t", f"e{i}") for i in range(3)], T0)
    assert same["count"] == 3 and same["event_id"] == ["e0", "e1", "e2"]
    assert same["tenant"] == ["t"] and same["source"] == ["checkout"] and len(same["occurred_at"]) == 1
    assert same["causation_id"] is None and same["traceparent"] is None
    assert len(same["prefix"]) == len(same["suffix"]) == 3
    mixed = append_module.arrays([event("t", "a"), event("u", "a", causation_id="x")], T0)
    assert mixed["tenant"] == ["t", "u"] and mixed["causation_id"] == [None, "x"] and mixed["event_id"] == ["a", "a"]
    assert append_module.arrays([event("t", "a")], T0)["event_id"] == ["a"]


def test_text_columns_are_sent_joined() -> None:
    """Each text column as one text, split by the statement: every element after U+001F, None as U+001E; the halves
    as their UTF-8 text; the other columns as arrays."""
    mixed = append_module._parameters([event("t", "a"), event("u", "a", causation_id="x")], T0)
    assert mixed["tenant"] == "\x1ft\x1fu" and mixed["event_id"] == "\x1fa\x1fa"
    assert mixed["causation_id"] == "\x1f\x1e\x1fx" and mixed["traceparent"] is None
    assert mixed["count"] == 2 and isinstance(mixed["occurred_at"], list)
    halves = append_module.arrays([event("t", "a"), event("u", "a", causation_id="x")], T0)["prefix"]
    assert mixed["prefix"] == "".join("\x1f" + half.decode() for half in halves)
    assert append_module._joined([""]) == "\x1f" and append_module._joined([None]) == "\x1f\x1e"


@pytest.mark.parametrize("separator", ["\x1f", "\x1e"])
def test_a_value_holding_a_separator_is_not_sent_joined(separator: str) -> None:
    with pytest.raises(append_module.Unencodable):
        append_module._parameters([event("t", f"a{separator}b")], T0)
    with pytest.raises(append_module.Unencodable):
        append_module._joined([f"x{separator}", None])
    with pytest.raises(append_module.Unencodable):
        append_module._joined([b"ok", separator.encode()])
    with pytest.raises(append_module.Unencodable):
        append_module._joined([b"\xff"])  # canonical bytes are UTF-8; anything else is not sent as text


async def test_a_batch_with_a_separator_in_a_value_goes_as_arrays(engines: tuple[AsyncEngine, AsyncEngine]) -> None:
    """A value with a separator (no validated event has one; a caller of the store might): the batch is sent as
    arrays (``APPEND_ARRAYS_CALL``); the rows are the reference path's."""
    tenant = f"sep_{uuid.uuid4().hex[:6]}"
    batch = [event(tenant, "a"), event(tenant, "b\x1fc", actor_display_name="\x1e"), event(tenant, "d")]
    before = dict(append_module.PATHS)
    results, _ = await _run_both(engines, [batch], [tenant])
    assert [type(r).__name__ for r in results[0]] == ["Accepted"] * 3
    assert append_module.PATHS["database:arrays"] == before.get("database:arrays", 0) + 1


async def test_tricky_strings_go_joined_and_are_stored_as_given(engines: tuple[AsyncEngine, AsyncEngine]) -> None:
    """Quotes, backslashes, line breaks, other controls, astral and right-to-left text, forged keys, long and empty
    strings in every text column and in data: sent joined (no arrays), rows equal to the reference path's."""
    tenant = f"joined_{uuid.uuid4().hex[:6]}"
    strings = [s.replace("\x1f", "") for s in TRICKY_STRINGS]
    batch = [
        event(
            tenant,
            f"j{i}",
            full=True,
            actor_id=s[:200] or "-",
            actor_display_name=s,
            actor_user_agent=s,
            target_display_name=s,
            correlation_id=s[:200],
            data={s or "empty": s, "all": strings},
        )
        for i, s in enumerate(strings)
    ]
    before = append_module.PATHS["database:arrays"]
    results, _ = await _run_both(engines, [batch], [tenant])
    assert [type(r).__name__ for r in results[0]] == ["Accepted"] * len(strings)
    assert append_module.PATHS["database:arrays"] == before


async def test_empty_and_missing_texts_are_stored_as_given(engines: tuple[AsyncEngine, AsyncEngine]) -> None:
    """An empty display name stays empty, a missing one NULL, whether every event of the batch has it or not
    (``string_to_array`` of an empty text is empty: the leading separator keeps one element)."""
    _, database = engines
    tenant = f"empty_{uuid.uuid4().hex[:6]}"
    batches = [
        [event(tenant, "a", actor_display_name="")],
        [event(tenant, "b", actor_display_name=""), event(tenant, "c", actor_display_name="")],
        [event(tenant, "d", actor_display_name=""), event(tenant, "e"), event(tenant, "f", actor_display_name="x")],
    ]
    for batch in batches:
        await append(database, batch)
    async with database.connect() as connection:
        rows = await connection.execute(
            text("SELECT event_id, actor_display_name FROM events WHERE tenant = :t ORDER BY sequence"), {"t": tenant}
        )
        assert [tuple(row) for row in rows] == [
            ("a", ""), ("b", ""), ("c", ""), ("d", ""), ("e", None), ("f", "x")
        ]  # fmt: skip
    assert (await verify_chain(database, tenant)).ok


async def test_the_function_refuses_ids_that_are_not_one_per_event(engines: tuple[AsyncEngine, AsyncEngine]) -> None:
    _, database = engines
    tenant = f"n_{uuid.uuid4().hex[:6]}"
    values = append_module._parameters([event(tenant, "a"), event(tenant, "b")], T0)
    values["count"] = 3
    with pytest.raises(Exception, match="3 events, but 2 ids"):
        async with database.connect() as connection:
            await connection.execute(append_module.APPEND_CALL, values)
    assert await _rows(database, [tenant]) == ([], [])


async def test_the_planning_setting_of_the_stored_keys_path_ends_with_the_call(
    engines: tuple[AsyncEngine, AsyncEngine],
) -> None:
    """The stored-keys path plans its look-up on every call (``force_custom_plan``, set inside the function);
    the caller's setting is the same after the call, inside a transaction too, whichever path ran."""
    _, database = engines
    tenant = f"plan_{uuid.uuid4().hex[:6]}"
    async with database.connect() as connection:
        transaction = await connection.begin()
        try:
            await connection.execute(text("SET plan_cache_mode = force_generic_plan"))
            for batch in ([event(tenant, "a")], [event(tenant, "a"), event(tenant, "b")]):
                await connection.execute(append_module.APPEND_CALL, append_module._parameters(batch, T0))
                setting = (await connection.execute(text("SHOW plan_cache_mode"))).scalar_one()
                assert setting == "force_generic_plan"
            stored = await connection.execute(text("SELECT count(*) FROM events WHERE tenant = :t"), {"t": tenant})
            assert stored.scalar_one() == 2
        finally:
            await transaction.rollback()  # the setting and the rows with it


async def test_the_database_path_builds_a_record_only_when_it_is_read(
    engines: tuple[AsyncEngine, AsyncEngine], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``Accepted.linked``: a caller that only counts builds no record; each is built once, when first read,
    and equals the reference path's."""
    python, database = engines
    built: list[str] = []
    chained = EventRecord.chained.__func__  # type: ignore[attr-defined]

    def counted(cls: type[EventRecord], event: NewEvent, **link: Any) -> EventRecord:
        built.append(event.event_id)
        return chained(cls, event, **link)  # type: ignore[no-any-return]

    tenant = f"lazy_{uuid.uuid4().hex[:6]}"
    batch = [event(tenant, "a"), event(tenant, "b"), event(tenant, "c")]
    reference = await append_in_python(python, batch, clock=lambda: T0)
    monkeypatch.setattr(EventRecord, "chained", classmethod(counted))
    results = await append_in_database(database, batch, clock=lambda: T0)
    assert results is not None and all(isinstance(result, Accepted) for result in results)
    assert built == []
    record = results[1].record
    assert built == ["b"] and results[1].record is record
    assert results == reference and built == ["b", "a", "c"]
