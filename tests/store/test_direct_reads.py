"""The direct read path (``app.store.direct``: asyncpg under SQLAlchemy's compiled statement) gives back exactly
the records the SQLAlchemy path gives, for every reader call, over a corpus of events: every contract (the demo
generator's flows), nulls in every nullable column, unicode, big data, numbers at the edges of JSON.
``loads_json`` (the engines' JSON deserializer) equals ``json.loads`` over a corpus of JSON texts."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
import random
import re
from collections.abc import Awaitable, Callable
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from app.auth.principal import Principal, Scope
from app.demo import SOURCES, flows
from app.ingest import Rejected, Submission, validate
from app.store import direct
from app.store.append import append
from app.store.engine import _DIGIT_MARKS, _LONG_DIGITS, loads_json, loads_jsonb
from app.store.event_query import EventFilter, EventQuery, Order, OrderField, position_of
from app.store.read import TenantReader
from app.store.records import NewEvent
from app.store.tables import events
from tests.helpers import StatementCounter, stored_event, uid

ODD_DATA: list[dict[str, Any]] = [
    {},
    {"text": "Grüße, 日本語, emoji 🎉🏳️‍🌈, combining e\u0301, RTL \u05e9\u05dc\u05d5\u05dd, zero-width \u200b"},
    {"quote": '"\\/\b\f\n\r\t', "nul_escape": "a\u0001b", "null": None, "empty": "", "list": []},
    {"big": 2**63, "bigger": 2**64 + 1, "huge": 10**40, "negative": -(2**63) - 1, "edge": 2**63 - 1},
    {"floats": [0.1, 1e-300, 1.7976931348623157e308, -0.0, 5e-324, 123456789.123456789, 1.0, 2.5e20]},
    {"digits_in_text": "1234567890123456789012345", "nested": {"a": [{"b": [{"c": [1, 2, {"d": None}]}]}]}},
    {"big_text": "x" * 200_000, "many": {f"k{n}": n for n in range(2_000)}},
    {"bools": [True, False], "mixed": [1, "1", 1.5, None, {"": ""}]},
]


def _odd_events(tenant: str, moment: dt.datetime) -> list[NewEvent]:
    """Events of one correlation whose data is ``ODD_DATA`` and whose nullable columns take both values."""
    found = []
    for index, data in enumerate(ODD_DATA):
        event = stored_event(
            tenant=tenant,
            event_id=f"odd_{index}_{uid()}",
            type="order.placed",
            schema_version=1,
            data=data,
            occurred_at=moment + dt.timedelta(microseconds=index * 7),
            correlation_id="corr-odd" if index % 2 else None,
        )
        if index % 3 == 0:
            event = dataclasses.replace(
                event,
                actor_display_name="Zoë 🙂",
                actor_ip="2001:db8::1",
                actor_user_agent="ü" * 300,
                target_type="order",
                target_id="o_ü",
                target_display_name="Ordre n°1",
                traceparent="00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            )
        found.append(event)
    return found


async def _seed(engine: AsyncEngine, tenant: str) -> None:
    principal = Principal("t", "t", frozenset({tenant}), frozenset({Scope.WRITE}), frozenset(SOURCES))
    batch: list[NewEvent] = []
    for flow in flows(120, seed=11):
        for step in flow.steps:
            new = validate(
                Submission(envelope={**step.envelope, "tenant": tenant}, member=step.member, data=step.data), principal
            )
            assert not isinstance(new, Rejected), new
            batch.append(new)
    await append(engine, batch)
    await append(engine, _odd_events(tenant, dt.datetime(2026, 2, 3, 4, 5, 6, 789, tzinfo=dt.UTC)))


async def test_the_direct_path_reads_the_same_records_as_sqlalchemy(
    engine: AsyncEngine, tenant: str, statements: StatementCounter
) -> None:
    await _seed(engine, tenant)
    direct_reader = TenantReader(engine, tenant)
    reference = TenantReader(engine, tenant, direct=False)
    assert direct_reader.direct is (engine.dialect.name == "postgresql") and not reference.direct
    everything = (await reference.page(EventQuery(), size=10_000)).records
    types = {record.type for record in everything}
    assert len(types) >= 12, types  # every contract is in the corpus
    with_cause = [record for record in everything if record.causation_id is not None]
    correlations = sorted({record.correlation_id for record in everything if record.correlation_id})
    middle = everything[len(everything) // 2]
    by_time = EventQuery(order=Order(OrderField.OCCURRED_AT, descending=False))
    ascending = EventQuery(order=Order(OrderField.SEQUENCE, descending=False))
    timed = sorted(everything, key=lambda record: (record.occurred_at, record.sequence))
    filtered = EventQuery(
        filters=(
            EventFilter(
                types=("order.*", "user.signed_in"),
                sources=tuple(SOURCES),
                occurred_from=dt.datetime(2000, 1, 1, tzinfo=dt.UTC),
            ),
        )
    )
    calls: dict[str, Callable[[TenantReader], Awaitable[Any]]] = {
        "page": lambda reader: reader.page(EventQuery(), size=100),
        "page after": lambda reader: reader.page(EventQuery(), size=50, after=position_of(middle, EventQuery().order)),
        "page backward": lambda reader: reader.page(
            by_time, size=30, before=position_of(middle, by_time.order), backward=True
        ),
        "page between": lambda reader: reader.page(
            EventQuery(),
            size=20,
            after=position_of(everything[10], EventQuery().order),
            before=position_of(everything[60], EventQuery().order),
        ),
        "page by time after": lambda reader: reader.page(by_time, size=40, after=position_of(middle, by_time.order)),
        "page by time between, backward": lambda reader: reader.page(
            by_time,
            size=15,
            after=position_of(timed[5], by_time.order),
            before=position_of(timed[-5], by_time.order),
            backward=True,
        ),
        "page ascending, backward": lambda reader: reader.page(
            ascending, size=25, before=position_of(middle, ascending.order), backward=True
        ),
        "page filtered": lambda reader: reader.page(filtered, size=70),
        "page empty": lambda reader: reader.page(EventQuery(filters=(EventFilter(actor_id="nobody"),)), size=5),
        "holders": lambda reader: reader.holders([record.event_id for record in everything[::3]] + ["missing"]),
        "causes": lambda reader: reader.causes([(r.causation_id or "", r.source) for r in with_cause]),
        "effects": lambda reader: reader.effects_of(
            [(record.event_id, record.source, record.sequence) for record in everything[:150]], 3
        ),
        "by_sequences": lambda reader: reader.by_sequences([record.sequence for record in everything] + [10**12]),
        "by_correlation": lambda reader: reader.by_correlation([*correlations, "corr-missing"], 4),
        "count": lambda reader: reader.count(filtered),
    }
    before = dict(direct.PATHS)
    for name, call in calls.items():
        statements.statements.clear()
        expected = await call(reference)
        sent = list(statements.statements)
        statements.statements.clear()
        async with direct_reader.sharing():
            found = await call(direct_reader)
        assert found == expected, name
        if name.startswith("page") and name != "page empty":
            assert found.records, name  # each page variant reads rows
        assert len(statements.statements) == len(sent), (name, statements.statements, sent)
    async with direct_reader.sharing():
        read_direct = (await direct_reader.page(EventQuery(), size=10_000)).records
    assert all(_same(a.data, b.data) for a, b in zip(read_direct, everything, strict=True))  # 1 ≠ 1.0, 0.0 ≠ -0.0
    odd = sorted((r for r in everything if r.event_id.startswith("odd_")), key=lambda record: record.sequence)
    assert len(odd) == len(ODD_DATA) and odd[6].data["many"]["k1999"] == 1999
    assert all(record.occurred_at.tzinfo is dt.UTC and record.recorded_at.tzinfo is dt.UTC for record in everything)
    went_direct = direct.PATHS["direct"] - before.get("direct", 0)
    if engine.dialect.name == "postgresql":
        assert went_direct >= len(calls) - 1  # every events-row statement (count goes through SQLAlchemy)
    else:
        assert went_direct == 0


async def test_in_a_transaction_the_direct_path_steps_aside(engine: AsyncEngine, tenant: str) -> None:
    """A connection with a transaction open (not a reader's) is read through SQLAlchemy, and counted so (on SQLite,
    where the direct path never applies, as well)."""
    await _seed_one(engine, tenant)
    before = direct.PATHS["sqlalchemy"]
    async with engine.begin() as connection:
        await connection.exec_driver_sql("SELECT 1")
        assert await direct.fetch(connection, select(events).where(events.c.tenant == tenant)) is None
    assert direct.PATHS["sqlalchemy"] == before + 1


async def _seed_one(engine: AsyncEngine, tenant: str) -> None:
    moment = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    await append(
        engine,
        [
            stored_event(
                tenant=tenant, event_id=uid(), type="order.placed", schema_version=1, data={}, occurred_at=moment
            )
        ],
    )


def _random_json(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.randrange(9 if depth < 4 else 6)
    if kind == 0:
        return rng.choice([None, True, False])
    if kind == 1:
        return rng.choice([0, -1, 2**31, 2**53 + 1, 2**63 - 1, 2**63, -(2**63), -(2**63) - 1, 2**64, 10**30])
    if kind == 2:
        return rng.randint(-(10 ** rng.randrange(1, 25)), 10 ** rng.randrange(1, 25))
    if kind == 3:
        return rng.choice([0.0, -0.0, 1e-320, 1e308, math.pi, 0.1 + 0.2]) * rng.choice([1, -1, 1e-5, 1e5])
    if kind == 4:
        return struct_float(rng)
    if kind == 5:
        alphabet = 'az09 "\\/\n\t\u00e9\u65e5\U0001f389\u200b\u0001'
        return "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 30)))
    if kind in (6, 7):
        return {f"k{rng.randrange(100)}": _random_json(rng, depth + 1) for _ in range(rng.randrange(0, 6))}
    return [_random_json(rng, depth + 1) for _ in range(rng.randrange(0, 6))]


def struct_float(rng: random.Random) -> float:
    """A float of any bit pattern but NaN and infinity."""
    value = math.inf
    while not math.isfinite(value):
        value = float.fromhex(f"{rng.choice('-+')}0x1.{rng.getrandbits(52):013x}p{rng.randint(-1074, 1023)}")
    return value


def _same(left: Any, right: Any) -> bool:
    """Equal values of equal types (``1 == 1.0`` and ``0.0 == -0.0`` are not enough)."""
    if type(left) is not type(right):
        return False
    if isinstance(left, dict):
        return list(left) == list(right) and all(_same(left[key], right[key]) for key in left)
    if isinstance(left, list):
        return len(left) == len(right) and all(_same(a, b) for a, b in zip(left, right, strict=True))
    if isinstance(left, float):
        return left.hex() == right.hex() or (math.isnan(left) and math.isnan(right))
    return bool(left == right)


TEXTS = [
    "1e400",
    "-1e400",
    "[1e-400]",
    '"\\ud800"',
    '{"a": "\\udfff x"}',
    "123456789012345678901234567890",
    "18446744073709551615",
    "-9223372036854775809",
    "9223372036854775807",
    '{"a": 1, "a": 2}',
    '"1234567890123456789"',
    "0.30000000000000004",
    "1E5",
    "-0",
    "-0.0",
    '{"deep": ' + "[" * 200 + "]" * 200 + "}",
]


def test_loads_json_is_json_loads() -> None:
    rng = random.Random(9)
    texts = [*TEXTS, *(json.dumps(_random_json(rng), ensure_ascii=rng.random() < 0.5) for _ in range(5_000))]
    texts += [json.dumps(data) for data in ODD_DATA]
    for text in texts:
        assert _same(loads_json(text), json.loads(text)), text
        assert _same(loads_json(text.encode()), json.loads(text)), text
        assert _same(loads_jsonb(b"\x01" + text.encode("utf-8", "surrogatepass")), json.loads(text)), text


@given(st.text(alphabet=st.sampled_from([*"0123456789", " ", ",", "é", "٣", "\ud800", "𝟙"]), max_size=60))
def test_the_long_digit_run_test_is_the_regular_expression(text: str) -> None:
    """``loads_json`` leaves a text to ``json.loads`` exactly when ``[0-9]{19}`` finds a run in it (ASCII digits
    only: ``٣`` and ``𝟙`` are digits to ``str.isdigit``, not to JSON), lone surrogates included."""
    marks = text.encode("utf-8", "surrogatepass").translate(_DIGIT_MARKS)
    assert (_LONG_DIGITS in marks) == (re.search(r"[0-9]{19}", text) is not None)
