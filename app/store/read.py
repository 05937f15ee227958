"""Reads, always inside one tenant: keyset pages, counts and the batched lookups behind DataLoaders."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import ColumnElement, CompoundSelect, Select, func, select, union_all
from sqlalchemy.ext.asyncio import AsyncEngine

from app.store.query import EventQuery, OrderField, Position, beyond
from app.store.records import EventRecord
from app.store.tables import events

T = TypeVar("T")


MAX_BRANCHES = 250
"""``UNION ALL`` branches per statement: SQLite refuses a compound SELECT of more than 500."""
MAX_IN_VALUES = 1000
"""Values per ``IN`` list (each a bound parameter; SQLite allows 32,766 per statement)."""


def _chunks(values: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    """Batched lookups in statements every backend accepts: one statement per ``size`` keys."""
    for start in range(0, len(values), size):
        yield values[start : start + size]


@dataclass(frozen=True, slots=True)
class Page:
    records: list[EventRecord]
    has_next: bool
    has_previous: bool


@dataclass(frozen=True, slots=True)
class CorrelationSummary:
    correlation_id: str
    event_count: int
    first_occurred_at: dt.datetime
    last_occurred_at: dt.datetime
    sources: list[str]


class TenantReader:
    """Every statement this class runs is scoped to ``tenant``; no caller can widen it."""

    def __init__(self, engine: AsyncEngine, tenant: str) -> None:
        self.engine = engine
        self.tenant = tenant

    def _in_tenant(self, *conditions: ColumnElement[bool]) -> Select[tuple[object, ...]]:
        return select(events).where(events.c.tenant == self.tenant, *conditions)

    async def _records(self, statement: Select[tuple[object, ...]] | CompoundSelect) -> list[EventRecord]:
        async with self.engine.connect() as connection:
            rows = await connection.execute(statement)
            return [EventRecord(**row._mapping) for row in rows]

    async def page(
        self,
        query: EventQuery,
        *,
        size: int,
        after: Position | None = None,
        before: Position | None = None,
        backward: bool = False,
    ) -> Page:
        """``size`` events after ``after`` (or, going ``backward``, before ``before``), in the query's order.

        One statement: it fetches ``size + 1`` rows to learn whether more exist.
        The log is append-only, so an event at the given cursor still exists and
        the opposite direction's flag is simply whether a cursor was given.
        """
        conditions = query.conditions()
        if after is not None:
            conditions.append(beyond(after, query.order, forward=True))
        if before is not None:
            conditions.append(beyond(before, query.order, forward=False))
        travel_descending = query.order.descending != backward
        keys = (
            [events.c.sequence]
            if query.order.field is OrderField.SEQUENCE
            else [events.c.occurred_at, events.c.sequence]
        )
        statement = (
            self._in_tenant(*conditions)
            .order_by(*(key.desc() if travel_descending else key.asc() for key in keys))
            .limit(size + 1)
        )
        records = await self._records(statement)
        more = len(records) > size
        records = records[:size]
        if backward:
            records.reverse()
            return Page(records, has_next=before is not None, has_previous=more)
        return Page(records, has_next=more, has_previous=after is not None)

    async def count(self, query: EventQuery) -> int:
        statement = select(func.count()).select_from(events).where(events.c.tenant == self.tenant, *query.conditions())
        async with self.engine.connect() as connection:
            return int((await connection.execute(statement)).scalar_one())

    async def by_event_ids(self, event_ids: Iterable[str]) -> dict[str, EventRecord]:
        found: dict[str, EventRecord] = {}
        for chunk in _chunks(sorted(set(event_ids)), MAX_IN_VALUES):
            found.update((r.event_id, r) for r in await self._records(self._in_tenant(events.c.event_id.in_(chunk))))
        return found

    async def by_sequences(self, sequences: Iterable[int]) -> dict[int, EventRecord]:
        found: dict[int, EventRecord] = {}
        for chunk in _chunks(sorted(set(sequences)), MAX_IN_VALUES):
            found.update((r.sequence, r) for r in await self._records(self._in_tenant(events.c.sequence.in_(chunk))))
        return found

    async def effects(self, event_ids: Sequence[str], limit: int) -> dict[str, list[EventRecord]]:
        """Per event id, the first ``limit`` events it caused, oldest first."""
        return await self._first_per_key(events.c.causation_id, event_ids, limit)

    async def by_correlation(self, correlation_ids: Sequence[str], limit: int) -> dict[str, list[EventRecord]]:
        """Per correlation id, its first ``limit`` events, oldest first."""
        return await self._first_per_key(events.c.correlation_id, correlation_ids, limit)

    async def _first_per_key(
        self, key: ColumnElement[str | None], values: Sequence[str], limit: int
    ) -> dict[str, list[EventRecord]]:
        """One statement, a UNION ALL of one index-bounded ``LIMIT`` branch per key: rows read ≤ keys × limit."""
        found: dict[str, list[EventRecord]] = {value: [] for value in values}
        if not found or limit <= 0:
            return found
        for chunk in _chunks(sorted(found), MAX_BRANCHES):
            for record in await self._records(self.first_per_key_statement(key, chunk, limit)):
                found[getattr(record, key.name)].append(record)
        for records in found.values():
            records.sort(key=lambda record: record.sequence)
        return found

    def first_per_key_statement(
        self, key: ColumnElement[str | None], values: Sequence[str], limit: int
    ) -> Select[tuple[object, ...]] | CompoundSelect:
        branches = [
            self._in_tenant(key == value).order_by(events.c.sequence).limit(limit).subquery().select()
            for value in values
        ]
        return branches[0] if len(branches) == 1 else union_all(*branches)

    async def correlation_summaries(self, correlation_ids: Sequence[str]) -> dict[str, CorrelationSummary]:
        wanted = sorted(set(correlation_ids))
        if not wanted:
            return {}
        c = events.c
        statement = (
            select(
                c.correlation_id,
                c.source,
                func.count().label("n"),
                func.min(c.occurred_at).label("first"),
                func.max(c.occurred_at).label("last"),
            )
            .where(c.tenant == self.tenant, c.correlation_id.in_(wanted))
            .group_by(c.correlation_id, c.source)
        )
        async with self.engine.connect() as connection:
            rows = (await connection.execute(statement)).all()
        summaries: dict[str, CorrelationSummary] = {}
        for row in rows:
            first, last = row.first, row.last
            prior = summaries.get(row.correlation_id)
            if prior is None:
                summaries[row.correlation_id] = CorrelationSummary(row.correlation_id, row.n, first, last, [row.source])
            else:
                summaries[row.correlation_id] = CorrelationSummary(
                    row.correlation_id,
                    prior.event_count + row.n,
                    min(prior.first_occurred_at, first),
                    max(prior.last_occurred_at, last),
                    sorted([*prior.sources, row.source]),
                )
        return summaries
