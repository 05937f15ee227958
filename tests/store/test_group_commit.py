"""Group commit (app/store/group_commit.py): what arrives while an append is in flight goes out in one call.

Two halves. With a stand-in append path (no database) the coalescer's rules are checked exactly: which batches
each call carries, bounds, failure isolation, cancellation, the context of the shared call. On SQLite and
PostgreSQL, concurrent batches with overlapping keys over several tenants, coalesced, must give the results,
rows and chains of the same batches appended one by one in arrival order; a batch that makes the combined call
fail fails alone; and the number of ``audit_append`` calls per N concurrent requests is counted.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import random
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event as sa_event
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from app import request_guard
from app.store import group_commit
from app.store.append import Accepted, AppendResult, Conflict, Duplicate, _dispatch, append
from app.store.chain import record_canonical
from app.store.engine import create_engine
from app.store.records import NewEvent
from app.store.tables import chain_heads, events
from app.store.verify import verify_chain
from tests.helpers import StatementCounter
from tests.store.test_append_paths import TRICKY_STRINGS, event, migrated_postgres_databases, upgrade_url

T0 = dt.datetime(2026, 11, 26, 3, 0, 0, 654321, tzinfo=dt.UTC)


def fixed() -> dt.datetime:
    return T0


# The coalescer's rules, with a stand-in append path ---------------------------------------------------------------


class Store:
    """A stand-in append path: records each call's batch; may hold a call open, or refuse batches with 'bad'."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []
        self.gate: asyncio.Event | None = None
        self.started = asyncio.Event()
        self.finished = 0
        self.requests: list[request_guard.RequestState | None] = []

    async def run(self, engine: Any, batch: Sequence[NewEvent], clock: Any) -> list[str]:
        self.calls.append([e.event_id for e in batch])
        self.requests.append(request_guard.current())
        self.started.set()
        if self.gate is not None:
            await self.gate.wait()
        if any(e.event_id.startswith("bad") for e in batch):
            raise ValueError("refused: " + ",".join(e.event_id for e in batch if e.event_id.startswith("bad")))
        self.finished += 1
        return [f"ok:{e.event_id}" for e in batch]


class Engine:
    """Stands for an AsyncEngine: group_commit only keys on it (weakly)."""


def batch(*ids: str, data: dict[str, Any] | None = None) -> list[NewEvent]:
    return [event("t", i, data=data) for i in ids]


async def queued(group_of: Callable[[], group_commit.GroupCommit], count: int) -> None:
    """Wait (by yielding, never by the clock) until ``count`` batches are queued."""
    for _ in range(10_000):
        if len(group_of().queue) == count:
            return
        await asyncio.sleep(0)
    raise AssertionError("the batches were never queued")


def group(engine: Engine, store: Store) -> group_commit.GroupCommit:
    return group_commit._GROUPS[engine][(store.run, None)]  # type: ignore[index]


async def test_concurrent_batches_go_out_in_one_call_each_gets_its_own_results() -> None:
    store, engine = Store(), Engine()
    batches = [batch(f"a{n}", f"b{n}") for n in range(10)]
    results = await asyncio.gather(*[group_commit.submit(engine, b, None, store.run) for b in batches])  # type: ignore[arg-type]
    assert store.calls == [[e.event_id for b in batches for e in b]]
    assert results == [[f"ok:a{n}", f"ok:b{n}"] for n in range(10)]


async def test_what_arrives_while_a_call_is_in_flight_goes_out_in_the_next_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(group_commit, "IN_FLIGHT", 1)
    store, engine = Store(), Engine()
    store.gate = asyncio.Event()
    first = asyncio.ensure_future(group_commit.submit(engine, batch("first"), None, store.run))  # type: ignore[arg-type]
    await store.started.wait()
    before = dict(group_commit.BATCHES_PER_FLUSH)
    rest = [asyncio.ensure_future(group_commit.submit(engine, batch(f"r{n}"), None, store.run)) for n in range(7)]  # type: ignore[arg-type]
    await queued(lambda: group(engine, store), 7)
    assert store.calls == [["first"]], "nothing else goes out while the first call is in flight"
    store.gate.set()
    assert await first == ["ok:first"]
    assert [await r for r in rest] == [[f"ok:r{n}"] for n in range(7)]
    assert store.calls == [["first"], [f"r{n}" for n in range(7)]]
    assert group_commit.BATCHES_PER_FLUSH[7] == before.get(7, 0) + 1


async def test_two_calls_in_flight_the_rest_waits_for_one_of_them() -> None:
    """``IN_FLIGHT`` = 2 (the default): a second call goes out while the first runs; whatever arrives while two
    run goes out together when one of them returns."""
    assert group_commit.IN_FLIGHT == 2
    store, engine = Store(), Engine()
    store.gate = asyncio.Event()
    first = asyncio.ensure_future(group_commit.submit(engine, batch("first"), None, store.run))  # type: ignore[arg-type]
    await store.started.wait()
    second = [asyncio.ensure_future(group_commit.submit(engine, batch(f"s{n}"), None, store.run)) for n in range(3)]  # type: ignore[arg-type]
    while len(store.calls) < 2:
        await asyncio.sleep(0)
    third = [asyncio.ensure_future(group_commit.submit(engine, batch(f"t{n}"), None, store.run)) for n in range(4)]  # type: ignore[arg-type]
    await queued(lambda: group(engine, store), 4)
    assert store.calls == [["first"], ["s0", "s1", "s2"]]
    store.gate.set()
    await asyncio.gather(first, *second, *third)
    assert store.calls == [["first"], ["s0", "s1", "s2"], ["t0", "t1", "t2", "t3"]]
    assert not group(engine, store).flushers, "the flushers end with the queue"
    assert await group_commit.submit(engine, batch("later"), None, store.run) == ["ok:later"]  # type: ignore[arg-type]


async def test_a_flush_stays_within_its_bounds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(group_commit, "IN_FLIGHT", 1)
    monkeypatch.setattr(group_commit, "MAX_EVENTS", 5)
    store, engine = Store(), Engine()
    sizes = [2, 2, 2, 7, 1, 1, 3]
    batches = [batch(*[f"b{n}_{i}" for i in range(size)]) for n, size in enumerate(sizes)]
    await asyncio.gather(*[group_commit.submit(engine, b, None, store.run) for b in batches])  # type: ignore[arg-type]
    assert [len(call) for call in store.calls] == [4, 2, 7, 5], "at most 5 events, a larger batch alone, in order"
    assert [i for call in store.calls for i in call] == [e.event_id for b in batches for e in b]

    monkeypatch.setattr(group_commit, "MAX_EVENTS", 5000)
    monkeypatch.setattr(group_commit, "MAX_BYTES", 3 * (group_commit.EVENT_OVERHEAD + 100))
    store = Store()
    big = {"s": "x" * 80}  # 88 bytes of JSON: three such events fit, four do not
    batches = [batch(f"c{n}", data=big) for n in range(7)]
    await asyncio.gather(*[group_commit.submit(engine, b, None, store.run) for b in batches])  # type: ignore[arg-type]
    assert [len(call) for call in store.calls] == [3, 3, 1]


async def test_a_failed_combined_call_is_retried_batch_by_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(group_commit, "IN_FLIGHT", 1)
    store, engine = Store(), Engine()
    before = group_commit.FLUSHES["retried"]
    outcomes = await asyncio.gather(
        *[group_commit.submit(engine, b, None, store.run) for b in (batch("a"), batch("bad"), batch("c", "d"))],  # type: ignore[arg-type]
        return_exceptions=True,
    )
    assert outcomes[0] == ["ok:a"] and outcomes[2] == ["ok:c", "ok:d"]
    assert isinstance(outcomes[1], ValueError) and str(outcomes[1]) == "refused: bad"
    assert store.calls == [["a", "bad", "c", "d"], ["a"], ["bad"], ["c", "d"]]
    assert group_commit.FLUSHES["retried"] == before + 1


async def test_a_lone_batch_fails_as_before() -> None:
    store, engine = Store(), Engine()
    with pytest.raises(ValueError, match="refused: bad"):
        await group_commit.submit(engine, batch("bad"), None, store.run)  # type: ignore[arg-type]
    assert store.calls == [["bad"]]


async def test_a_requester_that_goes_away_does_not_cancel_the_shared_call(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(group_commit, "IN_FLIGHT", 1)
    store, engine = Store(), Engine()
    store.gate = asyncio.Event()
    first = asyncio.ensure_future(group_commit.submit(engine, batch("first"), None, store.run))  # type: ignore[arg-type]
    await store.started.wait()
    leaving = asyncio.ensure_future(group_commit.submit(engine, batch("left"), None, store.run))  # type: ignore[arg-type]
    staying = asyncio.ensure_future(group_commit.submit(engine, batch("stays"), None, store.run))  # type: ignore[arg-type]
    await queued(lambda: group(engine, store), 2)
    first.cancel()  # in flight: its call goes on
    leaving.cancel()  # queued: its batch is dropped
    before = group_commit.FLUSHES["dropped"]
    with contextlib.suppress(asyncio.CancelledError):
        await first
    store.gate.set()
    assert await staying == ["ok:stays"]
    assert leaving.cancelled()
    assert store.calls == [["first"], ["stays"]]
    assert store.finished == 2, "the first call ran to its end although its requester left"
    assert group_commit.FLUSHES["dropped"] == before + 1


async def test_the_shared_call_belongs_to_no_request() -> None:
    """A request's deadline or disconnect must not reach the call others share (SQLite's progress handler asks
    ``request_guard.current()`` whether a statement's request is over)."""
    store, engine = Store(), Engine()
    state = request_guard.RequestState(deadline=0.0, over=True)
    token = request_guard._current.set(state)
    try:
        assert await group_commit.submit(engine, batch("x"), None, store.run) == ["ok:x"]  # type: ignore[arg-type]
    finally:
        request_guard._current.reset(token)
    assert store.requests == [None]


async def test_batches_combine_only_with_the_same_clock() -> None:
    store, engine = Store(), Engine()
    other = lambda: T0  # noqa: E731
    await asyncio.gather(
        group_commit.submit(engine, batch("a"), None, store.run),  # type: ignore[arg-type]
        group_commit.submit(engine, batch("b"), other, store.run),  # type: ignore[arg-type]
        group_commit.submit(engine, batch("c"), None, store.run),  # type: ignore[arg-type]
    )
    assert sorted(store.calls) == [["a", "c"], ["b"]]


# On the databases ---------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def two_urls(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """Two fresh, migrated databases of one backend: one appended to one batch at a time, one coalesced."""
    if request.param == "sqlite":
        folder = Path(tmp_path_factory.mktemp("group"))
        urls = [f"sqlite+aiosqlite:///{folder / side}.db" for side in ("alone", "grouped")]
        for url in urls:
            asyncio.run(upgrade_url(url))
        yield urls[0], urls[1]
        return
    with migrated_postgres_databases("audit_group", ("alone", "grouped")) as urls:
        yield urls


@pytest.fixture
async def two(two_urls: tuple[str, str]) -> AsyncIterator[tuple[AsyncEngine, AsyncEngine]]:
    alone, grouped = create_engine(two_urls[0]), create_engine(two_urls[1])
    yield alone, grouped
    await alone.dispose()
    await grouped.dispose()


def corpus(tenants: list[str], seed: int, count: int) -> list[list[NewEvent]]:
    """Batches over a few tenants and a small id space: repeats within and across batches, identical (duplicates)
    and not (conflicts), against rows stored by earlier flushes and by batches of the same flush."""
    rng = random.Random(seed)
    batches = []
    for _ in range(count):
        size = rng.choice([1, 1, 2, 3, 10, 40])
        batches.append(
            [
                event(
                    rng.choice(tenants),
                    f"id{rng.randrange(25)}",
                    source=rng.choice(["checkout", "payments"]),
                    data={"n": rng.choice([0, 1, 2**70])}
                    if rng.random() < 0.4
                    else {"s": rng.choice(TRICKY_STRINGS[:6])},
                    full=rng.random() < 0.3,
                    outcome=rng.choice(["SUCCESS", "FAILURE"]),
                )
                for _ in range(size)
            ]
        )
    return batches


def _shape(results: list[AppendResult]) -> list[tuple[str, int, str, str | None, bytes]]:
    """A result as the caller sees it; the record by its canonical bytes (a record read back from the store and one
    built from the request hold the same event with, e.g., ``data``'s keys in another order)."""
    shaped = []
    for result in results:
        record = result.existing if isinstance(result, Conflict) else result.record
        shaped.append(
            (type(result).__name__, record.sequence, record.hash, record.previous_hash, record_canonical(record))
        )
    return shaped


async def _rows(engine: AsyncEngine, tenants: list[str]) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    async with engine.connect() as connection:
        stored = await connection.execute(
            select(events).where(events.c.tenant.in_(tenants)).order_by(events.c.tenant, events.c.sequence)
        )
        heads = await connection.execute(
            select(chain_heads).where(chain_heads.c.tenant.in_(tenants)).order_by(chain_heads.c.tenant)
        )
        return [tuple(row) for row in stored], [tuple(row) for row in heads]


@pytest.mark.parametrize(("seed", "max_events"), [(1, 5000), (2, 60), (3, 7)])
async def test_coalesced_batches_equal_the_batches_one_after_another(
    two: tuple[AsyncEngine, AsyncEngine], seed: int, max_events: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same corpus twice: one batch at a time through the append path itself, and all at once through
    ``append`` (one flush, or several when the bound is small). Same results, rows, heads; both chains verify.

    Several flushes go out one after another here (``IN_FLIGHT`` = 1): two calls in flight at once are two
    concurrent requests, which the database may serialize either way."""
    monkeypatch.setattr(group_commit, "MAX_EVENTS", max_events)
    if max_events < 5000:
        monkeypatch.setattr(group_commit, "IN_FLIGHT", 1)
    alone, grouped = two
    tenants = [f"g{seed}{n}_{uuid.uuid4().hex[:6]}" for n in "cab"]
    rounds = [corpus(tenants, seed * 10 + r, 30) for r in range(3)]  # three rounds: later ones meet stored rows
    before = dict(group_commit.FLUSHES)
    kinds: set[str] = set()
    for batches in rounds:
        expected = [await _dispatch(alone, b, fixed) for b in batches]
        got = await asyncio.gather(*[append(grouped, b, clock=fixed) for b in batches])
        assert [_shape(r) for r in got] == [_shape(r) for r in expected]
        kinds |= {type(r).__name__ for results in got for r in results}
    assert kinds == {"Accepted", "Duplicate", "Conflict"}
    flushes = group_commit.FLUSHES["flushes"] - before.get("flushes", 0)
    assert group_commit.FLUSHES["batches"] - before.get("batches", 0) == 90
    assert flushes < 90 and group_commit.FLUSHES["combined"] > before.get("combined", 0)
    if max_events == 5000:
        assert flushes == 3, "each round's 30 concurrent batches in one call"
    ours, theirs = await _rows(grouped, tenants), await _rows(alone, tenants)
    assert ours == theirs
    assert len(ours[0]) > 50
    for tenant in tenants:
        assert (await verify_chain(grouped, tenant)).ok


async def test_results_cover_every_outcome(two: tuple[AsyncEngine, AsyncEngine]) -> None:
    """Across coalesced batches: the first occurrence is accepted, an identical repeat is a duplicate of it, a
    different one a conflict with it, as within one batch."""
    _, grouped = two
    tenant = f"o_{uuid.uuid4().hex[:6]}"
    first, same, different = (
        [event(tenant, "k")],
        [event(tenant, "k"), event(tenant, "other")],
        [event(tenant, "k", data={"changed": True})],
    )
    a, b, c = await asyncio.gather(*[append(grouped, x, clock=fixed) for x in (first, same, different)])
    assert [type(r) for r in a + b + c] == [Accepted, Duplicate, Accepted, Conflict]
    assert isinstance(a[0], Accepted) and isinstance(b[0], Duplicate) and isinstance(c[0], Conflict)
    assert b[0].record.sequence == c[0].existing.sequence == a[0].record.sequence == 1
    assert isinstance(b[1], Accepted) and b[1].record.sequence == 2


@contextlib.asynccontextmanager
async def refusing(engine: AsyncEngine) -> AsyncIterator[None]:
    """A trigger that refuses every event whose id starts with 'boom' (a real failure inside the transaction)."""
    if engine.dialect.name == "postgresql":
        setup = [
            "CREATE OR REPLACE FUNCTION test_group_boom() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "IF NEW.event_id LIKE 'boom%' THEN RAISE EXCEPTION 'disk on fire'; END IF; RETURN NEW; END $$",
            "CREATE TRIGGER test_group_boom BEFORE INSERT ON events FOR EACH ROW EXECUTE FUNCTION test_group_boom()",
        ]
        teardown = ["DROP TRIGGER test_group_boom ON events", "DROP FUNCTION test_group_boom()"]
    else:
        setup = [
            "CREATE TRIGGER test_group_boom BEFORE INSERT ON events WHEN NEW.event_id LIKE 'boom%' "
            "BEGIN SELECT RAISE(ABORT, 'disk on fire'); END"
        ]
        teardown = ["DROP TRIGGER test_group_boom"]
    async with engine.begin() as connection:
        for statement in setup:
            await connection.execute(text(statement))
    try:
        yield
    finally:
        async with engine.begin() as connection:
            for statement in teardown:
                await connection.execute(text(statement))


async def test_a_batch_that_fails_the_combined_call_fails_alone(two: tuple[AsyncEngine, AsyncEngine]) -> None:
    _, grouped = two
    tenant = f"f_{uuid.uuid4().hex[:6]}"
    retried = group_commit.FLUSHES["retried"]
    counter = StatementCounter()
    async with refusing(grouped):
        sa_event.listen(grouped.sync_engine, "before_cursor_execute", counter)
        try:
            outcomes = await asyncio.gather(
                append(grouped, [event(tenant, "a1"), event(tenant, "a2")]),
                append(grouped, [event(tenant, "b1"), event(tenant, "boom")]),
                append(grouped, [event(tenant, "c1"), event(tenant, "a1")]),
                return_exceptions=True,
            )
        finally:
            sa_event.remove(grouped.sync_engine, "before_cursor_execute", counter)
    first, failed, third = outcomes
    assert isinstance(failed, Exception) and "disk on fire" in str(failed)
    assert isinstance(first, list) and isinstance(third, list)
    assert [type(r) for r in first + third] == [Accepted, Accepted, Accepted, Duplicate]
    assert group_commit.FLUSHES["retried"] == retried + 1
    inserts = [s for s in counter.statements if "audit_append" in s or s.startswith("INSERT INTO events ")]
    assert len(inserts) == 4, "the combined call, then each batch alone"
    rows, _ = await _rows(grouped, [tenant])
    assert [(row[0], row[1], row[2]) for row in rows] == [(tenant, 1, "a1"), (tenant, 2, "a2"), (tenant, 3, "c1")]
    assert (await verify_chain(grouped, tenant)).ok


@pytest.mark.postgres
@pytest.mark.parametrize("in_flight", [1, 2])
async def test_audit_append_calls_per_concurrent_requests(
    postgres_url: str, in_flight: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """N requests at once: one ``audit_append`` call. Then one call held in flight (its tenant's head locked by
    another transaction): with one call in flight, all that arrives meanwhile goes out in one call when it
    returns; with two, the next arrivals go out at once in a second call (which waits for the lock too), and
    what comes after them in a third. A requester that left before its call started is dropped; one that left
    while its call ran gets its events committed all the same."""
    monkeypatch.setattr(group_commit, "IN_FLIGHT", in_flight)
    engine = create_engine(postgres_url)
    counter = StatementCounter()
    sa_event.listen(engine.sync_engine, "before_cursor_execute", counter)
    tenant = f"n_{uuid.uuid4().hex[:6]}"

    def calls() -> int:
        return sum("audit_append" in s for s in counter.statements)

    async def out(count: int) -> None:
        while calls() < count:  # its call has gone out, and waits for the lock
            await asyncio.sleep(0.01)

    try:
        results = await asyncio.gather(*[append(engine, [event(tenant, f"a{n}")]) for n in range(10)])
        assert [r[0].record.sequence for r in results] == list(range(1, 11))  # type: ignore[union-attr]
        assert calls() == 1

        counter.statements.clear()
        async with engine.connect() as holder:
            await holder.execute(text("SELECT 1 FROM chain_heads WHERE tenant = :t FOR UPDATE"), {"t": tenant})
            first = asyncio.ensure_future(append(engine, [event(tenant, "held")]))
            await out(1)
            waiting = [asyncio.ensure_future(append(engine, [event(tenant, f"b{n}")])) for n in range(8)]
            group = next(iter(group_commit._GROUPS[engine].values()))
            if in_flight == 2:
                await out(2)  # b0..b7 went out together, behind the lock
                waiting += [asyncio.ensure_future(append(engine, [event(tenant, f"c{n}")])) for n in range(5)]
            gone = asyncio.ensure_future(append(engine, [event(tenant, "gone")]))
            await queued(lambda: group, 9 if in_flight == 1 else 6)
            gone.cancel()
            first.cancel()
            await holder.commit()
        done = await asyncio.gather(*waiting)
        sequences = [r[0].record.sequence for r in done]  # type: ignore[union-attr]
        if in_flight == 1:
            assert sequences == list(range(12, 12 + len(waiting)))
        else:  # two calls waited for the lock: the database decides which went first; each is one run
            b, c = sequences[:8], sequences[8:]
            assert b == list(range(b[0], b[0] + 8)) and c == list(range(c[0], c[0] + 5))
        assert calls() == 1 + in_flight
        rows, _ = await _rows(engine, [tenant])
        ids = [row[2] for row in rows]
        assert "held" in ids and "gone" not in ids and len(ids) == 11 + len(waiting)
        assert [row[1] for row in rows] == list(range(1, len(ids) + 1))
        assert (await verify_chain(engine, tenant)).ok
    finally:
        sa_event.remove(engine.sync_engine, "before_cursor_execute", counter)
        await engine.dispose()


async def test_switched_off_every_batch_goes_alone(engine: AsyncEngine) -> None:
    """``AUDIT_GROUP_COMMIT=false`` (``create_app`` switches the engine off): one call per batch, as before."""
    from app.config import Settings
    from app.server import create_app

    create_app(Settings(database_url="sqlite://", group_commit=False), engine=engine)
    tenant = f"off_{uuid.uuid4().hex[:6]}"
    before = dict(group_commit.FLUSHES)
    results = await asyncio.gather(*[append(engine, [event(tenant, f"e{n}")]) for n in range(5)])
    assert sorted(r[0].record.sequence for r in results) == [1, 2, 3, 4, 5]  # type: ignore[union-attr]
    assert group_commit.FLUSHES["off"] == before.get("off", 0) + 5
    assert group_commit.FLUSHES["flushes"] == before.get("flushes", 0)
    assert (await verify_chain(engine, tenant)).ok
