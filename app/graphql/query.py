"""Read-side root fields. Each one checks the caller, then hands over to the store."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING

import strawberry
from strawberry.types import Info

from app.auth.principal import Scope
from app.contracts.values import BigInt, check_text
from app.errors import LimitExceeded
from app.graphql.catalog import CATALOG, EventTypeInfo
from app.graphql.connection import AuditEventConnection, AuditEventFilter, AuditEventOrder, paginate
from app.graphql.context import Context
from app.graphql.events import AuditEventUnion, Node, parse_node_id, to_event
from app.store.event_query import EventFilter, EventQuery, Order
from app.store.read import CorrelationSummary
from app.store.records import EventRecord
from app.store.search import parse_search
from app.store.verify import verify_chain

if TYPE_CHECKING:
    from app.graphql.context import Context

MAX_NODE_IDS = 500


@strawberry.type
class IntegrityReport:
    tenant: str
    ok: bool
    checked_count: int
    first_broken_sequence: BigInt | None = strawberry.field(
        description="First sequence whose hash does not match, or null when ok."
    )
    head_sequence: BigInt | None
    head_hash: str | None


@strawberry.type
class Correlation:
    id: str
    event_count: int
    first_occurred_at: dt.datetime
    last_occurred_at: dt.datetime
    sources: list[str]

    @strawberry.field(description="The correlated events, oldest first by default.")
    async def events(
        self,
        info: Info[Context, None],
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        order_by: AuditEventOrder | None = None,
    ) -> AuditEventConnection:
        query = correlation_query(self.id, order_by)
        return await paginate(info, query, first=first, after=after, last=last, before=before)


async def node_records(context: Context, ids: Sequence[str]) -> list[EventRecord | None]:
    """The events behind node ids, in order; None for an id that is not an event of the caller's tenant."""
    reader = context.reader
    wanted = [parse_node_id(node_id) for node_id in ids]
    sequences = [key[1] for key in wanted if key is not None and key[0] == reader.tenant]
    found = await asyncio.gather(*(context.loaders.by_sequence.load(s) for s in sequences))
    loaded = dict(zip(sequences, found, strict=True))
    return [loaded.get(key[1]) if key is not None and key[0] == reader.tenant else None for key in wanted]


def check_node_ids(ids: Sequence[str]) -> None:
    if len(ids) > MAX_NODE_IDS:
        raise LimitExceeded(f"nodes takes at most {MAX_NODE_IDS} ids, got {len(ids)}")


def events_query(filter: AuditEventFilter | None, search: str | None, order_by: AuditEventOrder | None) -> EventQuery:
    """What ``events(filter, search, orderBy)`` reads (shared with the compiled executor)."""
    filters = tuple(f for f in (filter.to_filter() if filter else None, parse_search(search) if search else None) if f)
    return EventQuery(filters=filters, order=order_by.to_order() if order_by else Order())


def correlation_query(correlation_id: str, order_by: AuditEventOrder | None) -> EventQuery:
    """What ``correlation { events(orderBy) }`` reads: oldest first unless ordered otherwise."""
    order = order_by.to_order() if order_by else Order(descending=False)
    return EventQuery(filters=(EventFilter(correlation_id=correlation_id),), order=order)


async def correlation_summary(context: Context, correlation_id: str) -> CorrelationSummary | None:
    summaries = await context.reader.correlation_summaries([check_text(correlation_id, "id")])
    return summaries.get(correlation_id)


async def _nodes(info: Info[Context, None], ids: list[strawberry.ID]) -> list[Node | None]:
    return [to_event(record) if record else None for record in await node_records(info.context, ids)]


def _big(sequence: int | None) -> BigInt | None:
    return None if sequence is None else BigInt(sequence)


@strawberry.type
class Query:
    @strawberry.field
    async def node(self, info: Info[Context, None], id: strawberry.ID) -> Node | None:
        info.context.require(Scope.READ)
        (found,) = await _nodes(info, [id])
        return found

    @strawberry.field
    async def nodes(self, info: Info[Context, None], ids: list[strawberry.ID]) -> list[Node | None]:
        info.context.require(Scope.READ)
        check_node_ids(ids)
        return await _nodes(info, ids)

    @strawberry.field(
        description="The audit log, newest first by default. `search` is a query string such as "
        "'type:order.* actor:u_42 outcome:failure occurred:>=2026-01-01'; it is combined (AND) with `filter`."
    )
    async def events(
        self,
        info: Info[Context, None],
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        filter: AuditEventFilter | None = None,
        search: str | None = None,
        order_by: AuditEventOrder | None = None,
    ) -> AuditEventConnection:
        info.context.require(Scope.READ)
        return await paginate(
            info, events_query(filter, search, order_by), first=first, after=after, last=last, before=before
        )

    @strawberry.field(
        description="One event by the producer's eventId; when several sources use that id, the earliest recorded."
    )
    async def event(self, info: Info[Context, None], event_id: str) -> AuditEventUnion | None:
        info.context.require(Scope.READ)
        record = await info.context.loaders.by_event_id.load(check_text(event_id, "eventId"))
        return to_event(record) if record else None

    @strawberry.field(description="Everything that happened under one correlation id; null when none.")
    async def correlation(self, info: Info[Context, None], id: str) -> Correlation | None:
        info.context.require(Scope.READ)
        summary = await correlation_summary(info.context, id)
        if summary is None:
            return None
        return Correlation(
            id=summary.correlation_id,
            event_count=summary.event_count,
            first_occurred_at=summary.first_occurred_at,
            last_occurred_at=summary.last_occurred_at,
            sources=summary.sources,
        )

    @strawberry.field(description="The catalog of event contracts.")
    def event_types(self, info: Info[Context, None]) -> list[EventTypeInfo]:
        info.context.require(Scope.READ)
        return CATALOG

    @strawberry.field(description="Recompute the tenant's hash chain over a range of sequences.")
    async def verify_integrity(
        self, info: Info[Context, None], from_sequence: BigInt | None = None, to_sequence: BigInt | None = None
    ) -> IntegrityReport:
        tenant = info.context.reader.tenant
        report = await verify_chain(
            info.context.engine, tenant, from_sequence, to_sequence, max_range=info.context.settings.max_verify_range
        )
        return IntegrityReport(
            tenant=report.tenant,
            ok=report.ok,
            checked_count=report.checked_count,
            first_broken_sequence=_big(report.first_broken_sequence),
            head_sequence=_big(report.head_sequence),
            head_hash=report.head_hash,
        )
