"""The event types: the ``AuditEvent`` envelope interface and one object type per contract."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, TypeAlias, Union

import strawberry
from strawberry.types import Info

from app.contracts import envelope
from app.contracts.declare import Contract
from app.contracts.registry import BY_NAME, CURRENT, PREVIOUS, decode
from app.contracts.values import BigInt
from app.graphql import contract_types as d
from app.graphql.context import Context
from app.graphql.contract_types import DATA_TYPES
from app.graphql.pacing import paced
from app.store.chain import record_canonical
from app.store.records import EventRecord


@strawberry.interface(description="An object with a globally unique id, refetchable through `node`.")
class Node:
    id: strawberry.ID


@strawberry.type(description="Hash-chain link of an event: hash = SHA-256(previousHash || canonical).")
class Integrity:
    hash: str
    previous_hash: str
    canonical: str = strawberry.field(
        description="The exact canonical JSON that was hashed: the event as recorded, before any upcast."
    )


def node_id(tenant: str, sequence: int) -> str:
    """``base64.urlsafe_b64encode`` of ``AuditEvent:tenant:sequence``, through its two steps directly (one per event
    served)."""
    return binascii.b2a_base64(f"AuditEvent:{tenant}:{sequence}".encode(), newline=False).translate(_URLSAFE).decode()


_URLSAFE = bytes.maketrans(b"+/", b"-_")


def parse_node_id(value: str) -> tuple[str, int] | None:
    """``(tenant, sequence)`` of an event id, or None for anything else."""
    try:
        kind, tenant, sequence = base64.urlsafe_b64decode(value.encode("ascii")).decode().split(":")
        number = int(sequence)
    except (binascii.Error, UnicodeError, ValueError):
        return None
    return (tenant, number) if kind == "AuditEvent" and 0 < number < 2**63 else None


@strawberry.interface(description="The envelope every audit event carries, whatever its type.")
class AuditEvent(Node):
    event_id: str = strawberry.field(description="The producer's id for the event; unique within a tenant.")
    tenant: str
    source: str = strawberry.field(description="The producing service.")
    type: str = strawberry.field(description='The contract name, e.g. "order.placed".')
    schema_version: int = strawberry.field(description="Version of the contract the event is served in.")
    sequence: BigInt = strawberry.field(description="Position in the tenant's log; strictly increasing.")
    occurred_at: dt.datetime
    recorded_at: dt.datetime
    actor: d.Actor
    target: d.Target | None
    outcome: envelope.Outcome
    correlation_id: str | None
    causation_id: str | None = strawberry.field(description="eventId of the event that directly caused this one.")
    traceparent: str | None = strawberry.field(description="The W3C traceparent given at ingestion, as given.")
    trace_id: str | None = strawberry.field(description="The trace id part of traceparent.")
    record: strawberry.Private[EventRecord]

    @strawberry.field(
        description="The event named by causationId, or null (batched: no N+1). When several sources use that "
        "eventId: the one from this event's source, else the earliest recorded."
    )
    async def caused_by(
        self, info: Info[Context, None]
    ) -> Annotated[AuditEventUnion, strawberry.lazy("app.graphql.events")] | None:
        if self.causation_id is None:
            return None
        record = await info.context.loaders.cause.load((self.causation_id, self.source))
        return to_event(record) if record else None

    @strawberry.field(description="Events whose causedBy is this event, oldest first (batched).")
    async def effects(
        self, info: Info[Context, None], first: int = 50
    ) -> list[Annotated[AuditEventUnion, strawberry.lazy("app.graphql.events")]]:
        records = await info.context.loaders.effects.load(
            ((self.event_id, self.source, self.record.sequence), info.context.bounded(first))
        )
        return await paced(info.context.pacer, records, to_event)

    @strawberry.field(description="Other events with the same correlationId, oldest first (batched).")
    async def correlated(
        self, info: Info[Context, None], first: int = 50
    ) -> list[Annotated[AuditEventUnion, strawberry.lazy("app.graphql.events")]]:
        if self.correlation_id is None:
            return []
        limit = info.context.bounded(first)
        records = await info.context.loaders.correlated.load((self.correlation_id, limit + 1))
        others = [record for record in records if record.sequence != self.sequence][:limit]
        return await paced(info.context.pacer, others, to_event)

    @strawberry.field
    def integrity(self) -> Integrity:
        record = self.record
        return Integrity(
            hash=record.hash,
            previous_hash=record.previous_hash,
            canonical=record_canonical(record).decode("utf-8"),
        )


def _description(contract: Contract) -> str:
    """``order.placed v2: An order was placed… Stored v1 events are served as v2: <the upcaster's first line>``"""
    text = f"{contract.name} v{contract.version}: {contract.description}"
    for older in PREVIOUS:
        if older.name == contract.name and older.upcast is not None:
            how = (older.upcast.__doc__ or "").strip().splitlines()[0]
            text += f" Stored v{older.version} events are served as v{older.version + 1}: {how}"
    return text


def _event_type(contract: Contract) -> type[AuditEvent]:
    """The contract's event type: the ``AuditEvent`` envelope plus its ``data``."""
    shell = type(
        contract.graphql_type,
        (AuditEvent,),
        {"__annotations__": {"data": DATA_TYPES[contract.name]}, "__module__": __name__},
    )
    return strawberry.type(shell, description=_description(contract))


EVENT_TYPES: dict[str, type[AuditEvent]] = {c.graphql_type: _event_type(c) for c in CURRENT}
"""GraphQL type name → event type, one per current contract, in catalog order."""

if TYPE_CHECKING:
    AuditEventUnion: TypeAlias = AuditEvent
else:
    # The members come from the catalog, so the union is built at run time; to a type checker it is an AuditEvent.
    AuditEventUnion = Annotated[Union[tuple(EVENT_TYPES.values())], strawberry.union("AuditEventUnion")]  # noqa: UP007


def to_event(record: EventRecord) -> AuditEvent:
    """A stored row as its GraphQL type, its data upcast to the current contract version."""
    contract = BY_NAME[record.type]
    target = None
    if record.target_type is not None and record.target_id is not None:
        target = envelope.Target.model_construct(
            type=record.target_type, id=record.target_id, display_name=record.target_display_name
        )
    event_type: Callable[..., AuditEvent] = EVENT_TYPES[contract.graphql_type]  # AuditEvent plus its ``data``
    return event_type(
        id=strawberry.ID(node_id(record.tenant, record.sequence)),
        event_id=record.event_id,
        tenant=record.tenant,
        source=record.source,
        type=record.type,
        schema_version=contract.version,
        sequence=BigInt(record.sequence),
        occurred_at=record.occurred_at,
        recorded_at=record.recorded_at,
        actor=envelope.Actor.model_construct(
            type=envelope.ActorType(record.actor_type),
            id=record.actor_id,
            display_name=record.actor_display_name,
            ip=record.actor_ip,
            user_agent=record.actor_user_agent,
        ),
        target=target,
        outcome=envelope.Outcome(record.outcome),
        correlation_id=record.correlation_id,
        causation_id=record.causation_id,
        traceparent=record.traceparent,
        trace_id=envelope.trace_id(record.traceparent),
        record=record,
        data=decode(record.type, record.schema_version, record.data),
    )
