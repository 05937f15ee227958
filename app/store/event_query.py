"""What a reader asks for: filters, an order, and the keyset cursor that marks a place in it."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from enum import Enum
from typing import Any

from pydantic.alias_generators import to_camel
from sqlalchemy import ColumnElement, and_, or_

from app.contracts.values import check_text
from app.errors import BadUserInput, InvalidCursor
from app.store.records import EventRecord
from app.store.tables import events


class OrderField(Enum):
    SEQUENCE = "SEQUENCE"
    OCCURRED_AT = "OCCURRED_AT"


@dataclass(frozen=True, slots=True)
class Order:
    field: OrderField = OrderField.SEQUENCE
    descending: bool = True


MAX_FILTER_VALUES = 50


@dataclass(frozen=True, slots=True)
class EventFilter:
    """Conditions that must all hold. ``types`` entries ending in ``.*`` match a prefix."""

    types: tuple[str, ...] | None = None
    sources: tuple[str, ...] | None = None
    actor_id: str | None = None
    actor_type: str | None = None
    target_type: str | None = None
    target_id: str | None = None
    outcome: str | None = None
    correlation_id: str | None = None
    occurred_from: dt.datetime | None = None
    occurred_to: dt.datetime | None = None
    recorded_from: dt.datetime | None = None
    recorded_to: dt.datetime | None = None

    def __post_init__(self) -> None:
        """Every string reaches SQL: valid Unicode, no control characters, lists bounded."""
        for name in ("types", "sources"):
            values = getattr(self, name)
            if values is not None and len(values) > MAX_FILTER_VALUES:
                raise BadUserInput(f"filter.{name} lists {len(values)} values; at most {MAX_FILTER_VALUES} are allowed")
            for value in values or ():
                check_text(value, f"filter.{name}")
        for name in ("actor_id", "actor_type", "target_type", "target_id", "outcome", "correlation_id"):
            if (value := getattr(self, name)) is not None:
                check_text(value, f"filter.{to_camel(name)}")

    def conditions(self) -> list[ColumnElement[bool]]:
        c = events.c
        found: list[ColumnElement[bool]] = []
        if self.types is not None:
            found.append(or_(*(_type_condition(pattern) for pattern in self.types)) if self.types else or_(False))
        if self.sources is not None:
            found.append(c.source.in_(self.sources))
        for column, value in (
            (c.actor_id, self.actor_id),
            (c.actor_type, self.actor_type),
            (c.target_type, self.target_type),
            (c.target_id, self.target_id),
            (c.outcome, self.outcome),
            (c.correlation_id, self.correlation_id),
        ):
            if value is not None:
                found.append(column == value)
        if self.occurred_from is not None:
            found.append(c.occurred_at >= self.occurred_from)
        if self.occurred_to is not None:
            found.append(c.occurred_at < self.occurred_to)
        if self.recorded_from is not None:
            found.append(c.recorded_at >= self.recorded_from)
        if self.recorded_to is not None:
            found.append(c.recorded_at < self.recorded_to)
        return found


def _type_condition(pattern: str) -> ColumnElement[bool]:
    if not pattern.endswith(".*"):
        return events.c.type == pattern
    prefix = pattern[:-1]  # "order.*" → "order."; a range keeps the (tenant, type, sequence) index usable
    upper = prefix[:-1] + chr(ord(prefix[-1]) + 1)
    return and_(events.c.type >= prefix, events.c.type < upper)


@dataclass(frozen=True, slots=True)
class EventQuery:
    """A filtered, ordered view of one tenant's log."""

    filters: tuple[EventFilter, ...] = ()
    order: Order = Order()

    def conditions(self) -> list[ColumnElement[bool]]:
        return [condition for f in self.filters for condition in f.conditions()]

    def digest(self, tenant: str) -> str:
        """Binds a cursor to the tenant, order and filters that produced it.

        Unfiltered, it depends only on the tenant and the order (an enum and a bool): kept per pair, since
        every unfiltered page asks for it. Filters are not keys (equal datetimes in other offsets digest apart).
        """
        order = self.order
        if not self.filters and order.descending.__class__ is bool:
            # The enum's value rather than the enum or the order (their hashes are Python code, ~1 µs).
            key = (tenant, order.field._value_, order.descending)
            found = _UNFILTERED_DIGESTS.get(key)
            if found is None:
                if len(_UNFILTERED_DIGESTS) >= _MAX_UNFILTERED_DIGESTS:
                    _UNFILTERED_DIGESTS.clear()
                found = _UNFILTERED_DIGESTS[key] = self.computed_digest(tenant)
            return found
        return self.computed_digest(tenant)

    def computed_digest(self, tenant: str) -> str:
        """``digest``, computed (its reference)."""
        described = {
            "tenant": tenant,
            "order": [self.order.field.value, self.order.descending],
            "filters": [asdict(f) for f in self.filters],
        }
        text = json.dumps(described, sort_keys=True, default=_jsonable)
        return hashlib.sha256(text.encode()).hexdigest()[:22]


def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    raise TypeError(type(value))


Position = tuple[int] | tuple[dt.datetime, int]
"""A keyset position: ``(sequence,)`` or ``(occurred_at, sequence)``."""


_UNFILTERED_DIGESTS: dict[tuple[str, str, bool], str] = {}
_MAX_UNFILTERED_DIGESTS = 4096


def position_of(record: EventRecord, order: Order) -> Position:
    if order.field is OrderField.OCCURRED_AT:
        return (record.occurred_at, record.sequence)
    return (record.sequence,)


def encode_cursor(position: Position, digest: str) -> str:
    """``{"k":[keys],"q":"digest"}`` (compact JSON, keys as ``isoformat`` text and integers), base64url, no padding.

    Written by hand rather than through ``json.dumps``: a page encodes one per edge. Every part is JSON as is
    (an int, an ``isoformat`` string, the hex digest), so the text is exactly what ``json.dumps`` would write.
    """
    if len(position) == 1:
        raw = f'{{"k":[{int(position[0])}],"q":"{digest}"}}'
    else:
        moment, sequence = position
        raw = f'{{"k":["{moment.isoformat()}",{int(sequence)}],"q":"{digest}"}}'
    return base64.urlsafe_b64encode(raw.encode()).rstrip(b"=").decode()


_URLSAFE = bytes.maketrans(b"+/", b"-_")


def encode_cursors(records: Sequence[EventRecord], order: Order, digest: str) -> list[str]:
    """``encode_cursor(position_of(record, order), digest)`` of each record, in one loop: a page encodes one per
    edge, and base64's helpers were half the cost (``binascii`` and ``translate`` directly, as they do)."""
    b2a, urlsafe = binascii.b2a_base64, _URLSAFE
    if order.field is OrderField.SEQUENCE:
        return [
            b2a(f'{{"k":[{int(record.sequence)}],"q":"{digest}"}}'.encode(), newline=False)
            .translate(urlsafe)
            .rstrip(b"=")
            .decode()
            for record in records
        ]
    return [encode_cursor(position_of(record, order), digest) for record in records]


def decode_cursor(cursor: str, query: EventQuery, tenant: str) -> Position:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        document = json.loads(raw)
        keys, digest = document["k"], document["q"]
    except (binascii.Error, ValueError, TypeError, KeyError, UnicodeDecodeError):
        raise InvalidCursor("the cursor is not one this gateway issued") from None
    if digest != query.digest(tenant):
        raise InvalidCursor("the cursor belongs to another query: use it with the same filter, search and order")
    try:
        sequence = keys[-1]
        if type(sequence) is not int or not 0 <= sequence < 2**63:
            raise ValueError
        if query.order.field is OrderField.OCCURRED_AT:
            moment, _ = keys
            parsed = dt.datetime.fromisoformat(moment)
            if parsed.tzinfo is None:
                raise ValueError
            return (parsed.astimezone(dt.UTC), sequence)
        (_,) = keys
        return (sequence,)
    except (ValueError, TypeError, IndexError, OverflowError):
        raise InvalidCursor("the cursor is not one this gateway issued") from None


def beyond(position: Position, order: Order, *, forward: bool) -> ColumnElement[bool]:
    """Rows strictly after ``position`` in the direction of travel (forward = the query's own order)."""
    ascending = order.descending != forward
    sequence = position[-1]
    seq_beyond = events.c.sequence > sequence if ascending else events.c.sequence < sequence
    if order.field is OrderField.SEQUENCE:
        return seq_beyond
    moment = position[0]
    column = events.c.occurred_at
    # The redundant bound keeps the (tenant, occurred_at, sequence) index usable on both backends.
    bound = column >= moment if ascending else column <= moment
    strictly = column > moment if ascending else column < moment
    return and_(bound, or_(strictly, and_(column == moment, seq_beyond)))
