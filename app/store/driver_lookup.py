"""SQLite: the append's look-up of stored events through the driver, each found row decoded as Core decodes it.

Core's ``select(events).where(tenant IN …, event_id IN …)`` renders its expanding ``IN`` lists and processes
each of the batch's ~500 ids as a bound parameter on every call: about 2 ms of a 500-event batch that a plain
``?`` list given to the driver does not spend. Rows found (duplicates and conflicts: rare on the hot path) become
records through the very result processors Core applies to these columns on this dialect (the instants' text
to aware UTC datetimes, ``data`` through the dialect's JSON deserializer). Any dialect but SQLite keeps Core's
statement (``LOOKUPS`` counts both); tests/store/test_append_sqlite_rows.py requires equal results, prior records
included, from this and the reference (``append_reference``).
"""

from __future__ import annotations

import collections
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Dialect

from app.store.records import EventRecord, record_builder
from app.store.tables import events

LOOKUPS: collections.Counter[str] = collections.Counter()
"""Append look-ups per way in this process: ``driver`` (SQLite, this module), ``core`` (any other dialect)."""


@dataclass(frozen=True, slots=True)
class DriverLookup:
    columns: str
    """Every column of ``events``, in table order, as the select list."""
    record: Callable[[Sequence[Any]], EventRecord]
    """A raw row (in ``columns`` order) → its record, through Core's result processors."""

    def statement(self, tenants: int, ids: int) -> str:
        """The rows of ``tenants`` tenants holding any of ``ids`` ids (index ``uq_events_tenant_event_id_source``)."""
        return (
            f"SELECT {self.columns} FROM events WHERE tenant IN ({', '.join('?' * tenants)}) "
            f"AND event_id IN ({', '.join('?' * ids)})"
        )


_PLANS: dict[int, tuple[Dialect, DriverLookup | None]] = {}


def driver_lookup(dialect: Dialect) -> DriverLookup | None:
    """The driver look-up for this dialect (SQLite), or None: use Core's (decided once per dialect)."""
    found = _PLANS.get(id(dialect))
    if found is None or found[0] is not dialect:
        found = (dialect, _plan(dialect))
        _PLANS[id(dialect)] = found
    return found[1]


def _plan(dialect: Dialect) -> DriverLookup | None:
    if dialect.name != "sqlite":
        return None
    names = [column.name for column in events.c]
    # What Core's result applies per column on this dialect (DefaultExecutionContext.get_result_processor; SQLite's
    # cursor describes no types).
    processors = [column.type._cached_result_processor(dialect, None) for column in events.c]
    build = record_builder(names)
    steps = [(index, processor) for index, processor in enumerate(processors) if processor is not None]

    def record(row: Sequence[Any]) -> EventRecord:
        values = list(row)
        for index, processor in steps:
            values[index] = processor(values[index])
        return build(values)

    return DriverLookup(columns=", ".join(names), record=record)
