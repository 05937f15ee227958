"""``TenantReader.page(causes=True)``: the page as without causes, and each event's cause as ``causes`` finds it.

The corpus makes ``cause_of``'s rule matter: ids held by several sources (the effect's own among them or not,
in either recording order), ids no one holds, an id held only in another tenant, events without causationId;
pages over every order, direction, cursor, size and a few filters; both readers (asyncpg's direct statements
and SQLAlchemy's, on PostgreSQL).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import random
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from app.graphql.connection import AuditEventFilter, AuditEventOrder, OrderDirection
from app.graphql.query import events_query
from app.store.append import append
from app.store.event_query import EventQuery, OrderField, position_of
from app.store.read import TenantReader, _with_causes
from app.store.records import NewEvent
from tests.helpers import StatementCounter, stored_event

SOURCES = ("checkout", "billing", "identity")


def _event(tenant: str, source: str, event_id: str, causation_id: str | None, rng: random.Random) -> NewEvent:
    event = stored_event(
        tenant=tenant,
        event_id=event_id,
        type=rng.choice(["user.signed_in", "user.sign_in_failed"]),
        schema_version=1,
        # Not in sequence order, so an OCCURRED_AT page differs from a SEQUENCE one.
        occurred_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC) + dt.timedelta(seconds=rng.randrange(10_000)),
        data={"method": "SSO", "mfa": True, "sessionId": None},
    )
    return dataclasses.replace(event, source=source, causation_id=causation_id)


async def _seed(engine: AsyncEngine, tenant: str) -> None:
    rng = random.Random(7)
    holders = {  # id → its holders' sources, in recording order
        "shared-ab": ("checkout", "billing"),
        "shared-ba": ("billing", "checkout"),
        "shared-abc": ("identity", "billing", "checkout"),
        "only-b": ("billing",),
        "only-c": ("identity",),
    }
    batch = [
        _event(tenant, source, event_id, None, rng)
        for n, (event_id, sources) in enumerate(holders.items())
        for source in sources
    ]
    # Another tenant holds one of these ids too, and one id only it holds: neither is ever a cause here.
    elsewhere = "elsewhere-" + tenant
    await append(engine, [_event(elsewhere, "checkout", "shared-ab", None, rng)])
    await append(engine, [_event(elsewhere, "checkout", "other-tenant-only", None, rng)])
    wanted = [*holders, "no-one", "other-tenant-only", None]
    batch += [_event(tenant, rng.choice(SOURCES), f"effect-{n}", rng.choice(wanted), rng) for n in range(120)]
    rng.shuffle(batch)  # some holders recorded after their effects, some before
    await append(engine, batch)
    # An effect whose only holder has another source, in batches of their own.
    await append(engine, [_event(tenant, "identity", "late", None, rng)])
    await append(engine, [_event(tenant, "checkout", "e-late", "late", rng)])


def _queries() -> list[EventQuery]:
    queries = []
    for field in OrderField:
        for direction in OrderDirection:
            queries.append(events_query(None, None, AuditEventOrder(field=field, direction=direction)))
    queries.append(events_query(AuditEventFilter(sources=["billing", "identity"]), None, None))
    queries.append(events_query(AuditEventFilter(types=["user.sign_in_failed"]), None, None))
    queries.append(events_query(None, "source:checkout", AuditEventOrder(field=OrderField.OCCURRED_AT)))
    return queries


async def _check(reader: TenantReader) -> int:
    pages = 0
    for query in _queries():
        everything = (await reader.page(query, size=500)).records
        for size in (1, 3, 7, 50, 500):
            for cursor_at in (None, 0, 5, len(everything) // 2):
                position = None if cursor_at is None else position_of(everything[cursor_at], query.order)
                for backward in (False, True):
                    if backward and position is None:
                        continue
                    args = {"after": position} if not backward else {"before": position, "backward": True}
                    plain = await reader.page(query, size=size, **args)  # type: ignore[arg-type]
                    joined = await reader.page(query, size=size, causes=True, **args)  # type: ignore[arg-type]
                    where = (query, size, cursor_at, backward)
                    assert joined.records == plain.records, where
                    assert (joined.has_next, joined.has_previous) == (plain.has_next, plain.has_previous), where
                    assert plain.causes is None and joined.causes is not None
                    keys = [(r.causation_id, r.source) for r in plain.records if r.causation_id is not None]
                    found = await reader.causes(keys)
                    assert joined.causes == {key: found.get(key) for key in keys}, where
                    pages += 1
    return pages


async def test_page_causes_are_what_causes_finds(engine: AsyncEngine, tenant: str, backend: str) -> None:
    await _seed(engine, tenant)
    readers = [TenantReader(engine, tenant)]
    if backend == "postgres":
        readers.append(TenantReader(engine, tenant, direct=False))  # SQLAlchemy's execution, as on SQLite
    for reader in readers:
        pages = await _check(reader)
        assert pages > 200
    # The corpus reaches every case of the rule.
    page = await readers[0].page(events_query(None, None, None), size=500, causes=True)
    assert page.causes is not None
    found = {key: cause for key, cause in page.causes.items()}
    assert any(c is not None and c.source == key[1] for key, c in found.items()), "own source"
    assert any(c is not None and c.source != key[1] for key, c in found.items()), "earliest other holder"
    assert any(c is None for c in found.values()), "missing"
    assert ("late", "checkout") in found and found[("late", "checkout")] is not None


async def test_a_page_with_causes_is_one_statement(
    engine: AsyncEngine, tenant: str, statements: StatementCounter
) -> None:
    await _seed(engine, tenant)
    reader = TenantReader(engine, tenant)
    statements.statements.clear()
    page = await reader.page(events_query(None, None, None), size=100, causes=True)
    assert statements.count == 1 and page.causes


def _scanned(plan: dict[str, Any]) -> int:
    """Rows that scan nodes of a PostgreSQL plan produced, subplans included."""
    own = plan["Actual Rows"] * plan.get("Actual Loops", 1) if "Scan" in plan["Node Type"] else 0
    return own + sum(_scanned(child) for child in plan.get("Plans", []))


async def test_a_page_with_causes_probes_by_key(engine: AsyncEngine, tenant: str, backend: str) -> None:
    """Per row of the page, key look-ups only: never a walk over the tenant's events (e.g. SQLite taking
    ``min(sequence)`` from the primary key until a row holds the id; none does for most rows here)."""
    rng = random.Random(3)
    await append(
        engine,
        [
            _event(tenant, rng.choice(SOURCES), f"e{n}", f"missing-{n}" if n % 4 else f"e{n - 1}", rng)
            for n in range(2000)
        ],
    )
    reader = TenantReader(engine, tenant)
    for query in _queries():
        page = reader._page_statement(query, 20, None, None, query.order.descending)
        statement = _with_causes(page, query.order.field, query.order.descending, reader.lateral)
        sql = str(statement.compile(engine.sync_engine, compile_kwargs={"literal_binds": True}))
        async with engine.connect() as connection:
            if backend == "sqlite":
                plan = [row[3] for row in await connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}")]
                probes = [line for line in plan if line.startswith(("SEARCH holder", "SEARCH same_source"))]
                assert len(probes) == 2 and all("event_id=?" in line for line in probes), plan
                assert any(line.startswith("SEARCH cause") and "sequence=?" in line for line in plan), plan
            else:
                await connection.exec_driver_sql("ANALYZE events")
                (raw,) = (await connection.exec_driver_sql(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}")).scalar_one()
                found = raw if isinstance(raw, dict) else json.loads(raw)[0]
                scanned = _scanned(found["Plan"])
                # The page's rows (21 at most, more when a filter skips some) and ≤ 3 probes' rows per row.
                assert scanned <= 21 * 4 + 200, json.dumps(found)[:3000]
