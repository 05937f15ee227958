"""The read path's fast constructions are the slow ones' exact equals: records from rows, cursors' text."""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.graphql.events import node_id, parse_node_id
from app.store.event_query import (
    _UNFILTERED_DIGESTS,
    EventFilter,
    EventQuery,
    Order,
    OrderField,
    Position,
    encode_cursor,
    encode_cursors,
    position_of,
)
from app.store.records import EVENT_RECORD_FIELDS, EventRecord, record_builder
from app.store.tables import events

COLUMNS = [column.name for column in events.columns]


def _record(**over: object) -> EventRecord:
    values: dict[str, object] = {
        "tenant": "acme",
        "sequence": 7,
        "event_id": "ord_1",
        "source": "checkout",
        "type": "order.placed",
        "schema_version": 1,
        "occurred_at": dt.datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=dt.UTC),
        "recorded_at": dt.datetime(2026, 1, 2, 3, 4, 6, tzinfo=dt.UTC),
        "actor_type": "USER",
        "actor_id": "u_42",
        "actor_display_name": None,
        "actor_ip": "203.0.113.7",
        "actor_user_agent": None,
        "target_type": "order",
        "target_id": "o_1",
        "target_display_name": None,
        "outcome": "SUCCESS",
        "correlation_id": "c_1",
        "causation_id": None,
        "traceparent": None,
        "data": {"orderId": "o_1", "total": {"amountMinor": "100", "currency": "EUR"}},
        "hash": "a" * 64,
        "previous_hash": "0" * 64,
    }
    values.update(over)
    return EventRecord(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize("order", [COLUMNS, list(EVENT_RECORD_FIELDS), list(reversed(COLUMNS))])
def test_a_record_built_from_row_values_equals_the_dataclass_constructed_one(order: list[str]) -> None:
    expected = _record()
    built = record_builder(order)([getattr(expected, name) for name in order])
    assert built == expected
    assert type(built) is EventRecord
    assert all(getattr(built, name) == getattr(expected, name) for name in EVENT_RECORD_FIELDS)
    with pytest.raises(dataclasses.FrozenInstanceError):
        built.sequence = 8  # type: ignore[misc]
    assert dataclasses.asdict(built) == dataclasses.asdict(expected)


@pytest.mark.parametrize("columns", [COLUMNS[:-1], [*COLUMNS, "extra"], [*COLUMNS[:-1], COLUMNS[0]]])
def test_a_builder_needs_every_field_exactly_once(columns: list[str]) -> None:
    with pytest.raises(ValueError):
        record_builder(columns)


def _reference_cursor(position: Position, digest: str) -> str:
    """The cursor as it was first written: ``json.dumps`` of the keys and digest, base64url without padding."""
    keys = [p.isoformat() if isinstance(p, dt.datetime) else p for p in position]
    raw = json.dumps({"k": keys, "q": digest}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


sequences = st.integers(min_value=0, max_value=2**63 - 1)
moments = st.datetimes(min_value=dt.datetime(1, 1, 1), max_value=dt.datetime(9999, 12, 31), timezones=st.just(dt.UTC))
digests = st.text(alphabet="0123456789abcdef", min_size=22, max_size=22)


@given(sequences, digests)
def test_a_sequence_cursor_is_the_json_one(sequence: int, digest: str) -> None:
    assert encode_cursor((sequence,), digest) == _reference_cursor((sequence,), digest)


@given(moments, sequences, digests)
def test_an_occurred_at_cursor_is_the_json_one(moment: dt.datetime, sequence: int, digest: str) -> None:
    assert encode_cursor((moment, sequence), digest) == _reference_cursor((moment, sequence), digest)


@given(st.lists(st.tuples(moments, sequences), max_size=30), digests, st.sampled_from(list(OrderField)), st.booleans())
def test_a_page_of_cursors_is_one_cursor_per_record(
    keys: list[tuple[dt.datetime, int]], digest: str, field: OrderField, descending: bool
) -> None:
    order = Order(field, descending)
    records = [_record(occurred_at=moment, sequence=sequence) for moment, sequence in keys]
    expected = [_reference_cursor(position_of(record, order), digest) for record in records]
    assert encode_cursors(records, order, digest) == expected


def test_an_unfiltered_digest_is_kept_and_equals_the_computed_one() -> None:
    for query in (EventQuery(), EventQuery(order=Order(OrderField.OCCURRED_AT, False))):
        for tenant in ("acme", "globex"):
            assert query.digest(tenant) == query.computed_digest(tenant) == query.digest(tenant)
            key = (tenant, query.order.field.value, query.order.descending)
            assert _UNFILTERED_DIGESTS[key] == query.computed_digest(tenant)
    assert EventQuery().digest("acme") != EventQuery().digest("globex")
    kept = len(_UNFILTERED_DIGESTS)
    filtered = EventQuery(filters=(EventFilter(sources=("checkout",)),))
    assert filtered.digest("acme") == filtered.computed_digest("acme") != EventQuery().digest("acme")
    assert len(_UNFILTERED_DIGESTS) == kept  # filters are never keys
    truthy = EventQuery(order=Order(OrderField.SEQUENCE, 1))  # type: ignore[arg-type]
    assert truthy.digest("acme") == truthy.computed_digest("acme") != EventQuery().digest("acme")
    assert len(_UNFILTERED_DIGESTS) == kept  # nor is a direction that is not a bool


@given(st.text(min_size=1, max_size=40).filter(lambda text: ":" not in text), sequences)
def test_a_node_id_is_base64s(tenant: str, sequence: int) -> None:
    text = f"AuditEvent:{tenant}:{sequence}"
    try:
        expected = base64.urlsafe_b64encode(text.encode()).decode()
    except UnicodeEncodeError:  # a lone surrogate: both refuse it
        with pytest.raises(UnicodeEncodeError):
            node_id(tenant, sequence)
        return
    assert node_id(tenant, sequence) == expected
    assert parse_node_id(expected) == ((tenant, sequence) if sequence > 0 else None)
