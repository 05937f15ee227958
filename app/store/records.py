"""What the store takes in and gives back: flat, frozen mirrors of an events row."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class NewEvent:
    """A validated event, ready to be chained; ``data`` is the contract data as recorded."""

    tenant: str
    event_id: str
    source: str
    type: str
    schema_version: int
    occurred_at: dt.datetime
    actor_type: str
    actor_id: str
    actor_display_name: str | None
    actor_ip: str | None
    actor_user_agent: str | None
    target_type: str | None
    target_id: str | None
    target_display_name: str | None
    outcome: str
    correlation_id: str | None
    causation_id: str | None
    traceparent: str | None
    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class EventRecord:
    """One stored event: the new event plus its place in the tenant's chain."""

    tenant: str
    sequence: int
    event_id: str
    source: str
    type: str
    schema_version: int
    occurred_at: dt.datetime
    recorded_at: dt.datetime
    actor_type: str
    actor_id: str
    actor_display_name: str | None
    actor_ip: str | None
    actor_user_agent: str | None
    target_type: str | None
    target_id: str | None
    target_display_name: str | None
    outcome: str
    correlation_id: str | None
    causation_id: str | None
    traceparent: str | None
    data: dict[str, Any]
    hash: str
    previous_hash: str
