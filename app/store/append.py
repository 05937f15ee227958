"""The one append path: deduplicate → chain → insert, in one transaction, under the tenants' head locks."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import String, any_, bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql.elements import BindParameter

from app.store.chain import GENESIS_HASH, canonical_bytes, content, link
from app.store.engine import WRITE
from app.store.records import EventRecord, NewEvent
from app.store.tables import chain_heads, events


@dataclass(frozen=True, slots=True)
class Accepted:
    record: EventRecord


@dataclass(frozen=True, slots=True)
class Duplicate:
    """An identical event with this (source, eventId) is already stored in the tenant."""

    record: EventRecord


@dataclass(frozen=True, slots=True)
class Conflict:
    """A different event of the same source already holds this eventId in the tenant."""

    existing: EventRecord


AppendResult = Accepted | Duplicate | Conflict


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def append(
    engine: AsyncEngine, batch: Sequence[NewEvent], *, clock: Callable[[], dt.datetime] | None = None
) -> list[AppendResult]:
    """Append a batch; one result per event, in order. Nothing is written unless everything is.

    Round trips: lock the heads (a tenant's first batch also creates its head), look up the batch's ids
    (one statement; on SQLite one per ``LOOKUP_CHUNK`` ids), insert the new rows (executemany), move the
    heads, commit.
    """
    if not batch:
        return []
    async with engine.connect() as connection:
        connection = await connection.execution_options(**WRITE)
        async with connection.begin():
            heads = await _lock_heads(connection, sorted({event.tenant for event in batch}))
            stored = await _stored(connection, batch)
            recorded_at = (clock or utc_now)()
            results: list[AppendResult] = []
            rows: list[dict[str, object]] = []
            for event in batch:
                key = (event.tenant, event.source, event.event_id)
                if (prior := stored.get(key)) is not None:
                    same = content(prior) == content(event)
                    results.append(Duplicate(prior) if same else Conflict(prior))
                    continue
                sequence, previous_hash = heads[event.tenant]
                sequence += 1
                canonical = canonical_bytes(event, tenant=event.tenant, sequence=sequence, recorded_at=recorded_at)
                record = EventRecord.chained(
                    event,
                    sequence=sequence,
                    recorded_at=recorded_at,
                    hash=link(previous_hash, canonical),
                    previous_hash=previous_hash,
                )
                heads[event.tenant] = (sequence, record.hash)
                stored[key] = record
                rows.append(record.row())
                results.append(Accepted(record))
            if rows:
                await connection.execute(events.insert(), rows)
                await connection.execute(
                    update(chain_heads)
                    .where(chain_heads.c.tenant == bindparam("b_tenant"))
                    .values(last_sequence=bindparam("b_sequence"), last_hash=bindparam("b_hash")),
                    [
                        {"b_tenant": tenant, "b_sequence": sequence, "b_hash": hash_}
                        for tenant, (sequence, hash_) in heads.items()
                    ],
                )
    return results


LOOKUP_CHUNK = 500
"""Ids per SQLite lookup statement: well inside SQLite's bound-parameter limit, whatever the tenant count."""


async def _lock_heads(connection: AsyncConnection, tenants: list[str]) -> dict[str, tuple[int, str]]:
    """Lock every head of the batch, in tenant order (no deadlocks); first create any that is missing."""
    heads = await _select_heads(connection, tenants)
    if len(heads) < len(tenants):  # a tenant's first batch: create its head, then lock them all again, in order
        dialect_insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
        await connection.execute(
            dialect_insert(chain_heads).on_conflict_do_nothing(index_elements=["tenant"]),
            [{"tenant": tenant, "last_sequence": 0, "last_hash": GENESIS_HASH} for tenant in tenants],
        )
        heads = await _select_heads(connection, tenants)
    return heads


async def _select_heads(connection: AsyncConnection, tenants: list[str]) -> dict[str, tuple[int, str]]:
    # One statement on PostgreSQL (an array parameter); on SQLite, where the writer holds the whole database
    # (no row locks), in chunks, so that no statement exceeds its parameter limit.
    postgres = connection.dialect.name == "postgresql"
    chunks = [tenants] if postgres else [tenants[i : i + LOOKUP_CHUNK] for i in range(0, len(tenants), LOOKUP_CHUNK)]
    heads: dict[str, tuple[int, str]] = {}
    for chunk in chunks:
        where = chain_heads.c.tenant == any_(_array(chunk)) if postgres else chain_heads.c.tenant.in_(chunk)
        statement = select(chain_heads).where(where).order_by(chain_heads.c.tenant).with_for_update()
        rows = await connection.execute(statement)
        heads.update({row.tenant: (row.last_sequence, row.last_hash) for row in rows})
    return heads


async def _stored(connection: AsyncConnection, batch: Sequence[NewEvent]) -> dict[tuple[str, str, str], EventRecord]:
    """The stored events under the batch's (tenant, source, eventId) keys.

    The statement asks for tenant ∈ batch tenants and eventId ∈ batch ids (index ``uq_events_tenant_event_id_source``)
    and keeps the exact keys: one statement on PostgreSQL, chunks of ids on SQLite.
    """
    wanted = {(event.tenant, event.source, event.event_id) for event in batch}
    tenants = sorted({tenant for tenant, _, _ in wanted})
    ids = sorted({event_id for _, _, event_id in wanted})
    found: dict[tuple[str, str, str], EventRecord] = {}
    if connection.dialect.name == "postgresql":
        conditions = [(events.c.tenant == any_(_array(tenants)), events.c.event_id == any_(_array(ids)))]
    else:
        conditions = [
            (events.c.tenant.in_(tenants), events.c.event_id.in_(ids[i : i + LOOKUP_CHUNK]))
            for i in range(0, len(ids), LOOKUP_CHUNK)
        ]
    for in_tenants, in_ids in conditions:
        for row in await connection.execute(select(events).where(in_tenants, in_ids)):
            key = (row.tenant, row.source, row.event_id)
            if key in wanted:
                found[key] = EventRecord(**row._mapping)
    return found


def _array(values: list[str]) -> BindParameter[list[str]]:
    """One array parameter (``= ANY($1)``): the statement's text stays the same whatever the batch."""
    return bindparam(None, values, type_=ARRAY(String))  # type: ignore[arg-type]  # stubs want a python-typed type
