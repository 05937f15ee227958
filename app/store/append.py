"""The one append path: deduplicate → chain → insert, in one transaction, under the tenants' head locks.

Two implementations of the same steps. On PostgreSQL the locked section runs inside the database: one call of
``audit_append`` (migrations 0003-0005) in an implicit transaction, so the locks are taken and released (with the
COMMIT) within one round trip and no Python runs while they are held: concurrent writers of one tenant do not
queue behind each other's request parsing. The Python path (``append_in_python``) is the reference, serves
SQLite, and takes over on a PostgreSQL database without the function (counted in ``PATHS``, logged once).
tests/store/test_append_paths.py requires both to store byte-identical rows and give the same results.
``append_reference`` is the Python path with Core's statements only: the reference of the driver statements
``append_in_python`` uses on SQLite (tests/store/test_append_sqlite_rows.py).
"""

from __future__ import annotations

import collections
import datetime as dt
import json
import logging
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import BigInteger, Integer, String, any_, bindparam, column, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql.elements import BindParameter
from sqlalchemy.sql.selectable import TextualSelect

from app.store import direct, group_commit
from app.store.chain import GENESIS_HASH, canonical_bytes, canonical_parts, content, link
from app.store.driver_insert import INSERTS, NotBuilt, driver_insert
from app.store.driver_lookup import LOOKUPS, driver_lookup
from app.store.engine import WRITE
from app.store.records import EventRecord, NewEvent
from app.store.tables import chain_heads, events

logger = logging.getLogger(__name__)

PATHS: collections.Counter[str] = collections.Counter()
"""Calls of each append path in this process (one per flush of ``group_commit``): ``database`` (PostgreSQL's
``audit_append``), ``python`` (SQLite), and ``python:no-function`` (a PostgreSQL database without the function:
the reference path, logged once). ``database:stored-keys`` counts the database calls whose batch held a key
already stored: the function's insert of the batch as a whole was refused and its look-up path answered
(migration 0005). ``database:arrays`` counts those sent as arrays (``APPEND_ARRAYS_CALL``) because a value
held one of the separators of the joined text columns (no validated event does)."""


class Accepted:
    """The event is stored: ``record`` is it, at its place in the chain.

    The database path knows each new event and its link (``Accepted.linked``); the record is built the first
    time it is read, so a caller that only counts what was accepted (most producers) never builds one (~6% of
    the server's CPU per event of a batch of 1,000). Equal when the records are equal, however each was made.
    """

    __slots__ = ("_event", "_link", "_record")

    def __init__(self, record: EventRecord) -> None:
        self._record: EventRecord | None = record
        self._event: NewEvent | None = None
        self._link: tuple[int, dt.datetime, str, str] | None = None

    @classmethod
    def linked(
        cls, event: NewEvent, *, sequence: int, recorded_at: dt.datetime, hash: str, previous_hash: str
    ) -> Accepted:
        accepted = cls.__new__(cls)
        accepted._record = None
        accepted._event = event
        accepted._link = (sequence, recorded_at, hash, previous_hash)
        return accepted

    @property
    def record(self) -> EventRecord:
        if self._record is None:
            assert self._event is not None and self._link is not None
            sequence, recorded_at, hash_, previous_hash = self._link
            self._record = EventRecord.chained(
                self._event, sequence=sequence, recorded_at=recorded_at, hash=hash_, previous_hash=previous_hash
            )
        return self._record

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Accepted):
            return NotImplemented
        return self.record == other.record

    def __hash__(self) -> int:
        return hash(self.record)

    def __repr__(self) -> str:
        return f"Accepted(record={self.record!r})"


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


Key = tuple[str, str, str]


async def append(
    engine: AsyncEngine, batch: Sequence[NewEvent], *, clock: Callable[[], dt.datetime] | None = None
) -> list[AppendResult]:
    """Append a batch; one result per event, in order. Nothing is written unless everything is.

    ``EventAccepted`` means committed: both paths return only after their COMMIT has succeeded. Batches that
    this process appends while another append is in flight go to the store together, in one call and one
    transaction, with the same results as one after another in arrival order (``app.store.group_commit``).
    """
    if not batch:
        return []
    return await group_commit.submit(engine, batch, clock, _dispatch)


async def _dispatch(
    engine: AsyncEngine, batch: Sequence[NewEvent], clock: Callable[[], dt.datetime] | None
) -> list[AppendResult]:
    """One call of the path this engine takes, for a batch (or several queued ones, combined)."""
    if engine.dialect.name == "postgresql":
        results = await append_in_database(engine, batch, clock=clock)
        if results is not None:
            PATHS["database"] += 1
            return results
        PATHS["python:no-function"] += 1
    else:
        PATHS["python"] += 1
    return await append_in_python(engine, batch, clock=clock)


async def append_in_python(
    engine: AsyncEngine, batch: Sequence[NewEvent], *, clock: Callable[[], dt.datetime] | None = None
) -> list[AppendResult]:
    """Every step in Python, in one transaction, the heads locked from first to last (serves SQLite).

    The steps of ``append_reference``; the new rows go to SQLite as prebuilt tuples through the driver's
    ``executemany`` (``app.store.driver_insert``), or through Core where that does not cover the dialect or the
    batch (counted in ``INSERTS``). Round trips: lock the heads (a tenant's first batch also creates its head),
    look up the batch's ids (one statement; on SQLite one per ``LOOKUP_CHUNK`` ids), insert the new rows
    (executemany), move the heads, commit.
    """
    if not batch:
        return []
    async with engine.connect() as connection:
        connection = await connection.execution_options(**WRITE)
        async with connection.begin():
            heads = await _lock_heads(connection, sorted({event.tenant for event in batch}))
            stored = await _stored_by_driver(connection, batch)
            recorded_at = (clock or utc_now)()
            results: list[AppendResult] = []
            records: list[EventRecord] = []
            chained = EventRecord.chained
            for event in batch:
                tenant = event.tenant
                key = (tenant, event.source, event.event_id)
                prior = stored.get(key)
                if prior is not None:
                    same = content(prior) == content(event)
                    results.append(Duplicate(prior) if same else Conflict(prior))
                    continue
                sequence, previous_hash = heads[tenant]
                sequence += 1
                canonical = canonical_bytes(event, tenant=tenant, sequence=sequence, recorded_at=recorded_at)
                hash_ = link(previous_hash, canonical)
                record = chained(
                    event, sequence=sequence, recorded_at=recorded_at, hash=hash_, previous_hash=previous_hash
                )
                heads[tenant] = (sequence, hash_)
                stored[key] = record
                records.append(record)
                results.append(Accepted(record))
            if records:
                await _insert(connection, records)
                await _move_heads(connection, heads)
    return results


async def _insert(connection: AsyncConnection, records: list[EventRecord]) -> None:
    """The new rows: through the driver where ``driver_insert`` covers the dialect and the batch, else Core."""
    plan = driver_insert(connection.dialect)
    if plan is not None:
        try:
            rows = plan.rows(records)
        except NotBuilt:
            INSERTS["core:batch"] += 1
        else:
            INSERTS["driver"] += 1
            await connection.exec_driver_sql(plan.statement, rows)
            return
    else:
        INSERTS["core"] += 1
    await connection.execute(events.insert(), [record.row() for record in records])


async def append_reference(
    engine: AsyncEngine, batch: Sequence[NewEvent], *, clock: Callable[[], dt.datetime] | None = None
) -> list[AppendResult]:
    """The reference: every step in Python, in one transaction, the heads locked from first to last.

    ``append_in_python`` is this, with the rows inserted through the driver on SQLite (``driver_insert``);
    tests/store/test_append_sqlite_rows.py requires both to store byte-identical rows and give equal results.

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
                await _move_heads(connection, heads)
    return results


async def _move_heads(connection: AsyncConnection, heads: dict[str, tuple[int, str]]) -> None:
    """Every head of the batch to its tenant's last new link (one executemany)."""
    await connection.execute(
        update(chain_heads)
        .where(chain_heads.c.tenant == bindparam("b_tenant"))
        .values(last_sequence=bindparam("b_sequence"), last_hash=bindparam("b_hash")),
        [{"b_tenant": tenant, "b_sequence": sequence, "b_hash": hash_} for tenant, (sequence, hash_) in heads.items()],
    )


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


async def _stored_by_driver(connection: AsyncConnection, batch: Sequence[NewEvent]) -> dict[Key, EventRecord]:
    """``_stored``, its statements given to the driver on SQLite (``app.store.driver_lookup``); Core's elsewhere."""
    lookup = driver_lookup(connection.dialect)
    if lookup is None:
        LOOKUPS["core"] += 1
        return await _stored(connection, batch)
    LOOKUPS["driver"] += 1
    wanted = {(event.tenant, event.source, event.event_id) for event in batch}
    tenants = sorted({tenant for tenant, _, _ in wanted})
    ids = sorted({event_id for _, _, event_id in wanted})
    found: dict[Key, EventRecord] = {}
    for start in range(0, len(ids), LOOKUP_CHUNK):
        chunk = ids[start : start + LOOKUP_CHUNK]
        result = await connection.exec_driver_sql(lookup.statement(len(tenants), len(chunk)), (*tenants, *chunk))
        for row in result.all():
            record = lookup.record(row)
            key = (record.tenant, record.source, record.event_id)
            if key in wanted:
                found[key] = record
    return found


def _array(values: list[str]) -> BindParameter[list[str]]:
    """One array parameter (``= ANY($1)``): the statement's text stays the same whatever the batch."""
    return bindparam(None, values, type_=ARRAY(String))  # type: ignore[arg-type]  # stubs want a python-typed type


# PostgreSQL: the locked section in one statement -----------------------------------------------------------------

_ARGUMENTS = (
    ("tenant", "text"),
    ("event_id", "text"),
    ("source", "text"),
    ("type", "text"),
    ("schema_version", "integer[]"),
    ("occurred_at", "timestamptz[]"),
    ("recorded_at", "timestamptz"),
    ("actor_type", "text"),
    ("actor_id", "text"),
    ("actor_display_name", "text"),
    ("actor_ip", "text"),
    ("actor_user_agent", "text"),
    ("target_type", "text"),
    ("target_id", "text"),
    ("target_display_name", "text"),
    ("outcome", "text"),
    ("correlation_id", "text"),
    ("causation_id", "text"),
    ("traceparent", "text"),
    ("data", "text"),
    ("prefix", "text"),
    ("suffix", "text"),
    ("count", "integer"),
)
"""``audit_append``'s arguments as this code sends them: a column of text (``data`` and the canonical halves
included) as one text, each element after a U+001F, a NULL element as U+001E (``_joined``), split back into the
function's arrays by the statement (``APPEND_CALL``); the others as arrays."""
_COLUMNS = tuple(name for name, _ in _ARGUMENTS if name not in ("recorded_at", "prefix", "suffix", "count"))
_JOINED = frozenset(name for name, type_ in _ARGUMENTS if type_ == "text")
UNIT, NULL_ELEMENT = "\x1f", "\x1e"
_OPTIONAL = frozenset(c.name for c in events.c if c.nullable and c.name in _COLUMNS)

_ARRAY_TYPES = {"data": "jsonb[]", "prefix": "bytea[]", "suffix": "bytea[]"}
"""What ``audit_append`` (migration 0005) takes for each joined column: ``text[]`` unless named here."""


def _split(name: str) -> str:
    """SQL for a joined argument as the function's array: split at U+001F in C (the leading separator gives an
    empty first element, cut; U+001E is NULL); ``data`` parsed as JSON; the canonical halves as their exact
    UTF-8 bytes."""
    elements = f"(string_to_array(CAST(:{name} AS text), E'\\x1f', E'\\x1e'))[2:]"
    if name in ("prefix", "suffix"):
        return (
            f"ARRAY(SELECT convert_to(x.half, 'UTF8') FROM unnest({elements}) WITH ORDINALITY AS x (half, n)"
            " ORDER BY x.n)"
        )
    return f"CAST({elements} AS {_ARRAY_TYPES.get(name, 'text[]')})"


def _function_call(argument: Callable[[str, str], str]) -> TextualSelect:
    """``audit_append``'s answer, per event given, in order: its new link, or the sequence of the event stored
    under its key. The function also answers that event's columns; they are read only when there is one
    (``_stored``): 23 more columns per event, nearly always NULL, cost the driver ~1.5 µs an event to decode."""
    arguments = ", ".join(argument(name, type_) for name, type_ in _ARGUMENTS)
    return text(f"SELECT {', '.join(_ANSWER_COLUMNS)} FROM audit_append({arguments})").columns(
        column("pos", Integer),
        column("new_sequence", BigInteger),
        column("new_hash", String),
        column("new_previous_hash", String),
        column("sequence", BigInteger),
    )


_ANSWER_COLUMNS = ("pos", "new_sequence", "new_hash", "new_previous_hash", "sequence")
APPEND_CALL = _function_call(lambda name, type_: _split(name) if type_ == "text" else f"CAST(:{name} AS {type_})")
"""One call, text columns joined (``_joined``) and split in the statement; its answer: per event given, in order,
its new link, or the sequence already stored under its key."""
APPEND_ARRAYS_CALL = _function_call(
    lambda name, type_: f"CAST(:{name} AS {_ARRAY_TYPES.get(name, 'text[]') if type_ == 'text' else type_})"
)
"""The same call with ``arrays``: for a batch with a value that holds a separator."""

UNDEFINED_FUNCTION = "42883"
_missing_logged = False


async def append_in_database(
    engine: AsyncEngine, batch: Sequence[NewEvent], *, clock: Callable[[], dt.datetime] | None = None
) -> list[AppendResult] | None:
    """The same append as ``append_in_python``, its locked section inside PostgreSQL (``audit_append``).

    Python prepares everything that does not depend on the heads: the columns, and per event its canonical
    bytes split around the sequence (``canonical_parts``; the batch's ``recordedAt`` is fixed here, just
    before the call, where the reference path reads the clock under the lock). Repeats of a key within the
    batch are settled here, exactly as the reference path does. The call runs alone in an implicit
    transaction (AUTOCOMMIT: no BEGIN), so the database commits before it answers (``synchronous_commit``
    stays on): one round trip. None when the database has no such function (not migrated to 0003).
    """
    first: dict[Key, int] = {}
    unique: list[NewEvent] = []
    for event in batch:
        key = (event.tenant, event.source, event.event_id)
        if key not in first:
            first[key] = len(unique)
            unique.append(event)
    recorded_at = (clock or utc_now)()
    values = arrays(unique, recorded_at)
    try:
        parameters, statement = _encoded(values), APPEND_CALL
    except Unencodable:
        PATHS["database:arrays"] += 1
        parameters, statement = values, APPEND_ARRAYS_CALL
    try:
        async with engine.connect() as connection:
            connection = await connection.execution_options(isolation_level="AUTOCOMMIT")
            answers = await _call(connection, statement, parameters)
            if len(answers) != len(unique):
                raise RuntimeError(f"audit_append answered {len(answers)} rows for {len(unique)} events")
            holders = [event for event, answer in zip(unique, answers, strict=True) if answer[3] is not None]
            # Committed, and never changed or removed: read after the call as they were in it.
            stored = await _stored(connection, holders) if holders else {}
    except Exception as error:
        if _sqlstate(error) != UNDEFINED_FUNCTION:
            raise
        global _missing_logged
        if not _missing_logged:
            _missing_logged = True
            logger.warning(
                "audit_append is missing or older than this code (run `audit-gateway db upgrade`): "
                "appending through Python"
            )
        return None
    if holders:
        # A stored key refused the function's insert of the batch as a whole: its look-up path answered.
        PATHS["database:stored-keys"] += 1
    known: list[EventRecord | Accepted] = []
    linked = Accepted.linked
    for event, (sequence, hash_, previous_hash, stored_sequence) in zip(unique, answers, strict=True):
        if stored_sequence is not None:
            record = stored[(event.tenant, event.source, event.event_id)]
            if record.sequence != stored_sequence:
                raise RuntimeError(f"audit_append answered sequence {stored_sequence}, the store holds {record}")
            known.append(record)
        else:
            assert sequence is not None and hash_ is not None and previous_hash is not None
            known.append(
                linked(event, sequence=sequence, recorded_at=recorded_at, hash=hash_, previous_hash=previous_hash)
            )
    results: list[AppendResult] = []
    answered = [False] * len(unique)
    for event in batch:
        index = first[(event.tenant, event.source, event.event_id)]
        prior = known[index]
        if not answered[index]:
            answered[index] = True
            if isinstance(prior, Accepted):
                results.append(prior)
                continue
        # A stored event under this key, or an earlier event of this batch: the reference path's comparison.
        record = prior.record if isinstance(prior, Accepted) else prior
        results.append(Duplicate(record) if content(record) == content(event) else Conflict(record))
    return results


Answer = tuple[int | None, str | None, str | None, int | None]
"""One row of ``audit_append``: the new (sequence, hash, previous hash), or the sequence stored under the key."""


async def _call(connection: AsyncConnection, statement: TextualSelect, parameters: dict[str, Any]) -> list[Answer]:
    """The call, through asyncpg on the pooled connection where ``app.store.direct`` applies (it counts which
    way it went); the same call through SQLAlchemy elsewhere. Both give the same answers
    (tests/store/test_append_paths.py runs the database path both ways)."""
    fetched = await direct.fetch(connection, direct.Bound(statement, parameters))
    if fetched is None:
        result = await connection.execute(statement, parameters)
        return [(row[1], row[2], row[3], row[4]) for row in result.all()]
    rows = fetched[0]
    if rows and tuple(rows[0].keys()) != _ANSWER_COLUMNS:
        raise AssertionError(f"audit_append answered the columns {tuple(rows[0].keys())}")
    return [(row[1], row[2], row[3], row[4]) for row in rows]


def _sqlstate(error: BaseException) -> str | None:
    """The SQLSTATE of a database error, raised by asyncpg itself or wrapped by SQLAlchemy."""
    if isinstance(error, DBAPIError):
        return getattr(error.orig, "sqlstate", None)
    return getattr(error, "sqlstate", None)


def _parameters(batch: Sequence[NewEvent], recorded_at: dt.datetime) -> dict[str, Any]:
    """``audit_append``'s arguments: ``arrays``, each text column joined into one text (``_joined``).

    Raises ``Unencodable`` for a batch holding a separator in a value (no validated event does).
    """
    return _encoded(arrays(batch, recorded_at))


def _encoded(values: dict[str, Any]) -> dict[str, Any]:
    return {name: _joined(value) if name in _JOINED else value for name, value in values.items()}


def arrays(batch: Sequence[NewEvent], recorded_at: dt.datetime) -> dict[str, Any]:
    """The function's arguments as arrays: one per column (one element per event, see ``_column``), the canonical
    halves, the time."""
    transposed = list(zip(*map(_column_values, batch), strict=True)) or [() for _ in _COLUMNS]
    columns: dict[str, list[Any] | None] = {}
    for name, values in zip(_COLUMNS, transposed, strict=True):
        if name == "occurred_at":
            values = tuple(map(_utc, values))
        elif name == "data":
            values = tuple(map(_json, values))
        columns[name] = _column(name, values)
    halves = [canonical_parts(event, tenant=event.tenant, recorded_at=recorded_at) for event in batch]
    return {
        **columns,
        "recorded_at": _utc(recorded_at),
        "prefix": [prefix for prefix, _ in halves],
        "suffix": [suffix for _, suffix in halves],
        "count": len(batch),
    }


class Unencodable(ValueError):
    """A value holds U+001F or U+001E, which ``APPEND_CALL`` reads as separators: the batch goes as arrays."""


def _joined(values: list[str | bytes | None] | None) -> str | None:
    """One column as one text: each element after a U+001F, None as U+001E; NULL for a column no event has.

    E.g. ``["a", None, ""]`` -> ``"\\x1fa\\x1f\\x1e\\x1f"``. The driver encodes a text at once, where it checks each
    element of an array in Python. The canonical halves are bytes: joined as bytes, then read as the UTF-8 they are.
    """
    if values is None:
        return None
    nulls = values.count(None)
    if values and isinstance(values[0], bytes):
        try:
            joined = (b"\x1f" + b"\x1f".join(values)).decode("utf-8")  # type: ignore[arg-type]
        except UnicodeDecodeError:
            raise Unencodable("canonical bytes that are not UTF-8") from None
    else:
        texts = values if not nulls else [NULL_ELEMENT if value is None else value for value in values]
        joined = UNIT + UNIT.join(texts)  # type: ignore[arg-type]
    if joined.count(UNIT) != len(values) or joined.count(NULL_ELEMENT) != nulls:
        raise Unencodable("a value holds U+001F or U+001E")
    return joined


def _column(name: str, values: tuple[Any, ...]) -> list[Any] | None:
    """One column's argument, as ``audit_append`` (migration 0005) reads it: one NULL for an optional column no
    event has, one element for a column the same for every event (never ``event_id``: it gives the batch's
    length), else one element per event. The driver checks and encodes every element of an array in Python,
    and the database decodes each: a batch's tenant, source, type, outcome… are usually one value."""
    if name in _OPTIONAL and values.count(None) == len(values):
        return None
    if name != "event_id" and len(values) > 1 and values.count(values[0]) == len(values):
        return [values[0]]
    return list(values)


_column_values: Callable[[NewEvent], tuple[Any, ...]] = operator.attrgetter(*_COLUMNS)
"""An event's values in ``_COLUMNS`` order: the batch becomes one array per column in one transposition."""


def _utc(value: dt.datetime) -> dt.datetime:
    """What ``UtcDateTime`` binds on PostgreSQL: an aware instant, in UTC; a naive one is refused the same way."""
    if value.tzinfo is None:
        raise ValueError("naive datetime given to UtcDateTime")
    return value if value.tzinfo is dt.UTC else value.astimezone(dt.UTC)


def _json(data: dict[str, Any]) -> str:
    """The ``data`` column's JSON text (JSONB keeps the value, not the text): orjson, or the stdlib where it refuses
    (an integer wider than 64 bits)."""
    try:
        return orjson.dumps(data).decode()
    except TypeError:
        return json.dumps(data)
