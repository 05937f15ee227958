"""The hash chain, exactly as DESIGN.md states it, so anyone can recompute it.

``hash = hex(SHA-256(previous_hash_hex_ascii || canonical_bytes))``, where the
canonical bytes are sorted-key, space-free JSON of the event as recorded.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

import orjson

from app.contracts.values import canonical_timestamp
from app.store.records import EventRecord, NewEvent

GENESIS_HASH = "0" * 64


def content(event: NewEvent | EventRecord) -> dict[str, Any]:
    """What the producer said: the part of an event that decides duplicate versus conflict."""
    return _document(event, canonical_timestamp(event.occurred_at))


def _document(event: NewEvent | EventRecord, occurred_at: str | dt.datetime) -> dict[str, Any]:
    has_target = event.target_type is not None
    return {
        "eventId": event.event_id,
        "source": event.source,
        "type": event.type,
        "schemaVersion": event.schema_version,
        "occurredAt": occurred_at,
        "actor": {
            "type": event.actor_type,
            "id": event.actor_id,
            "displayName": event.actor_display_name,
            "ip": event.actor_ip,
            "userAgent": event.actor_user_agent,
        },
        "target": {"type": event.target_type, "id": event.target_id, "displayName": event.target_display_name}
        if has_target
        else None,
        "outcome": event.outcome,
        "correlationId": event.correlation_id,
        "causationId": event.causation_id,
        "traceparent": event.traceparent,
        "data": event.data,
    }


def _instant(value: dt.datetime) -> str | dt.datetime:
    """``occurredAt`` for ``canonical_json``: the UTC instant itself where orjson writes ``canonical_timestamp``'s
    text (microseconds not 0: ``2026-03-01T10:30:15.123456Z``), else that text. orjson formats in Rust what
    ``canonical_timestamp`` formats in Python (~3% of the server's CPU per event in a batch of 1,000);
    tests/store/test_chain_encoding.py compares both over every year, offset and edge of the microseconds.
    """
    u = value if value.tzinfo is dt.UTC else value.astimezone(dt.UTC)
    return u if u.microsecond else canonical_timestamp(u)


def canonical_bytes(event: NewEvent | EventRecord, *, tenant: str, sequence: int, recorded_at: dt.datetime) -> bytes:
    document = _document(event, _instant(event.occurred_at))  # a fresh dict: completed in place, not copied
    document["tenant"] = tenant
    document["sequence"] = sequence
    document["recordedAt"] = _recorded_text(recorded_at)
    return canonical_json(document)


_last_recorded: tuple[dt.datetime, str] | None = None


def _recorded_text(recorded_at: dt.datetime) -> str:
    """``canonical_timestamp`` of a batch's one ``recordedAt``, written once per batch rather than per event."""
    global _last_recorded
    last = _last_recorded
    if last is not None and last[0] is recorded_at:
        return last[1]
    text = canonical_timestamp(recorded_at)
    _last_recorded = (recorded_at, text)
    return text


SEQUENCE_SLOT = b',"sequence":'
"""What precedes the sequence's digits in the canonical bytes: keys are sorted, so ``"schemaVersion"`` comes
before it and ``"source"`` (always a string) right after it."""


def canonical_parts(event: NewEvent, *, tenant: str, recorded_at: dt.datetime) -> tuple[bytes, bytes]:
    """The canonical bytes around the sequence: ``prefix + str(sequence).encode() + suffix`` is exactly
    ``canonical_bytes(..., sequence=sequence)``, for the store to complete once it holds the tenant's head.

    The last ``,"sequence":0,"source":`` is the top-level key: ``data`` comes before it, and what follows it
    (strings, whose quotes are escaped, and ``target``'s three fixed keys) cannot hold that text.
    """
    canonical = canonical_bytes(event, tenant=tenant, sequence=0, recorded_at=recorded_at)
    at = canonical.rfind(SEQUENCE_SLOT + b'0,"source":')
    if at < 0:  # cannot happen for an event document; refuse rather than hash something else
        raise ValueError("no top-level sequence in the canonical bytes")
    digits = at + len(SEQUENCE_SLOT)
    return canonical[:digits], canonical[digits + 1 :]


def canonical_json(document: dict[str, Any]) -> bytes:
    """The recipe's ``json.dumps(sort_keys=True, separators=(",", ":"), ensure_ascii=False)`` as UTF-8, an
    instant (``_instant``) written as its ``canonical_timestamp``.

    orjson writes the same bytes for what an event holds (str, int within 64 bits, bool, None, lists and
    str-keyed dicts, UTC instants with microseconds; tests/store/test_chain_encoding.py compares them) several
    times faster; anything it refuses, such as a wider integer, goes through the stdlib recipe itself.
    """
    try:
        return orjson.dumps(document, option=orjson.OPT_SORT_KEYS | orjson.OPT_UTC_Z)
    except TypeError:
        return json.dumps(
            document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_timestamp_text
        ).encode("utf-8")


def _timestamp_text(value: object) -> str:
    if isinstance(value, dt.datetime):
        return canonical_timestamp(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


def record_canonical(record: EventRecord) -> bytes:
    return canonical_bytes(record, tenant=record.tenant, sequence=record.sequence, recorded_at=record.recorded_at)


def link(previous_hash: str, canonical: bytes) -> str:
    return hashlib.sha256(previous_hash.encode("ascii") + canonical).hexdigest()
