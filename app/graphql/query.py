"""Read-side root fields. Each one checks the caller, then hands over to the store."""

from __future__ import annotations

import asyncio
import datetime as dt

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
from app.store.search import parse_search
from app.store.verify import verify_chain

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
        order = order_by.to_order() if order_by else Order(descending=False)
        query = EventQuery(filters=(EventFilter(correlation_id=self.id),), order=order)
        return await paginate(info, query, first=first, after=after, last=last, before=before)


async def _nodes(info: Info[Context, None], ids: list[strawberry.ID]) -> list[Node | None]:
    reader = info.context.reader
    wanted = [parse_node_id(node_id) for node_id in ids]
    sequences = [key[1] for key in wanted if key is not None and key[0] == reader.tenant]
    found = await asyncio.gather(*(info.context.loaders.by_sequence.load(s) for s in sequences))
    loaded = dict(zip(sequences, found, strict=True))
    records = [loaded.get(key[1]) if key is not None and key[0] == reader.tenant else None for key in wanted]
    return [to_event(record) if record else None for record in records]


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
        if len(ids) > MAX_NODE_IDS:
            raise LimitExceeded(f"nodes takes at most {MAX_NODE_IDS} ids, got {len(ids)}")
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
        filters = tuple(
            f for f in (filter.to_filter() if filter else None, parse_search(search) if search else None) if f
        )
        query = EventQuery(filters=filters, order=order_by.to_order() if order_by else Order())
        return await paginate(info, query, first=first, after=after, last=last, before=before)

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
        summaries = await info.context.reader.correlation_summaries([check_text(id, "id")])
        summary = summaries.get(id)
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
