"""Reads, always inside one tenant: keyset pages, counts and the batched lookups behind DataLoaders."""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import json
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    CompoundSelect,
    Select,
    String,
    UnaryExpression,
    and_,
    any_,
    bindparam,
    exists,
    func,
    literal_column,
    or_,
    select,
    true,
    tuple_,
    union_all,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.store import direct as direct_reads
from app.store.direct import Bound
from app.store.engine import read_options
from app.store.event_query import EventQuery, Order, OrderField, Position, beyond
from app.store.records import EventRecord, record_builder
from app.store.tables import UtcDateTime, events

Statement = Select[tuple[object, ...]] | CompoundSelect[tuple[object, ...]] | Bound
"""What ``_fetch`` runs: a statement of events rows, or a fixed-shape one with its values (PostgreSQL)."""

CauseKey = tuple[str, str]
"""(causationId, the effect's source)."""

CauseRef = tuple[str, str, int]
"""A possible cause: (eventId, source, sequence)."""


def cause_of(holders: Sequence[EventRecord], source: str) -> EventRecord | None:
    """Which of the events holding one eventId a ``causationId`` names, for an effect written by ``source``.

    The effect's own source first (its ids are unique within it, and no other source can write them); else the
    earliest recorded holder. Ids are unique per (tenant, source, eventId), so several sources may hold one id;
    this rule is deterministic, and once the cause is stored no later write by another source can change it.
    """
    same = next((holder for holder in holders if holder.source == source), None)
    if same is not None:
        return same
    return min(holders, key=lambda holder: holder.sequence) if holders else None


KEYS_PER_STATEMENT = 500
"""Keys one ``IN`` list or SQLite per-key lookup takes at most; more run as several statements on one connection.

SQLite's per-key lookup has one shape whatever its key count (the keys travel as one JSON parameter), so it
never meets SQLite's limits on compound SELECTs (500) or variables.
"""

POSTGRES_KEYS_PER_STATEMENT = 128
"""PostgreSQL's per-key lookup is a UNION ALL with a branch per key; planning and compiling grow with it."""

EFFECTS_PER_STATEMENT = 100
"""Causes per ``effects_of`` statement: each branch carries two EXISTS subqueries, so fewer fit one statement."""

_BUCKETS = (1, 2, 4, 8, 16, 32, 64, POSTGRES_KEYS_PER_STATEMENT)

T = TypeVar("T")


def chunks(values: Sequence[T], size: int = KEYS_PER_STATEMENT) -> Iterator[Sequence[T]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _bucket(count: int) -> int:
    return next((size for size in _BUCKETS if size >= count), count)


def _read_engine(engine: AsyncEngine, direct: bool) -> AsyncEngine:
    """``engine`` with the read options (``read_options``, and ``direct_reads.OFF`` for a reference reader), kept
    per engine: the same pool and listeners, and a connection it checks out has the options from the start.

    Setting them on each checked-out connection instead (``AsyncConnection.execution_options``) cost one more
    greenlet hop and ~8 µs of CPU per request. Kept on the engine itself (a weak map would keep it alive: the
    derived engines refer to it).
    """
    kept: dict[bool, AsyncEngine] = vars(engine.sync_engine).setdefault("_audit_read_engines", {})
    found = kept.get(direct)
    if found is None:
        options = read_options(engine) if direct else {**read_options(engine), direct_reads.OFF: True}
        found = kept[direct] = engine.execution_options(**options)
    return found


@dataclass(slots=True)
class _Shared:
    """The connection a reader's statements share within ``TenantReader.sharing``."""

    lock: asyncio.Lock
    connection: AsyncConnection | None = None
    over: bool = False
    """The block has ended: a statement that still comes (a sibling of a failed root field) takes its own."""


@dataclass(frozen=True, slots=True)
class Page:
    records: list[EventRecord]
    has_next: bool
    has_previous: bool
    causes: dict[CauseKey, EventRecord | None] | None = None
    """With ``page(causes=True)``: per record holding a causationId, ``(causationId, source)`` → what
    ``causes`` would find for that key (``cause_of``'s rule), or None."""


@dataclass(frozen=True, slots=True)
class CorrelationSummary:
    correlation_id: str
    event_count: int
    first_occurred_at: dt.datetime
    last_occurred_at: dt.datetime
    sources: list[str]


class TenantReader:
    """Every statement this class runs is scoped to ``tenant``; no caller can widen it."""

    def __init__(self, engine: AsyncEngine, tenant: str, *, direct: bool = True) -> None:
        self.engine = engine
        self.tenant = tenant
        self.direct = direct and direct_reads.applies(engine.dialect)
        """Statements of events rows go straight through asyncpg (``app.store.direct``), on PostgreSQL."""
        self._reads = _read_engine(engine, direct)
        self.lateral = engine.dialect.name == "postgresql"
        """A page's causes come from a LATERAL subquery (``_with_causes``)."""
        self._shared: _Shared | None = None

    @asynccontextmanager
    async def sharing(self) -> AsyncIterator[None]:
        """Within the block, this reader's statements take turns on one connection, checked out at the first.

        A request then pays one pool checkout (~0.1 ms) instead of one per statement; its statements are the
        same. Concurrent calls (root fields, loaders) wait for each other's statement.
        """
        shared = _Shared(asyncio.Lock())
        self._shared = shared
        try:
            yield
        finally:
            self._shared = None
            async with shared.lock:  # a statement under way finishes first
                shared.over = True
                connection, shared.connection = shared.connection, None
                if connection is not None:
                    await connection.close()

    @asynccontextmanager
    async def _connect(self) -> AsyncIterator[AsyncConnection]:
        """A connection that reads without a transaction (``read_options``): the shared one, or a pooled one."""
        shared = self._shared
        if shared is None:
            async with self._pooled() as connection:
                yield connection
            return
        async with shared.lock:
            if shared.over:
                async with self._pooled() as connection:
                    yield connection
            else:
                if shared.connection is None:
                    shared.connection = await self._reads.connect()
                yield shared.connection

    @asynccontextmanager
    async def _pooled(self) -> AsyncIterator[AsyncConnection]:
        async with self._reads.connect() as connection:
            yield connection

    def _in_tenant(self, *conditions: ColumnElement[bool]) -> Select[tuple[object, ...]]:
        return select(events).where(events.c.tenant == self.tenant, *conditions)

    async def _records(self, statement: Statement) -> list[EventRecord]:
        async with self._connect() as connection:
            return await _fetch(connection, statement)

    async def _records_in_chunks(self, statements: Iterable[Statement]) -> list[EventRecord]:
        """Runs the statements one after another on one connection; the first failure stops the rest."""
        found: list[EventRecord] = []
        async with self._connect() as connection:
            for statement in statements:
                found += await _fetch(connection, statement)
        return found

    async def page(
        self,
        query: EventQuery,
        *,
        size: int,
        after: Position | None = None,
        before: Position | None = None,
        backward: bool = False,
        causes: bool = False,
    ) -> Page:
        """``size`` events after ``after`` (or, going ``backward``, before ``before``), in the query's order.

        One statement: it fetches ``size + 1`` rows to learn whether more exist.
        The log is append-only, so an event at the given cursor still exists and
        the opposite direction's flag is simply whether a cursor was given.
        With ``causes``, the same statement also brings each event's cause (``Page.causes``), as a page whose
        events select ``causedBy`` would otherwise ask ``causes`` for them in a second one.
        """
        travel_descending = query.order.descending != backward
        statement: Statement
        if self.direct and not query.filters:
            statement = _page_bound(self.tenant, query.order, size + 1, after, before, backward, causes)
            # (the direct lane is PostgreSQL's: its shape with causes is the LATERAL one)
        else:
            statement = self._page_statement(query, size, after, before, travel_descending)
            if causes:
                statement = _with_causes(statement, query.order.field, travel_descending, self.lateral)
        found: dict[CauseKey, EventRecord | None] | None = None
        if causes:
            async with self._connect() as connection:
                pairs = await _fetch_with_causes(connection, statement)
            records = [record for record, _ in pairs]
            found = {
                (record.causation_id, record.source): cause
                for record, cause in pairs[:size]
                if record.causation_id is not None
            }
        else:
            records = await self._records(statement)
        more = len(records) > size
        records = records[:size]
        if backward:
            records.reverse()
            return Page(records, has_next=before is not None, has_previous=more, causes=found)
        return Page(records, has_next=more, has_previous=after is not None, causes=found)

    def _page_statement(
        self, query: EventQuery, size: int, after: Position | None, before: Position | None, travel_descending: bool
    ) -> Select[tuple[object, ...]]:
        conditions = query.conditions()
        if after is not None:
            conditions.append(beyond(after, query.order, forward=True))
        if before is not None:
            conditions.append(beyond(before, query.order, forward=False))
        return self._in_tenant(*conditions).order_by(*_page_keys(query.order.field, travel_descending)).limit(size + 1)

    async def count(self, query: EventQuery) -> int:
        statement = select(func.count()).select_from(events).where(events.c.tenant == self.tenant, *query.conditions())
        async with self._connect() as connection:
            return int((await connection.execute(statement)).scalar_one())

    async def by_event_ids(self, event_ids: Iterable[str]) -> dict[str, EventRecord]:
        """Per eventId, the earliest recorded event holding it (several sources may use one id)."""
        return {event_id: found[0] for event_id, found in (await self.holders(event_ids)).items()}

    async def holders(self, event_ids: Iterable[str]) -> dict[str, list[EventRecord]]:
        """Per eventId, every event holding it (one per source), oldest first."""
        wanted = sorted(set(event_ids))
        found: dict[str, list[EventRecord]] = {}
        statements: Iterable[Statement] = (
            (Bound(_HOLDERS, {"tenant": self.tenant, "keys": list(chunk)}) for chunk in chunks(wanted))
            if self.direct
            else (self._in_tenant(events.c.event_id.in_(chunk)) for chunk in chunks(wanted))
        )
        for record in sorted(await self._records_in_chunks(statements), key=lambda record: record.sequence):
            found.setdefault(record.event_id, []).append(record)
        return found

    async def causes(self, keys: Iterable[CauseKey]) -> dict[CauseKey, EventRecord]:
        """The event a ``causationId`` names, seen from the effect's source (see ``cause_of``)."""
        wanted = list(keys)
        holders = await self.holders(event_id for event_id, _ in wanted)
        found: dict[CauseKey, EventRecord] = {}
        for key in wanted:
            cause = cause_of(holders.get(key[0], []), key[1])
            if cause is not None:
                found[key] = cause
        return found

    async def effects_of(self, causes: Sequence[CauseRef], limit: int) -> dict[CauseRef, list[EventRecord]]:
        """Per cause, the first ``limit`` events whose ``causationId`` resolves to it, oldest first.

        A UNION ALL of one ``LIMIT`` branch per cause, ``EFFECTS_PER_STATEMENT`` causes a statement (SQLite
        refuses more than 500 compound terms), one connection. A branch keeps an event whose
        ``causationId`` is the cause's eventId when the cause is what ``cause_of`` picks for that event: the
        same source, or — when the event's source holds no such id — the earliest holder.
        """
        found: dict[CauseRef, list[EventRecord]] = {cause: [] for cause in causes}
        if not found or limit <= 0:
            return found
        by_id: dict[str, list[CauseRef]] = {}
        for cause in found:
            by_id.setdefault(cause[0], []).append(cause)
        statements = (
            union_all(*(self._effects_branch(cause, limit) for cause in chunk))
            if len(chunk) > 1
            else self._effects_branch(chunk[0], limit)
            for chunk in chunks(list(found), EFFECTS_PER_STATEMENT)
        )
        for record in await self._records_in_chunks(statements):
            # A row comes only from the branch of the cause it resolves to, which is among ``causes``, and
            # there the same rule picks it again: its own source, else the earliest holder.
            candidates = by_id.get(record.causation_id or "", [])
            same = [cause for cause in candidates if cause[1] == record.source]
            chosen = same[0] if same else min(candidates, key=lambda cause: cause[2], default=None)
            if chosen is not None:
                found[chosen].append(record)
        for records in found.values():
            records.sort(key=lambda record: record.sequence)
        return found

    def _effects_branch(self, cause: CauseRef, limit: int) -> Select[tuple[object, ...]]:
        event_id, source, sequence = cause
        same_source = events.alias("same_source")
        earlier = events.alias("earlier")
        held_by_effect_source = exists().where(
            same_source.c.tenant == self.tenant,
            same_source.c.event_id == event_id,
            same_source.c.source == events.c.source,
        )
        held_earlier = exists().where(
            earlier.c.tenant == self.tenant,
            earlier.c.event_id == event_id,
            # "+ 0": the holders of one id are found by the (tenant, event_id, source) index; a bare range on
            # sequence lets SQLite pick the primary key and scan every earlier event of the tenant instead.
            earlier.c.sequence + 0 < sequence,
        )
        resolves_here = or_(events.c.source == source, and_(~held_by_effect_source, ~held_earlier))
        return (
            self._in_tenant(events.c.causation_id == event_id, resolves_here)
            .order_by(events.c.sequence)
            .limit(limit)
            .subquery()
            .select()
        )

    async def by_sequences(self, sequences: Iterable[int]) -> dict[int, EventRecord]:
        wanted = sorted(set(sequences))
        statements: Iterable[Statement] = (
            (Bound(_BY_SEQUENCES, {"tenant": self.tenant, "keys": list(chunk)}) for chunk in chunks(wanted))
            if self.direct
            else (self._in_tenant(events.c.sequence.in_(chunk)) for chunk in chunks(wanted))
        )
        return {r.sequence: r for r in await self._records_in_chunks(statements)}

    async def by_correlation(self, correlation_ids: Sequence[str], limit: int) -> dict[str, list[EventRecord]]:
        """Per correlation id, its first ``limit`` events, oldest first."""
        return await self._first_per_key(events.c.correlation_id, correlation_ids, limit)

    async def _first_per_key(
        self, key: ColumnElement[str | None], values: Sequence[str], limit: int
    ) -> dict[str, list[EventRecord]]:
        """One statement per ``KEYS_PER_STATEMENT`` keys, a ``LIMIT`` per key: rows read ≤ keys × limit."""
        found: dict[str, list[EventRecord]] = {value: [] for value in values}
        if not found or limit <= 0:
            return found
        size = POSTGRES_KEYS_PER_STATEMENT if self.engine.dialect.name == "postgresql" else KEYS_PER_STATEMENT
        statements = (self.first_per_key_statement(key, chunk, limit) for chunk in chunks(sorted(found), size))
        for record in await self._records_in_chunks(statements):
            found[getattr(record, key.name)].append(record)
        for records in found.values():
            records.sort(key=lambda record: record.sequence)
        return found

    def first_per_key_statement(
        self, key: ColumnElement[str | None], values: Sequence[str], limit: int
    ) -> Select[tuple[object, ...]] | CompoundSelect[tuple[object, ...]]:
        """The first ``limit`` events (by sequence) of each key value, in one statement.

        Each key is an index-bounded ``ORDER BY sequence LIMIT n``, so rows read ≤ keys × limit.
        SQLite: the keys come from ``json_each(:keys)``, a correlated ``LIMIT`` subquery picks each key's
        sequences and the rows are read by primary key (SQLite has no LATERAL).
        """
        if self.engine.dialect.name == "postgresql":
            # A UNION ALL of one ``LIMIT`` branch per key: PostgreSQL plans each branch for its own value
            # (a LATERAL over an array would be planned for an average key, and read every row of a big one).
            # The branch count is padded to a few sizes with a key that matches nothing (ids are never
            # empty), so SQLAlchemy compiles a handful of shapes once instead of one per batch size.
            padded = [*values, *[""] * (_bucket(len(values)) - len(values))]
            branches = [
                self._in_tenant(key == value).order_by(events.c.sequence).limit(limit).subquery().select()
                for value in padded
            ]
            return branches[0] if len(branches) == 1 else union_all(*branches)
        wanted = func.json_each(bindparam("keys", json.dumps(list(values)))).table_valued("value", name="k")
        inner = events.alias("firsts")
        firsts_of_key = (
            select(inner.c.tenant, inner.c.sequence)
            .where(inner.c.tenant == self.tenant, inner.c[key.name] == wanted.c.value)
            .order_by(inner.c.sequence)
            .limit(limit)
        )
        # The row-value IN leaves the planner no way into ``events`` but through the keys (see the plan test).
        return (
            select(events)
            .select_from(wanted)
            .join(events, tuple_(events.c.tenant, events.c.sequence).in_(firsts_of_key))
        )

    async def correlation_summaries(self, correlation_ids: Sequence[str]) -> dict[str, CorrelationSummary]:
        wanted = sorted(set(correlation_ids))
        if not wanted:
            return {}
        c = events.c
        rows: list[Row[Any]] = []
        async with self._connect() as connection:
            for chunk in chunks(wanted):
                statement = (
                    select(
                        c.correlation_id,
                        c.source,
                        func.count().label("n"),
                        func.min(c.occurred_at).label("first"),
                        func.max(c.occurred_at).label("last"),
                    )
                    .where(c.tenant == self.tenant, c.correlation_id.in_(chunk))
                    .group_by(c.correlation_id, c.source)
                )
                rows += (await connection.execute(statement)).all()
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


def _page_keys(field: OrderField, descending: bool) -> list[UnaryExpression[Any]]:
    keys = [events.c.sequence] if field is OrderField.SEQUENCE else [events.c.occurred_at, events.c.sequence]
    return [key.desc() if descending else key.asc() for key in keys]


# Statements of fixed shape for the direct path (``direct.Bound``): the hot reads, built once. Keys travel as one
# array (``= ANY``): one text, one prepared statement, whatever the count. Each is scoped by ``:tenant``.
_HOLDERS = select(events).where(
    events.c.tenant == bindparam("tenant", type_=String()),
    events.c.event_id == any_(bindparam("keys", type_=ARRAY(String()))),
)
_BY_SEQUENCES = select(events).where(
    events.c.tenant == bindparam("tenant", type_=String()),
    events.c.sequence == any_(bindparam("keys", type_=ARRAY(BigInteger()))),
)


PAGE_SHAPES = 512
"""Unfiltered page statements kept (one per order, direction, cursor kind, causes and page size)."""


@functools.lru_cache(maxsize=PAGE_SHAPES)
def _page_shape(
    order: Order, backward: bool, after: bool, before: bool, causes: bool, limit: int
) -> Select[tuple[object, ...]]:
    """An unfiltered page's statement as ``TenantReader._page_statement`` builds it, the values as parameters but
    the limit, written in the text (with ``causes``, as ``_with_causes`` wraps it for PostgreSQL, the only
    backend of this lane).

    With the limit a parameter, PostgreSQL estimates a generic plan at a tenth of the table and plans every
    execution of the prepared statement again (~0.1-0.3 ms); with it in the text, the generic plan (the one
    index that serves the order) is taken from the sixth execution on. A frontend uses a few page sizes: a few
    texts, each prepared once per connection.
    """
    conditions: list[ColumnElement[bool]] = [events.c.tenant == bindparam("tenant", type_=String())]
    for name, given, forward in (("after", after, True), ("before", before, False)):
        if given:
            at: Any = (
                bindparam(f"{name}_moment", type_=UtcDateTime()),
                bindparam(f"{name}_sequence", type_=BigInteger()),
            )
            conditions.append(beyond(at, order, forward=forward))
    keys = _page_keys(order.field, order.descending != backward)
    page = select(events).where(*conditions).order_by(*keys).limit(literal_column(str(int(limit))))
    return _with_causes(page, order.field, order.descending != backward, lateral=True) if causes else page


def _with_causes(
    page: Select[tuple[object, ...]], field: OrderField, descending: bool, lateral: bool
) -> Select[tuple[object, ...]]:
    """``page``'s rows in its order, each followed by the columns of its cause (``cause_``-prefixed; nulls for none).

    The cause is ``cause_of``'s pick among the holders of the row's causationId: the row's own source first,
    else the earliest recorded (one holder per source: the key is unique). Per row, probes of the key's index
    (tenant, event_id, source) and one of the primary key; the page itself is read as without causes.
    On PostgreSQL (``lateral``) the cause is a ``LATERAL`` subquery with a ``LIMIT``, so it stays a probe per
    row: joined plainly, a small table's plan hashes every event of the table instead. SQLite has no LATERAL
    and only ever joins by nested loops.
    """
    inner = page.subquery("page")
    same_source, holder, cause = events.alias("same_source"), events.alias("holder"), events.alias("cause")
    cause_sequence = func.coalesce(
        select(same_source.c.sequence)
        .where(
            same_source.c.tenant == inner.c.tenant,
            same_source.c.event_id == inner.c.causation_id,
            same_source.c.source == inner.c.source,
        )
        .correlate(inner)
        .scalar_subquery(),
        # "+ 0": SQLite would otherwise take min() from the primary key (tenant, sequence), walking the tenant's
        # events until one holds the id (all of them when none does); so it probes the key's index instead.
        select(func.min(holder.c.sequence + literal_column("0")))
        .where(holder.c.tenant == inner.c.tenant, holder.c.event_id == inner.c.causation_id)
        .correlate(inner)
        .scalar_subquery(),
    )
    found = and_(cause.c.tenant == inner.c.tenant, cause.c.sequence == cause_sequence)
    keys = [inner.c.sequence] if field is OrderField.SEQUENCE else [inner.c.occurred_at, inner.c.sequence]
    order = [key.desc() if descending else key.asc() for key in keys]
    if lateral:
        one = select(cause).where(found).correlate(inner).limit(literal_column("1")).lateral("cause")
        columns = [one.c[column.name].label(f"cause_{column.name}") for column in events.columns]
        return select(inner, *columns).select_from(inner.outerjoin(one, true())).order_by(*order)
    columns = [column.label(f"cause_{column.name}") for column in cause.columns]
    return select(inner, *columns).select_from(inner.outerjoin(cause, found)).order_by(*order)


def _page_bound(
    tenant: str,
    order: Order,
    limit: int,
    after: Position | None,
    before: Position | None,
    backward: bool,
    causes: bool = False,
) -> Bound:
    values: dict[str, Any] = {"tenant": tenant}
    for name, position in (("after", after), ("before", before)):
        if position is not None:
            values[f"{name}_moment"], values[f"{name}_sequence"] = position[0], position[-1]
    return Bound(_page_shape(order, backward, after is not None, before is not None, causes, limit), values)


_COLUMNS = tuple(column.name for column in events.columns)
_WITH_CAUSE_COLUMNS = _COLUMNS + tuple(f"cause_{name}" for name in _COLUMNS)
record_of_row = record_builder(_COLUMNS)
cause_of_row = record_builder(_COLUMNS, offset=len(_COLUMNS))
"""Every statement here selects the ``events`` columns in table order (``select(events)``, its aliases)."""


def _utc(value: dt.datetime) -> dt.datetime:
    """What ``UtcDateTime`` gives back for a TIMESTAMPTZ asyncpg decoded (aware, in UTC: itself)."""
    return value if value.tzinfo is dt.UTC else _UTC_DATETIME.process_result_value(value, _POSTGRESQL)  # type: ignore[return-value]


_UTC_DATETIME = UtcDateTime()
_POSTGRESQL = postgresql.dialect()  # type: ignore[no-untyped-call]
record_of_asyncpg = record_builder(
    _COLUMNS, {column.name: _utc for column in events.columns if isinstance(column.type, UtcDateTime)}
)
"""asyncpg's rows hold what SQLAlchemy's result processing would give, but for ``UtcDateTime`` (JSONB is decoded
by the connection's codec, with the engine's ``json_deserializer``, on both paths)."""
cause_of_asyncpg = record_builder(
    _COLUMNS,
    {column.name: _utc for column in events.columns if isinstance(column.type, UtcDateTime)},
    offset=len(_COLUMNS),
)


async def _fetch(connection: AsyncConnection, statement: Statement) -> list[EventRecord]:
    rows, direct = await _rows(connection, statement, _COLUMNS)
    build = record_of_asyncpg if direct else record_of_row
    return [build(row) for row in rows]


async def _fetch_with_causes(
    connection: AsyncConnection, statement: Statement
) -> list[tuple[EventRecord, EventRecord | None]]:
    """The rows of a ``_with_causes`` statement: each event and its cause (None where the cause columns are null:
    ``tenant`` never is in a stored event)."""
    rows, direct = await _rows(connection, statement, _WITH_CAUSE_COLUMNS)
    build, build_cause = (record_of_asyncpg, cause_of_asyncpg) if direct else (record_of_row, cause_of_row)
    cause_tenant = len(_COLUMNS)
    return [(build(row), None if row[cause_tenant] is None else build_cause(row)) for row in rows]


async def _rows(connection: AsyncConnection, statement: Statement, columns: tuple[str, ...]) -> tuple[Any, bool]:
    """The rows of ``statement`` (asyncpg's, when ``direct`` says it went that way; else SQLAlchemy's), checked to
    hold exactly ``columns`` in that order."""
    fetched = await direct_reads.fetch(connection, statement)
    if fetched is not None:
        rows = fetched[0]
        if rows and tuple(rows[0].keys()) != columns:
            raise AssertionError(f"a read selected {tuple(rows[0].keys())}, not {columns}")
        return rows, True
    if isinstance(statement, Bound):
        result = await connection.execute(statement.statement, dict(statement.values))  # type: ignore[call-overload]
    else:
        result = await connection.execute(statement)
    if tuple(result.keys()) != columns:
        raise AssertionError(f"a read selected {tuple(result.keys())}, not {columns}")
    return result, False
