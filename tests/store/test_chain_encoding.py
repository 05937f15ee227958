"""The canonical bytes are DESIGN.md's recipe, byte for byte, however ``app.store.chain`` writes them.

The recipe: ``json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)`` as UTF-8, every
instant as ``canonical_timestamp``. ``canonical_bytes`` writes it with orjson (instants with microseconds
formatted by orjson itself), and falls back to the stdlib for what orjson refuses. The corpus: every tricky
string of the append-path tests as key and value and in each text column, wide integers, nested data that
imitates the envelope's keys, occurredAt over every year, offset and microsecond edge, and a seeded random
corpus from the benchmark generator.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import random
from typing import Any

import pytest

from app.contracts.values import canonical_timestamp
from app.store.chain import canonical_bytes, canonical_parts, content
from app.store.records import NewEvent
from scripts import generate
from tests.store.test_append_paths import TRICKY_STRINGS, event, handmade

OFFSETS = [dt.UTC, *(dt.timezone(dt.timedelta(minutes=m)) for m in (-1439, -570, -1, 1, 330, 1439))]
RECORDED = [
    dt.datetime(2026, 11, 26, 19, 0, 0, 123456, tzinfo=dt.UTC),
    dt.datetime(2026, 11, 26, 19, 0, 0, tzinfo=dt.UTC),
    dt.datetime(1, 1, 1, 0, 0, 0, 1, tzinfo=dt.UTC),
]


def recipe(event: NewEvent, *, tenant: str, sequence: int, recorded_at: dt.datetime) -> bytes:
    """DESIGN.md's canonical document, built field by field and written by the stdlib."""
    document: dict[str, Any] = {
        "tenant": tenant,
        "sequence": sequence,
        "eventId": event.event_id,
        "source": event.source,
        "type": event.type,
        "schemaVersion": event.schema_version,
        "occurredAt": canonical_timestamp(event.occurred_at),
        "recordedAt": canonical_timestamp(recorded_at),
        "actor": {
            "type": event.actor_type,
            "id": event.actor_id,
            "displayName": event.actor_display_name,
            "ip": event.actor_ip,
            "userAgent": event.actor_user_agent,
        },
        "target": None
        if event.target_type is None
        else {"type": event.target_type, "id": event.target_id, "displayName": event.target_display_name},
        "outcome": event.outcome,
        "correlationId": event.correlation_id,
        "causationId": event.causation_id,
        "traceparent": event.traceparent,
        "data": event.data,
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def moments() -> list[dt.datetime]:
    """The edges (years 1, 999, 1000, 9999; microseconds 0, 1, 10, 999999; offsets that cross a day or a year;
    ``fold``) and a seeded sample of the whole range, in every offset."""
    found = [
        dt.datetime(year, month, day, hour, minute, second, micro, tzinfo=zone)
        for year, month, day in ((1, 1, 2), (999, 12, 31), (1000, 1, 1), (1970, 1, 1), (2024, 2, 29), (9999, 12, 30))
        for hour, minute, second in ((0, 0, 0), (23, 59, 59))
        for micro in (0, 1, 10, 999999)
        for zone in OFFSETS
    ]
    found += [dt.datetime(1, 1, 1, tzinfo=dt.UTC), dt.datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=dt.UTC)]
    found += [dt.datetime(2026, 11, 1, 1, 30, fold=1, tzinfo=dt.timezone(dt.timedelta(hours=-4)))]
    rng = random.Random(5)
    start = dt.datetime(1, 1, 2, tzinfo=dt.UTC)
    span = (dt.datetime(9999, 12, 30, tzinfo=dt.UTC) - start) // dt.timedelta(microseconds=1)
    for _ in range(3000):
        moment = start + dt.timedelta(microseconds=rng.randrange(span))
        if rng.random() < 0.2:
            moment = moment.replace(microsecond=0)
        found.append(moment.astimezone(rng.choice(OFFSETS)))
    return found


def corpus() -> list[NewEvent]:
    events = [each for batch in handmade(["t-a", "t-b", "t-c"]) for each in batch]
    events += [event("t-a", f"text-{i}", full=True, actor_display_name=s or None) for i, s in enumerate(TRICKY_STRINGS)]
    events += [
        event("t-a", "keys", data={"sequence": 0, "source": "x", "z": {"recordedAt": "y", "": [None, True, 1.5]}})
    ]
    events += [event("t-b", f"at-{i}", occurred_at=moment) for i, moment in enumerate(moments())]
    events += list(generate.new_events(2000, ["t-a", "t-b"], seed=11))
    return events


@pytest.mark.parametrize("recorded_at", RECORDED, ids=canonical_timestamp)
def test_canonical_bytes_are_the_design_recipe(recorded_at: dt.datetime) -> None:
    checked = 0
    for each in corpus():
        for sequence in (1, 10**18):
            expected = recipe(each, tenant=each.tenant, sequence=sequence, recorded_at=recorded_at)
            assert canonical_bytes(each, tenant=each.tenant, sequence=sequence, recorded_at=recorded_at) == expected
            prefix, suffix = canonical_parts(each, tenant=each.tenant, recorded_at=recorded_at)
            assert prefix + str(sequence).encode() + suffix == expected
            checked += 1
    assert checked > 2 * 5000


def test_the_stdlib_fallback_writes_instants_as_the_recipe() -> None:
    """A wide integer makes orjson refuse the document: the stdlib writes it, occurredAt included."""
    for moment in moments()[:200]:
        wide = event("t-a", "wide", data={"big": 2**70}, occurred_at=moment)
        expected = recipe(wide, tenant="t-a", sequence=3, recorded_at=RECORDED[0])
        assert canonical_bytes(wide, tenant="t-a", sequence=3, recorded_at=RECORDED[0]) == expected


def _elsewhere(moment: dt.datetime) -> dt.datetime:
    """The same instant in another offset (one that keeps it within years 1-9999)."""
    for hours in (5, -5, 0):
        zone = dt.timezone(dt.timedelta(hours=hours))
        if zone != moment.tzinfo:
            try:
                return moment.astimezone(zone)
            except OverflowError:
                continue
    raise AssertionError(moment)


def test_content_depends_on_the_instant_not_its_offset() -> None:
    """Duplicate or conflict is decided on ``content``: the same instant in another offset is the same event."""
    for moment in moments()[:500]:
        here = event("t-a", "e", occurred_at=moment)
        elsewhere = dataclasses.replace(here, occurred_at=_elsewhere(moment))
        try:
            other = moment + dt.timedelta(microseconds=1)
        except OverflowError:  # the last microsecond of year 9999
            other = moment - dt.timedelta(microseconds=1)
        later = dataclasses.replace(here, occurred_at=other)
        assert content(here) == content(elsewhere)
        assert content(here) != content(later)
        assert isinstance(content(here)["occurredAt"], str)
