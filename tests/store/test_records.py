from __future__ import annotations

from app.store.records import EVENT_RECORD_FIELDS, NEW_EVENT_FIELDS
from app.store.tables import events


def test_an_event_record_is_exactly_a_row_of_the_events_table() -> None:
    assert set(EVENT_RECORD_FIELDS) == {column.name for column in events.columns}
    assert set(NEW_EVENT_FIELDS) < set(EVENT_RECORD_FIELDS)
    assert set(EVENT_RECORD_FIELDS) - set(NEW_EVENT_FIELDS) == {"sequence", "recorded_at", "hash", "previous_hash"}
