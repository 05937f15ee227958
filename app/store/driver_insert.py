"""SQLite: the new rows of an append through the driver's own ``executemany``, each row built as one tuple.

Core's executemany processes every row's parameters in Python (a dict per row, then each typed column's bind
processor): ~14 µs a row more than the driver's ``executemany`` of the same rows. Here each row is the tuple
the driver would receive from Core: the two instants as SQLAlchemy's SQLite text of the naive UTC time
(``UtcDateTime`` then ``DATETIME``), ``data`` through the dialect's JSON serializer, every other column as it is.

Whether a dialect is covered is decided once per dialect, by Core itself: its compiled ``events.insert()`` must
be the same statement, in the same column order, with bind processors on exactly ``occurred_at``,
``recorded_at`` and ``data``, and Core's processed values of sample records (offsets, microseconds, unicode,
wide integers) must equal these tuples. A dialect that is not covered, or a batch this module cannot build
(a naive datetime, a ``data`` that is not a dict, any error), goes through the Core insert, which answers (or
fails) exactly as it always did; ``INSERTS`` counts which insert ran. tests/store/test_append_sqlite_rows.py
requires byte-identical stored rows and equal results from this path and the reference (``append_reference``).
"""

from __future__ import annotations

import collections
import datetime as dt
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from operator import attrgetter
from typing import Any, cast

from sqlalchemy.engine import Dialect

from app.store.records import EventRecord
from app.store.tables import events

logger = logging.getLogger(__name__)

INSERTS: collections.Counter[str] = collections.Counter()
"""Appended batches per insert in this process: ``driver`` (this module's tuples), ``core`` (a dialect it does
not cover: PostgreSQL without ``audit_append``, or a changed SQLite binding), ``core:batch`` (a batch it could not
build, e.g. a naive datetime: Core then raises its own error)."""

_PROCESSED = ("occurred_at", "recorded_at", "data")
_UTC = dt.UTC


class NotBuilt(Exception):
    """This batch's rows are not built here: the Core insert takes it."""


@dataclass(frozen=True, slots=True)
class DriverInsert:
    statement: str
    """Core's own compiled ``INSERT INTO events (...) VALUES (?, ...)``."""
    rows: Callable[[Sequence[EventRecord]], list[tuple[Any, ...]]]
    """The driver's parameters, one tuple per record, in the statement's column order."""


_PLANS: dict[int, tuple[Dialect, DriverInsert | None]] = {}


def driver_insert(dialect: Dialect) -> DriverInsert | None:
    """The driver insert for this dialect, or None: use Core's (decided once per dialect, see the module)."""
    found = _PLANS.get(id(dialect))
    if found is None or found[0] is not dialect:
        found = (dialect, _plan(dialect))
        _PLANS[id(dialect)] = found
    return found[1]


def sqlite_text(value: dt.datetime) -> str:
    """What ``UtcDateTime`` then SQLite's ``DATETIME`` bind: ``YYYY-MM-DD HH:MM:SS.ffffff`` of the naive UTC time."""
    if value.tzinfo is None:
        raise NotBuilt("naive datetime")
    return value.astimezone(_UTC).isoformat(" ", "microseconds")[:26]


def _plan(dialect: Dialect) -> DriverInsert | None:
    if dialect.name != "sqlite":
        return None
    compiled = events.insert().compile(dialect=dialect)
    columns = tuple(compiled.positiontup or ())
    processors = cast(dict[str, Callable[[Any], Any]], dict(compiled._bind_processors))
    if (
        not compiled.positional
        or sorted(columns) != sorted(c.name for c in events.c)
        or sorted(processors) != sorted(_PROCESSED)
    ):
        _refused("Core's insert binds other columns or types")
        return None
    serializer: Callable[[Any], str] = getattr(dialect, "_json_serializer", None) or _stdlib_dumps()
    occurred, recorded, data = (columns.index(name) for name in _PROCESSED)
    values = attrgetter(*columns)

    def rows(records: Sequence[EventRecord]) -> list[tuple[Any, ...]]:
        built: list[tuple[Any, ...]] = []
        last: tuple[dt.datetime, str] | None = None
        try:
            for record in records:
                row = list(values(record))
                when = row[recorded]
                if last is None or last[0] is not when:
                    last = (when, sqlite_text(when))
                row[recorded] = last[1]
                row[occurred] = sqlite_text(row[occurred])
                document = row[data]
                if type(document) is not dict:
                    raise NotBuilt("data is not a dict")
                row[data] = serializer(document)
                built.append(tuple(row))
        except NotBuilt:
            raise
        except Exception as error:  # whatever Core would make of it, Core says
            raise NotBuilt(type(error).__name__) from error
        return built

    plan = DriverInsert(statement=compiled.string, rows=rows)
    for sample in _samples():
        core = tuple(
            processors[name](value) if name in processors else value for name, value in _pairs(sample, columns)
        )
        (ours,) = plan.rows([sample])
        if ours != core or [type(value) for value in ours] != [type(value) for value in core]:
            _refused("Core binds a sample record differently")
            return None
    return plan


def _pairs(record: EventRecord, columns: Sequence[str]) -> list[tuple[str, Any]]:
    return [(name, getattr(record, name)) for name in columns]


def _stdlib_dumps() -> Callable[[Any], str]:
    import json

    return json.dumps


def _refused(reason: str) -> None:
    logger.warning("appends insert through Core on this dialect: %s", reason)
    return None


def _samples() -> list[EventRecord]:
    """Records whose bound values would show a difference in the instants' text or the JSON serializer."""
    offsets = [dt.UTC, dt.timezone(dt.timedelta(hours=5, minutes=30)), dt.timezone(-dt.timedelta(hours=11))]
    moments = [
        dt.datetime(2026, 11, 25, 12, 0, 0, 123456, tzinfo=offsets[0]),
        dt.datetime(2026, 1, 1, 5, 30, 0, 1, tzinfo=offsets[1]),
        dt.datetime(1970, 1, 1, tzinfo=offsets[2]),
        dt.datetime(9, 2, 3, 4, 5, 6, tzinfo=offsets[0]),
    ]
    data = {"café": '\U0001f600 \u2028 "q" \\', "wide": 2**70, "nested": {"b": [1, None, True], "a": {}}}
    samples = []
    for number, moment in enumerate(moments):
        samples.append(
            EventRecord(
                tenant="t",
                event_id=f"e{number}",
                source="s",
                type="order.placed",
                schema_version=1,
                occurred_at=moment,
                actor_type="USER",
                actor_id="u",
                actor_display_name="Zoë",
                actor_ip=None,
                actor_user_agent=None,
                target_type=None,
                target_id=None,
                target_display_name=None,
                outcome="SUCCESS",
                correlation_id=None,
                causation_id=None,
                traceparent=None,
                data=data if number % 2 else {},
                sequence=number + 1,
                recorded_at=moments[-1 - number],
                hash="0" * 64,
                previous_hash="f" * 64,
            )
        )
    return samples
