"""The event types: the ``AuditEvent`` envelope interface and one object type per contract."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from typing import Annotated, Union

import strawberry
from strawberry.types import Info

from app.contracts import BY_NAME, decode, envelope
from app.contracts.values import BigInt
from app.graphql import data as d
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
    return base64.urlsafe_b64encode(f"AuditEvent:{tenant}:{sequence}".encode()).decode()


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
    outcome: d.Outcome
    correlation_id: str | None
    causation_id: str | None = strawberry.field(description="eventId of the event that directly caused this one.")
    traceparent: str | None = strawberry.field(description="The W3C traceparent given at ingestion, as given.")
    trace_id: str | None = strawberry.field(description="The trace id part of traceparent.")
    record: strawberry.Private[EventRecord]

    @strawberry.field(description="The event named by causationId, or null (batched: no N+1).")
    async def caused_by(self, info: Info) -> Annotated[AuditEventUnion, strawberry.lazy("app.graphql.events")] | None:
        if self.causation_id is None:
            return None
        record = await info.context.loaders.by_event_id.load(self.causation_id)
        return to_event(record) if record else None

    @strawberry.field(description="Events whose causationId is this event's eventId, oldest first (batched).")
    async def effects(
        self, info: Info, first: int = 50
    ) -> list[Annotated[AuditEventUnion, strawberry.lazy("app.graphql.events")]]:
        records = await info.context.loaders.effects.load((self.event_id, info.context.bounded(first)))
        return await paced(info.context.pacer, records, to_event)

    @strawberry.field(description="Other events with the same correlationId, oldest first (batched).")
    async def correlated(
        self, info: Info, first: int = 50
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


@strawberry.type(description="user.signed_in: a user started a session.")
class UserSignedIn(AuditEvent):
    data: d.UserSignedInData


@strawberry.type(description="user.sign_in_failed: a sign-in attempt was refused.")
class UserSignInFailed(AuditEvent):
    data: d.UserSignInFailedData


@strawberry.type(description="role.granted: a role was granted to a principal.")
class RoleGranted(AuditEvent):
    data: d.RoleGrantedData


@strawberry.type(description="role.revoked: a role was taken away from a principal.")
class RoleRevoked(AuditEvent):
    data: d.RoleRevokedData


@strawberry.type(description="api_key.created: an API key was issued.")
class ApiKeyCreated(AuditEvent):
    data: d.ApiKeyCreatedData


@strawberry.type(description="api_key.revoked: an API key was revoked.")
class ApiKeyRevoked(AuditEvent):
    data: d.ApiKeyRevokedData


@strawberry.type(description="order.placed: an order was placed (v1 events are served as v2, channel WEB).")
class OrderPlaced(AuditEvent):
    data: d.OrderPlacedData


@strawberry.type(description="payment.captured: money was taken for an order.")
class PaymentCaptured(AuditEvent):
    data: d.PaymentCapturedData


@strawberry.type(description="payment.failed: a payment attempt failed.")
class PaymentFailed(AuditEvent):
    data: d.PaymentFailedData


@strawberry.type(description="refund.issued: money was given back for a payment.")
class RefundIssued(AuditEvent):
    data: d.RefundIssuedData


@strawberry.type(description="data.exported: a dataset left the system.")
class DataExported(AuditEvent):
    data: d.DataExportedData


@strawberry.type(description="setting.changed: a configuration setting was changed.")
class SettingChanged(AuditEvent):
    data: d.SettingChangedData


AuditEventUnion = Annotated[
    Union[  # noqa: UP007  (strawberry.union needs a typing.Union here)
        UserSignedIn,
        UserSignInFailed,
        RoleGranted,
        RoleRevoked,
        ApiKeyCreated,
        ApiKeyRevoked,
        OrderPlaced,
        PaymentCaptured,
        PaymentFailed,
        RefundIssued,
        DataExported,
        SettingChanged,
    ],
    strawberry.union("AuditEventUnion"),
]

EVENT_TYPES: dict[str, type[AuditEvent]] = {
    cls.__name__: cls
    for cls in (
        UserSignedIn,
        UserSignInFailed,
        RoleGranted,
        RoleRevoked,
        ApiKeyCreated,
        ApiKeyRevoked,
        OrderPlaced,
        PaymentCaptured,
        PaymentFailed,
        RefundIssued,
        DataExported,
        SettingChanged,
    )
}


def to_event(record: EventRecord) -> AuditEvent:
    """A stored row as its GraphQL type, its data upcast to the current contract version."""
    contract = BY_NAME[record.type]
    has_target = record.target_type is not None
    return EVENT_TYPES[contract.graphql_type](
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
        target=envelope.Target.model_construct(
            type=record.target_type, id=record.target_id, display_name=record.target_display_name
        )
        if has_target
        else None,
        outcome=envelope.Outcome(record.outcome),
        correlation_id=record.correlation_id,
        causation_id=record.causation_id,
        traceparent=record.traceparent,
        trace_id=envelope.trace_id(record.traceparent),
        record=record,
        data=decode(record.type, record.schema_version, record.data),
    )
