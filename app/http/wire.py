"""The JSON the HTTP routes answer with: typed shapes (their OpenAPI schemas derive from these) and builders.

Contract data is written with the same rules as GraphQL: camelCase field names,
enums by name, timestamps ``YYYY-MM-DDTHH:MM:SS.ffffffZ``, and ``BigInt`` values
(64-bit, beyond JavaScript's safe integers) as decimal strings, like ``sequence``.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import (
    Any,
    Literal,
    NotRequired,  # pydantic derives schemas from these on Python < 3.12
    get_args,
    get_origin,
)

from pydantic import BaseModel
from typing_extensions import TypedDict

from app.contracts.problems import Problem
from app.contracts.registry import BY_NAME, decode
from app.contracts.values import BigInt, canonical_timestamp
from app.store.records import EventRecord


class ErrorItem(TypedDict):
    message: str
    code: str


class ErrorBody(TypedDict):
    """A request-level problem (400, 401, 403, 404, 413, 415, 422)."""

    errors: list[ErrorItem]


class InputErrorItem(TypedDict):
    path: str
    code: str
    message: str


class ItemResult(TypedDict):
    """The result for one input: ``sequence`` when accepted or duplicate, ``errors`` when rejected."""

    index: int
    status: Literal["accepted", "duplicate", "rejected"]
    eventId: str | None
    sequence: NotRequired[str]
    errors: NotRequired[list[InputErrorItem]]


class RecordAnswer(TypedDict):
    acceptedCount: int
    duplicateCount: int
    rejectedCount: int
    results: list[ItemResult]


class ActorJson(TypedDict):
    type: str
    id: str
    displayName: str | None
    ip: str | None
    userAgent: str | None


class TargetJson(TypedDict):
    type: str
    id: str
    displayName: str | None


class IntegrityJson(TypedDict):
    hash: str
    previousHash: str


class EventJson(TypedDict):
    """A stored event: the envelope as sent, plus where and how it was stored. ``data`` is the contract's."""

    eventId: str
    type: str
    source: str
    occurredAt: str
    actor: ActorJson
    target: TargetJson | None
    outcome: str
    correlationId: str | None
    causationId: str | None
    traceparent: str | None
    tenant: str
    data: dict[str, Any]
    sequence: str
    recordedAt: str
    schemaVersion: int
    integrity: IntegrityJson


class PageInfoJson(TypedDict):
    hasNextPage: bool
    endCursor: str | None


class EventPage(TypedDict):
    events: list[EventJson]
    pageInfo: PageInfoJson


def error_body(code: str, message: str) -> ErrorBody:
    return {"errors": [{"message": message, "code": code}]}


def input_error(problem: Problem, path: tuple[str, ...]) -> InputErrorItem:
    return {"path": ".".join(path), "code": problem.code, "message": problem.message}


def data_json(model: BaseModel) -> dict[str, Any]:
    """A contract model as REST JSON: like ``model_dump(mode="json", by_alias=True)``, BigInt as a string."""
    found: dict[str, Any] = {}
    for name, field in type(model).model_fields.items():
        found[field.alias or name] = _value(getattr(model, name), field.annotation)
    return found


def _value(value: Any, annotation: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, BaseModel):
        return data_json(value)
    if isinstance(value, list | tuple):
        return [_value(element, _item_annotation(annotation)) for element in value]
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dt.datetime):
        return canonical_timestamp(value)
    if is_bigint(annotation):
        return str(value)
    return value


def _item_annotation(annotation: Any) -> Any:
    """``X`` of ``list[X]`` or ``list[X] | None``."""
    if get_origin(annotation) in (list, tuple):
        return get_args(annotation)[0]
    for member in get_args(annotation):
        if get_origin(member) in (list, tuple):
            return get_args(member)[0]
    return None


def is_bigint(annotation: Any) -> bool:
    """``BigInt`` itself, or ``BigInt | None``."""
    if annotation is BigInt:
        return True
    return get_origin(annotation) is not None and BigInt in get_args(annotation)


def event_json(record: EventRecord) -> EventJson:
    """A stored event, its data upcast to the contract's current version (as GraphQL serves it)."""
    contract = BY_NAME[record.type]
    target: TargetJson | None = None
    if record.target_type is not None and record.target_id is not None:
        target = {"type": record.target_type, "id": record.target_id, "displayName": record.target_display_name}
    return {
        "eventId": record.event_id,
        "type": record.type,
        "source": record.source,
        "occurredAt": canonical_timestamp(record.occurred_at),
        "actor": {
            "type": record.actor_type,
            "id": record.actor_id,
            "displayName": record.actor_display_name,
            "ip": record.actor_ip,
            "userAgent": record.actor_user_agent,
        },
        "target": target,
        "outcome": record.outcome,
        "correlationId": record.correlation_id,
        "causationId": record.causation_id,
        "traceparent": record.traceparent,
        "tenant": record.tenant,
        "data": data_json(decode(record.type, record.schema_version, record.data)),
        "sequence": str(record.sequence),
        "recordedAt": canonical_timestamp(record.recorded_at),
        "schemaVersion": contract.version,
        "integrity": {"hash": record.hash, "previousHash": record.previous_hash},
    }
