"""The search language: ``key:value`` terms, ANDed, parsed into an ``EventFilter``.

>>> parse_search("type:order.* actor:u_42 outcome:failure occurred:>=2026-01-01").types
('order.*',)

Keys: ``type`` and ``source`` (repeatable: any of them matches), ``actor``,
``actor.type``, ``target`` (``type/id`` or ``type``), ``outcome``, ``correlation``,
``occurred`` and ``recorded`` (with ``>=``, ``>``, ``<``, ``<=`` or ``=`` before
a date ``2026-01-01`` or an instant ``2026-01-01T10:00:00Z``; a bare date
means that whole UTC day).
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import replace
from typing import TypeVar

from app.contracts.envelope import ActorType, Outcome
from app.contracts.values import check_text
from app.errors import BadUserInput
from app.store.event_query import EventFilter

MAX_TERMS = 30
_ONE_MICROSECOND = dt.timedelta(microseconds=1)


def parse_search(text: str) -> EventFilter:
    check_text(text, "search")
    terms = text.split()
    if len(terms) > MAX_TERMS:
        raise BadUserInput(f"search has {len(terms)} terms; at most {MAX_TERMS} are allowed")
    found = EventFilter()
    seen: set[str] = set()
    for term in terms:
        key, colon, value = term.partition(":")
        if not colon or not value:
            raise BadUserInput(f"search term {term!r} is not key:value (e.g. type:order.* or actor:u_42)")
        if key in seen and key not in ("type", "source", "occurred", "recorded"):
            raise BadUserInput(f"search term {term!r}: {key} is given twice")
        seen.add(key)
        found = _apply(found, key, value, term)
    return found


def _apply(found: EventFilter, key: str, value: str, term: str) -> EventFilter:
    match key:
        case "type":
            return replace(found, types=(*(found.types or ()), value))
        case "source":
            return replace(found, sources=(*(found.sources or ()), value))
        case "actor":
            return replace(found, actor_id=value)
        case "actor.type":
            return replace(found, actor_type=_enum(ActorType, value, term).value)
        case "target":
            target_type, slash, target_id = value.partition("/")
            if slash and not (target_type and target_id):
                raise BadUserInput(f"search term {term!r}: write target:TYPE/ID or target:TYPE")
            return replace(found, target_type=target_type, target_id=target_id or None)
        case "outcome":
            return replace(found, outcome=_enum(Outcome, value, term).value)
        case "correlation":
            return replace(found, correlation_id=value)
        case "occurred":
            low, high = _range(value, term, found.occurred_from, found.occurred_to)
            return replace(found, occurred_from=low, occurred_to=high)
        case "recorded":
            low, high = _range(value, term, found.recorded_from, found.recorded_to)
            return replace(found, recorded_from=low, recorded_to=high)
    raise BadUserInput(
        f"search term {term!r}: unknown key {key!r}; use type, source, actor, actor.type, target, "
        "outcome, correlation, occurred or recorded"
    )


E = TypeVar("E", bound=enum.Enum)


def _enum(kind: type[E], value: str, term: str) -> E:
    try:
        return kind[value.upper()]
    except KeyError:
        names = ", ".join(member.name.lower() for member in kind)
        raise BadUserInput(f"search term {term!r}: {value!r} is not one of {names}") from None


def _range(
    value: str, term: str, low: dt.datetime | None, high: dt.datetime | None
) -> tuple[dt.datetime | None, dt.datetime | None]:
    for operator in (">=", "<=", ">", "<", "="):
        if value.startswith(operator):
            text = value[len(operator) :]
            break
    else:
        operator, text = "=", value
    start, whole_day = _instant(text, term)
    end = None
    if operator in (">", "<=", "="):  # only these need the instant just after the given one (or day)
        try:
            end = start + (dt.timedelta(days=1) if whole_day else _ONE_MICROSECOND)
        except OverflowError:
            raise BadUserInput(f"search term {term!r}: the time is outside the years 1-9999") from None
    bounds = {">=": (start, None), ">": (end, None), "<": (None, start), "<=": (None, end), "=": (start, end)}
    new_low, new_high = bounds[operator]
    if new_low is not None:
        low = new_low if low is None else max(low, new_low)
    if new_high is not None:
        high = new_high if high is None else min(high, new_high)
    return low, high


def _instant(text: str, term: str) -> tuple[dt.datetime, bool]:
    try:
        if len(text) == 10:
            return dt.datetime.combine(dt.date.fromisoformat(text), dt.time(), dt.UTC), True
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise BadUserInput(f"search term {term!r}: write a date 2026-01-01 or an instant 2026-01-01T10:00:00Z")
    try:
        return moment.astimezone(dt.UTC), False
    except OverflowError:
        raise BadUserInput(f"search term {term!r}: the time is outside the years 1-9999") from None
