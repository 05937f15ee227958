"""The one append path: deduplicate → chain → insert, in one transaction, under the tenants' head locks."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import and_, bindparam, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.store.chain import GENESIS_HASH, canonical_bytes, content, link
from app.store.engine import WRITE
from app.store.records import EventRecord, NewEvent
from app.store.tables import chain_heads, events


@dataclass(frozen=True, slots=True)
class Accepted:
    record: EventRecord


@dataclass(frozen=True, slots=True)
class Duplicate:
    """An identical event with this eventId is already stored."""

    record: EventRecord


@dataclass(frozen=True, slots=True)
class Conflict:
    """A different event already holds this eventId."""

    existing: EventRecord


AppendResult = Accepted | Duplicate | Conflict


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def append(
    engine: AsyncEngine, batch: Sequence[NewEvent], *, clock: Callable[[], dt.datetime] = utc_now
) -> list[AppendResult]:
    """Append a batch; one result per event, in order. Nothing is written unless everything is."""
    if not batch:
        return []
    async with engine.connect() as connection:
        connection = await connection.execution_options(**WRITE)
        async with connection.begin():
            heads = await _lock_heads(connection, sorted({event.tenant for event in batch}))
            stored = await _stored(connection, batch)
            recorded_at = clock()
            results: list[AppendResult] = []
            rows: list[dict[str, object]] = []
            for event in batch:
                key = (event.tenant, event.event_id)
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


async def _lock_heads(connection: AsyncConnection, tenants: list[str]) -> dict[str, tuple[int, str]]:
    """Create missing heads, then lock every head of the batch, in tenant order (no deadlocks)."""
    dialect_insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
    await connection.execute(
        dialect_insert(chain_heads).on_conflict_do_nothing(index_elements=["tenant"]),
        [{"tenant": tenant, "last_sequence": 0, "last_hash": GENESIS_HASH} for tenant in tenants],
    )
    rows = await connection.execute(
        select(chain_heads).where(chain_heads.c.tenant.in_(tenants)).order_by(chain_heads.c.tenant).with_for_update()
    )
    return {row.tenant: (row.last_sequence, row.last_hash) for row in rows}


async def _stored(connection: AsyncConnection, batch: Sequence[NewEvent]) -> dict[tuple[str, str], EventRecord]:
    by_tenant: dict[str, set[str]] = {}
    for event in batch:
        by_tenant.setdefault(event.tenant, set()).add(event.event_id)
    condition = or_(
        *(
            and_(events.c.tenant == tenant, events.c.event_id.in_(sorted(ids)))
            for tenant, ids in sorted(by_tenant.items())
        )
    )
    rows = await connection.execute(select(events).where(condition))
    return {(row.tenant, row.event_id): EventRecord(**row._mapping) for row in rows}
